/*
 * elixir-workers: AtomVM platform adapter for WASI preview1.
 * SPDX-License-Identifier: Apache-2.0
 *
 * The sys_* half of the platform contract (libAtomVM/sys.h) for a WASI
 * reactor that runs one request per instance (the hooks that only say "not
 * here" are in sys_hooks.c):
 *
 * - Single-threaded, no ports, no listeners, no select events: nothing outside
 *   the VM can ever wake a waiting process. The scheduler therefore only asks
 *   us to wait when every process is blocked; if a timer is pending we skip the
 *   monotonic clock forward to it (sleeping would only burn wall time, and on
 *   Cloudflare Workers the clock does not advance during synchronous code, so
 *   a busy wait would never end); if none is, no process can ever run again
 *   and we stop with WASI_EXIT_DEADLOCK rather than hang the host.
 * - Modules come only from the .avm archive given on the command line; there
 *   is no search path on disk.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <avmpack.h>
#include <defaultatoms.h>
#include <globalcontext.h>
#include <list.h>
#include <module.h>
#include <scheduler.h>
#include <sys.h>
#include <term.h>
#include <utils.h>

#include "wasi_platform.h"

/* Nanoseconds the monotonic clock has been moved forward by sys_poll_events.
 * Added to every monotonic reading so timers and erlang:monotonic_time agree. */
static uint64_t monotonic_skip_ns;

void sys_init_platform(GlobalContext *global)
{
    // Nothing to set up: no threads, no event loop, no drivers.
    global->platform_data = NULL;
}

void sys_free_platform(GlobalContext *global)
{
    UNUSED(global);
}

void sys_poll_events(GlobalContext *glb, int timeout_ms)
{
    // Called on every scheduling decision, so once per slice of reductions.
    budget_count_slice(DEFAULT_REDUCTIONS_AMOUNT);
    // Single-threaded, the scheduler asks to wait only when no process is
    // ready: forever when no timer is pending (nothing can ever change), or
    // until the next timer.
    if (timeout_ms == SYS_POLL_EVENTS_WAIT_FOREVER) {
        fprintf(stderr,
            WASI_DIAG "deadlock: every process is waiting for a message and no timer is "
                      "pending, so none can ever run again\n");
        exit(WASI_EXIT_DEADLOCK);
    }
    struct TimerList *timers = &glb->timer_list;
    if (timer_list_is_empty(timers) || timers->next_timer == 0) {
        return;
    }
    uint64_t now = sys_monotonic_time_u64();
    if (timers->next_timer <= now) {
        return;
    }
    uint64_t wait = timers->next_timer - now;
    // timeout_ms is whole milliseconds: a timer due in under 1 ms also arrives
    // as 0, the same value as "do not wait". Jumping such a timer is harmless
    // either way and keeps the loop from spinning on a clock that may not move.
    if (timeout_ms > 0 || wait < sys_monotonic_time_ms_to_u64(1)) {
        monotonic_skip_ns += wait;
    }
}

void sys_time(struct timespec *t)
{
    if (UNLIKELY(clock_gettime(CLOCK_REALTIME, t) != 0)) {
        fprintf(stderr, WASI_DIAG "clock_gettime(CLOCK_REALTIME) failed\n");
        abort();
    }
}

static uint64_t host_monotonic_ns(void)
{
    struct timespec t;
    if (UNLIKELY(clock_gettime(CLOCK_MONOTONIC, &t) != 0)) {
        fprintf(stderr, WASI_DIAG "clock_gettime(CLOCK_MONOTONIC) failed\n");
        abort();
    }
    return (uint64_t) t.tv_sec * 1000000000ULL + (uint64_t) t.tv_nsec;
}

void sys_monotonic_time(struct timespec *t)
{
    uint64_t ns = sys_monotonic_time_u64();
    t->tv_sec = (time_t) (ns / 1000000000ULL);
    t->tv_nsec = (long) (ns % 1000000000ULL);
}

uint64_t sys_monotonic_time_u64(void)
{
    return host_monotonic_ns() + monotonic_skip_ns;
}

uint64_t sys_monotonic_time_ms_to_u64(uint64_t ms)
{
    return ms * 1000000ULL;
}

uint64_t sys_monotonic_time_u64_to_ms(uint64_t t)
{
    return t / 1000000ULL;
}

/* The archive walk in avmpack.c trusts every size field. Check the layout once
 * here (header, then sections of at least 12 bytes that stay inside the file,
 * ending with a zero-size section) so a damaged archive is an error message
 * instead of reads past the buffer. */
static bool avm_layout_is_sound(const uint8_t *data, size_t size, const char *path)
{
    if (!avmpack_is_valid(data, size)) {
        fprintf(stderr, WASI_DIAG "%s: not an AtomVM archive (bad header)\n", path);
        return false;
    }
    size_t offset = 24;
    for (;;) {
        if (size - offset < 12) {
            fprintf(stderr, WASI_DIAG "%s: truncated section header at byte %zu\n", path, offset);
            return false;
        }
        const uint8_t *p = data + offset;
        uint32_t section_size = ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16)
            | ((uint32_t) p[2] << 8) | (uint32_t) p[3];
        if (section_size == 0) {
            return true;
        }
        if (section_size < 12 || section_size % 4 != 0 || section_size > size - offset) {
            fprintf(stderr, WASI_DIAG "%s: section at byte %zu has invalid size %u\n", path,
                offset, (unsigned) section_size);
            return false;
        }
        if (memchr(p + 12, 0, section_size - 12) == NULL) {
            fprintf(stderr, WASI_DIAG "%s: section at byte %zu has no NUL-terminated name\n",
                path, offset);
            return false;
        }
        offset += section_size;
    }
}

enum OpenAVMResult sys_open_avm_from_file(
    GlobalContext *global, const char *path, struct AVMPackData **data)
{
    UNUSED(global);

    // Plain open/fstat/read rather than stdio: the archive goes straight from
    // the host into one buffer of exactly its size, with no stdio buffer copy.
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        fprintf(stderr, WASI_DIAG "cannot open %s: %s\n", path, strerror(errno));
        return AVM_OPEN_CANNOT_OPEN;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size <= 0) {
        fprintf(stderr, WASI_DIAG "cannot read %s: empty or unreadable\n", path);
        close(fd);
        return AVM_OPEN_CANNOT_READ;
    }
    size_t size = (size_t) st.st_size;
    uint8_t *bytes = malloc(size);
    struct InMemoryAVMPack *pack = malloc(sizeof(struct InMemoryAVMPack));
    if (IS_NULL_PTR(bytes) || IS_NULL_PTR(pack)) {
        fprintf(stderr, WASI_DIAG "cannot read %s: out of memory (%zu bytes)\n", path, size);
        free(bytes);
        free(pack);
        close(fd);
        return AVM_OPEN_FAILED_ALLOC;
    }
    size_t done = 0;
    while (done < size) {
        ssize_t n = read(fd, bytes + done, size - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            fprintf(stderr, WASI_DIAG "cannot read %s: %s\n", path,
                n < 0 ? strerror(errno) : "file shorter than its reported size");
            free(bytes);
            free(pack);
            close(fd);
            return AVM_OPEN_CANNOT_READ;
        }
        done += (size_t) n;
    }
    close(fd);

    if (!avm_layout_is_sound(bytes, size, path)) {
        free(bytes);
        free(pack);
        return AVM_OPEN_INVALID;
    }

    // The in-memory pack type frees the bytes together with the pack.
    avmpack_data_init(&pack->base, &in_memory_avm_pack_info);
    pack->base.data = bytes;
    *data = &pack->base;
    return AVM_OPEN_OK;
}
