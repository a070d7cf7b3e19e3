/*
 * elixir-workers: AtomVM platform adapter for WASI preview1.
 * SPDX-License-Identifier: Apache-2.0
 *
 * The sys.h hooks this platform answers with "not here": select events and
 * listeners (no sockets, no port drivers), module files outside the archive,
 * port drivers, platform info and the JIT's native-code cache. Kept apart from sys.c so that the native fuzz build of the NIFs
 * (cargo xtask fuzz-nif), which cannot use sys.c's WASI parts, links the
 * very same answers.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <defaultatoms.h>
#include <globalcontext.h>
#include <list.h>
#include <module.h>
#include <sys.h>
#include <term.h>
#include <utils.h>

void sys_register_select_event(GlobalContext *glb, ErlNifEvent event, bool is_write)
{
    // Only socket NIFs select on descriptors, and this platform has none.
    UNUSED(glb);
    UNUSED(event);
    UNUSED(is_write);
}

void sys_unregister_select_event(GlobalContext *glb, ErlNifEvent event, bool is_write)
{
    UNUSED(glb);
    UNUSED(event);
    UNUSED(is_write);
}

void sys_register_listener(GlobalContext *global, EventListener *listener)
{
    // Listeners belong to port drivers; sys_create_port never creates one.
    UNUSED(global);
    UNUSED(listener);
}

void sys_unregister_listener(GlobalContext *global, EventListener *listener)
{
    UNUSED(global);
    UNUSED(listener);
}

void sys_listener_destroy(struct ListHead *item)
{
    UNUSED(item);
}

Module *sys_load_module_from_file(GlobalContext *global, const char *path)
{
    // Every module an application may use is in its archive; a miss there is
    // a miss, and the core reports it.
    UNUSED(global);
    UNUSED(path);
    return NULL;
}

Context *sys_create_port(GlobalContext *glb, const char *driver_name, term opts)
{
    // No port drivers on WASI: open_port/2 fails with badarg.
    UNUSED(glb);
    UNUSED(driver_name);
    UNUSED(opts);
    return NULL;
}

term sys_get_info(Context *ctx, term key)
{
    UNUSED(ctx);
    UNUSED(key);
    return UNDEFINED_ATOM;
}

/* The three native-code hooks are part of sys.h for every platform but only
 * reached by JIT builds; this build interprets (AVM_NO_JIT). */
ModuleNativeEntryPoint sys_map_native_code(const uint8_t *native_code, size_t size, size_t offset)
{
    UNUSED(native_code);
    UNUSED(size);
    UNUSED(offset);
    return NULL;
}

bool sys_get_cache_native_code(GlobalContext *global, Module *mod, uint16_t *version,
    ModuleNativeEntryPoint *entry_point, uint32_t *labels)
{
    UNUSED(global);
    UNUSED(mod);
    UNUSED(version);
    UNUSED(entry_point);
    UNUSED(labels);
    return false;
}

void sys_set_cache_native_code(GlobalContext *global, Module *mod, uint16_t version,
    ModuleNativeEntryPoint entry_point, uint32_t labels)
{
    UNUSED(global);
    UNUSED(mod);
    UNUSED(version);
    UNUSED(entry_point);
    UNUSED(labels);
}
