/*
 * elixir-workers: AtomVM platform adapter for WASI preview1.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Entry point of atomvm.wasm, a WASI command: `atomvm /app/app.avm`.
 * Loads the archive, runs start/0 of its startup module (the section flagged
 * BEAM_START_FLAG) and exits:
 *
 *   0  start/0 returned (whatever the value) or exited with reason normal
 *   1  start/0 crashed; the crash report is on stderr
 *   2  bad usage or an archive that cannot be loaded
 *   3  deadlock: every process waits and nothing can wake them (see sys.c)
 *
 * stdout is never written here: it belongs to the application's logs.
 */

#include <stdio.h>
#include <stdlib.h>

#include <avmpack.h>
#include <context.h>
#include <defaultatoms.h>
#include <globalcontext.h>
#include <module.h>
#include <sys.h>
#include <term.h>
#include <utils.h>

#include "wasi_platform.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, WASI_DIAG "usage: atomvm <app.avm>\n");
        return WASI_EXIT_USAGE;
    }
    const char *path = argv[1];
    // stdout is a pipe to the host's log, so stdio would buffer it whole until
    // exit; line buffering delivers each log line as it is written and loses at
    // most a partial line if the VM traps.
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

    // Started directly instead of through globalcontext_run: that function
    // first looks for an `init` module (walking every section of the archive
    // and printing "Failed load module: init.beam" when, as here, there is
    // none) and reports only start/0's return value, which cannot tell a
    // crash from a return of something other than `ok`. The exit reason can.
    Context *ctx = context_new(glb);
    if (IS_NULL_PTR(ctx)) {
        fprintf(stderr, WASI_DIAG "out of memory creating the first process\n");
        return WASI_EXIT_USAGE;
    }
    ctx->leader = 1;
    // AtomVM's default strategy collects garbage every few allocated cells;
    // Fibonacci growth makes building a large term linear instead of quadratic.
    ctx->heap_growth_strategy = FibonacciHeapGrowth;
    context_execute_loop(ctx, startup, "start", 0);

    int status = WASI_EXIT_OK;
    if (ctx->exit_reason != NORMAL_ATOM) {
        fprintf(stderr, WASI_DIAG "%s:start/0 terminated with reason: ", section_name);
        term_display(stderr, ctx->exit_reason, ctx);
        fprintf(stderr, "\n");
        status = WASI_EXIT_CRASH;
    }
    // No teardown: the host discards the whole instance after exit, so freeing
    // every module and process would only cost time on each request.
    return status;
}
