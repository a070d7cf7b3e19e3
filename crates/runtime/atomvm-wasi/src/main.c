/*
 * elixir-workers: AtomVM platform adapter for WASI preview1.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Entry points of atomvm.wasm, a WASI *reactor* whose exports run in this
 * order (ew_warm may be left out):
 *
 *   ew_boot()  reads argv (`atomvm /app/app.avm`), loads the archive and
 *              every module in it, and checks the startup module (the section
 *              flagged BEAM_START_FLAG) exports start/0. Returns 0, or 2 for
 *              bad usage or an archive that cannot be loaded.
 *   ew_warm()  runs the startup module's module_info/0 (no app code) so that
 *              the host can have the interpreter compiled when an isolate
 *              starts; the host then resets the memory as before any run.
 *   ew_run()   runs start/0 in a fresh first process. Returns
 *                0  start/0 returned (whatever the value) or exited normal
 *                1  start/0 crashed; the crash report is on stderr
 *              and calls proc_exit(3) on deadlock (see sys.c).
 *
 * The split is what makes a boot snapshot possible: between the two calls the
 * VM holds no process and no C frame, so the whole state of the instance is
 * its linear memory (and the stack pointer, back at its start). The host
 * boots once, copies the memory, and serves each request with an instance
 * whose memory is reset to that copy and whose exported __stack_pointer is
 * put back (see the worker's runtime.js). A request never sees anything an
 * earlier one did.
 *
 * stdout is never written here: it belongs to the application's logs.
 */

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wasi/api.h>

#include <avmpack.h>
#include <context.h>
#include <defaultatoms.h>
#include <globalcontext.h>
#include <module.h>
#include <sys.h>
#include <term.h>
#include <utils.h>

#include "wasi_platform.h"

/* What ew_boot leaves for ew_run: the VM and its startup module. */
static GlobalContext *booted_glb;
static Module *booted_startup;
static const char *booted_section_name;
/* Set by ew_warm and ew_run (first_process): a state runs once, the host
 * restores a copy for the next. */
static bool ran;

/* argv[1] from the host, in a malloc'd buffer that stays with the VM, or NULL
 * (with a diagnostic) when argv is not `atomvm <app.avm>`. */
static char *archive_path_from_argv(void)
{
    __wasi_size_t argc, buf_size;
    if (__wasi_args_sizes_get(&argc, &buf_size) != __WASI_ERRNO_SUCCESS || argc != 2) {
        fprintf(stderr, WASI_DIAG "usage: atomvm <app.avm>\n");
        return NULL;
    }
    uint8_t **argv = malloc(argc * sizeof(uint8_t *));
    uint8_t *buf = malloc(buf_size);
    if (IS_NULL_PTR(argv) || IS_NULL_PTR(buf)
        || __wasi_args_get(argv, buf) != __WASI_ERRNO_SUCCESS) {
        fprintf(stderr, WASI_DIAG "cannot read argv\n");
        free(argv);
        free(buf);
        return NULL;
    }
    char *path = strdup((const char *) argv[1]);
    free(argv);
    free(buf);
    return path;
}

struct PreloadState
{
    GlobalContext *glb;
    const char *path;
    bool failed;
};

/* avmpack_fold callback: loads one code section unless its module is already
 * there. A module that cannot load is reported once here; the call that
 * needs it later fails as it would have without preloading. */
static void *preload_section(void *accum, const void *section_ptr, uint32_t section_size,
    const void *beam_ptr, uint32_t flags, const char *section_name)
{
    UNUSED(section_ptr);
    struct PreloadState *st = accum;
    if ((flags & BEAM_CODE_FLAG) == 0 || (flags & BEAM_START_FLAG) != 0 || st->failed) {
        return accum;
    }
    // The section size covers its header; the module needs the size of the
    // IFF image, which starts at beam_ptr.
    uint32_t beam_size = section_size - (uint32_t) ((const uint8_t *) beam_ptr - (const uint8_t *) section_ptr);
    Module *mod = module_new_from_iff_binary(st->glb, beam_ptr, beam_size);
    if (IS_NULL_PTR(mod)) {
        fprintf(stderr, WASI_DIAG "%s: cannot load module %s\n", st->path, section_name);
        return accum;
    }
    mod->module_platform_data = NULL;
    if (globalcontext_insert_module(st->glb, mod) < 0) {
        fprintf(stderr, WASI_DIAG "%s: cannot register module %s\n", st->path, section_name);
        module_destroy(mod);
        st->failed = true;
    }
    return accum;
}

__attribute__((export_name("ew_boot"))) int ew_boot(void)
{
    if (booted_glb != NULL) {
        fprintf(stderr, WASI_DIAG "ew_boot called twice\n");
        return WASI_EXIT_USAGE;
    }
    char *path = archive_path_from_argv();
    if (path == NULL) {
        return WASI_EXIT_USAGE;
    }
    // stdout is a pipe to the host's log, so stdio would buffer it whole until
    // the run ends; line buffering delivers each log line as it is written and
    // loses at most a partial line if the VM traps.
    setvbuf(stdout, NULL, _IOLBF, BUFSIZ);

    GlobalContext *glb = globalcontext_new();
    if (IS_NULL_PTR(glb)) {
        fprintf(stderr, WASI_DIAG "out of memory creating the VM\n");
        return WASI_EXIT_USAGE;
    }

    struct AVMPackData *pack;
    if (sys_open_avm_from_file(glb, path, &pack) != AVM_OPEN_OK) {
        // sys_open_avm_from_file has already said why.
        return WASI_EXIT_USAGE;
    }
    synclist_append(&glb->avmpack_data, &pack->avmpack_head);

    const void *beam;
    uint32_t beam_size;
    const char *section_name;
    if (!avmpack_find_section_by_flag(
            pack->data, BEAM_START_FLAG, BEAM_START_FLAG, &beam, &beam_size, &section_name)) {
        fprintf(stderr, WASI_DIAG "%s: no startup module (no section has the start flag)\n", path);
        return WASI_EXIT_USAGE;
    }
    pack->in_use = true;
    Module *startup = module_new_from_iff_binary(glb, beam, beam_size);
    if (IS_NULL_PTR(startup)) {
        fprintf(stderr, WASI_DIAG "%s: cannot load startup module %s\n", path, section_name);
        return WASI_EXIT_USAGE;
    }
    startup->module_platform_data = NULL;
    if (globalcontext_insert_module(glb, startup) < 0) {
        fprintf(stderr, WASI_DIAG "%s: cannot register startup module %s\n", path, section_name);
        return WASI_EXIT_USAGE;
    }
    if (module_search_exported_function(startup, START_ATOM_INDEX, 0) == 0) {
        fprintf(stderr, WASI_DIAG "%s: startup module %s does not export start/0\n", path,
            section_name);
        return WASI_EXIT_USAGE;
    }

    // Every module of the archive is loaded now rather than on first call:
    // done once before the snapshot, it costs requests nothing, where lazy
    // loading cost each request every module its route touched. The packer
    // has already dropped the modules nothing can reach.
    struct PreloadState st = { .glb = glb, .path = path, .failed = false };
    avmpack_fold(&st, pack->data, preload_section);
    if (st.failed) {
        return WASI_EXIT_USAGE;
    }
    // Likewise every literal: decoded once here, not in each request.
    literal_cache_preload(glb);

    booted_glb = glb;
    booted_startup = startup;
    booted_section_name = section_name;
    return WASI_EXIT_OK;
}

/* The loader of the module the worker serves. `elixir-workers build` boots
 * the app with this whole module, then bundles a copy in which the body of
 * module_new_from_iff_binary (exported for this) only calls this function:
 * a worker starts from the booted memory and never loads a module, and the
 * loader is a quarter of the module's code (crates/pipeline/src/boot/serve.rs).
 * What would load one after boot, :code.load_binary/3 or
 * :erlang.load_module/2, gets the NULL of a module that does not load, and
 * the reason here on stderr. A module missing from the archive never gets
 * this far: the archive is searched first. */
__attribute__((export_name("ew_loader_absent"))) Module *ew_loader_absent(
    GlobalContext *global, const void *iff_binary, unsigned long size)
{
    UNUSED(global);
    UNUSED(iff_binary);
    fprintf(stderr,
        WASI_DIAG "cannot load a module (%lu bytes) at run time: a worker runs the modules "
                  "`elixir-workers build` booted; add the module to the app instead\n",
        size);
    return NULL;
}

/* The first process of a freshly booted VM, which ew_warm and ew_run start
 * (each once per instance); NULL after saying why. It is the leader: the
 * loop returns when it exits. */
static Context *first_process(const char *entry)
{
    if (booted_glb == NULL || ran) {
        fprintf(stderr, WASI_DIAG "%s needs a freshly booted VM (call ew_boot first, once)\n", entry);
        return NULL;
    }
    ran = true;
    Context *ctx = context_new(booted_glb);
    if (IS_NULL_PTR(ctx)) {
        fprintf(stderr, WASI_DIAG "out of memory creating the first process\n");
        return NULL;
    }
    ctx->leader = 1;
    // AtomVM's default strategy collects garbage every few allocated cells;
    // Fibonacci growth makes building a large term linear instead of quadratic.
    ctx->heap_growth_strategy = FibonacciHeapGrowth;
    return ctx;
}

/* A run of no app code, for the host to call when an isolate starts, before
 * any request: the startup module's module_info/0 (the compiler writes it;
 * it asks the VM for the module's metadata) in a first process, as ew_run
 * runs start/0. V8 compiles each function of the module on its first call,
 * the interpreter loop (about 110 KB) taking most of that time; this has the
 * loop, process creation and exit and the allocator compiled by then. The
 * host resets the memory to the boot snapshot before the next run, as it
 * does before every run, so nothing of this is left for a request to see.
 * Returns 0, 1 when module_info/0 did not return, or 2 when the VM is not
 * freshly booted. */
__attribute__((export_name("ew_warm"))) int ew_warm(void)
{
    Context *ctx = first_process("ew_warm");
    if (IS_NULL_PTR(ctx)) {
        return WASI_EXIT_USAGE;
    }
    context_execute_loop(ctx, booted_startup, "module_info", 0);
    return ctx->exit_reason == NORMAL_ATOM ? WASI_EXIT_OK : WASI_EXIT_CRASH;
}

__attribute__((export_name("ew_run"))) int ew_run(void)
{
    // Started directly instead of through globalcontext_run: that function
    // first looks for an `init` module (walking every section of the archive
    // and printing "Failed load module: init.beam" when, as here, there is
    // none) and reports only start/0's return value, which cannot tell a
    // crash from a return of something other than `ok`. The exit reason can.
    Context *ctx = first_process("ew_run");
    if (IS_NULL_PTR(ctx)) {
        return WASI_EXIT_USAGE;
    }
    context_execute_loop(ctx, booted_startup, "start", 0);

    int status = WASI_EXIT_OK;
    if (ctx->exit_reason != NORMAL_ATOM) {
        fprintf(stderr, WASI_DIAG "%s:start/0 terminated with reason: ", booted_section_name);
        term_display(stderr, ctx->exit_reason, ctx);
        fprintf(stderr, "\n");
        status = WASI_EXIT_CRASH;
    }
    // Whatever the app left in stdio buffers goes out now; there is no exit
    // to flush them. No teardown: the host resets the memory before the
    // next run.
    fflush(stdout);
    fflush(stderr);
    return status;
}
