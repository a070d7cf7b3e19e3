/*
 * elixir-workers: AtomVM platform adapter for WASI preview1.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Declarations shared by the adapter's translation units. The adapter is the
 * only code in atomvm.wasm that talks to the host: AtomVM's core calls the
 * sys_* functions declared in libAtomVM/sys.h and asks platform_nifs_get_nif
 * for functions it does not implement itself.
 */

#ifndef ELIXIR_WORKERS_WASI_PLATFORM_H
#define ELIXIR_WORKERS_WASI_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

#include <defaultatoms.h>

#include "budget.h"
#include <term.h>

/* The one platform atom, placed right after AtomVM's own default atoms so it
 * can be compared as a constant. platform_defaultatoms_init checks that the
 * atom table really gave it this index. */
#define WASI_ATOM_INDEX PLATFORM_ATOMS_BASE_INDEX
#define WASI_ATOM TERM_FROM_ATOM_INDEX(WASI_ATOM_INDEX)

/* Process exit codes of atomvm.wasm, documented in crates/runtime/atomvm-wasi/README.md. */
enum WasiExitCode
{
    WASI_EXIT_OK = 0,
    WASI_EXIT_CRASH = 1,
    WASI_EXIT_USAGE = 2,
    WASI_EXIT_DEADLOCK = 3,
    WASI_EXIT_BUDGET = BUDGET_EXIT_CODE
};

/* Host import: hands the complete response to the embedder. The bytes are only
 * valid during the call; the host copies them. */
__attribute__((import_module("elixir_workers"), import_name("respond"))) void
wasi_host_respond(const uint8_t *data, uint32_t len);

struct GlobalContext;
/* Decodes every literal of every loaded module into the literal cache
 * (literal_cache.c); called once at boot, before the snapshot. */
void literal_cache_preload(struct GlobalContext *glb);

/* Prefix of every diagnostic the adapter writes to stderr. */
#define WASI_DIAG "atomvm-wasi: "

#endif
