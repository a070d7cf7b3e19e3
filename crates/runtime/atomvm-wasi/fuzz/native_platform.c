/*
 * elixir-workers: native (host) stand-ins for the WASI adapter, used only by
 * the JSON NIF fuzzer (json_fuzz.c, built by `cargo xtask fuzz-nif`).
 * SPDX-License-Identifier: Apache-2.0
 *
 * The fuzzer links AtomVM's core natively, with sanitizers, to run the JSON
 * and HTML NIFs on a real GlobalContext and Context. The adapter's sys.c and platform_nifs.c
 * speak WASI (clocks, the preopened archive, the `respond` import), so this
 * file gives the core the few platform hooks it links against, each doing the
 * least that is true on a host with no scheduler running: no event loop, no
 * archive to open, no native code. The platform NIF table holds exactly the
 * JSON/HTML NIFs, under the names platform_nifs.c registers them by.
 */

#include <stdbool.h>
#include <string.h>
#include <time.h>

#include <defaultatoms.h>
#include <globalcontext.h>
#include <module.h>
#include <nifs.h>
#include <sys.h>
#include <term.h>
#include <utils.h>

#include "json_nif.h"

void sys_init_platform(GlobalContext *global)
{
    global->platform_data = NULL;
}

void sys_free_platform(GlobalContext *global)
{
    UNUSED(global);
}

void sys_poll_events(GlobalContext *glb, int timeout_ms)
{
    UNUSED(glb);
    UNUSED(timeout_ms);
}

void sys_time(struct timespec *t)
{
    clock_gettime(CLOCK_REALTIME, t);
}

void sys_monotonic_time(struct timespec *t)
{
    clock_gettime(CLOCK_MONOTONIC, t);
}

uint64_t sys_monotonic_time_u64(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t) t.tv_sec * 1000000000u + (uint64_t) t.tv_nsec;
}

uint64_t sys_monotonic_time_ms_to_u64(uint64_t ms)
{
    return ms * 1000000u;
}

uint64_t sys_monotonic_time_u64_to_ms(uint64_t t)
{
    return t / 1000000u;
}

enum OpenAVMResult sys_open_avm_from_file(GlobalContext *global, const char *path, struct AVMPackData **data)
{
    UNUSED(global);
    UNUSED(path);
    UNUSED(data);
    return AVM_OPEN_NOT_SUPPORTED;
}

const struct Nif *platform_nifs_get_nif(const char *nifname)
{
    if (strcmp(nifname, "wasi:json_decode/2") == 0) {
        return &json_decode_nif;
    } else if (strcmp(nifname, "wasi:json_encode/1") == 0) {
        return &json_encode_nif;
    } else if (strcmp(nifname, "wasi:html_escape/1") == 0) {
        return &html_escape_nif;
    }
    return NULL;
}
