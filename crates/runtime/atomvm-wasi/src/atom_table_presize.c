/*
 * elixir-workers: AtomVM platform adapter for WASI preview1.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Boot-time shortcut for the atom table. AtomVM's table starts with 8 buckets
 * and grows by 8 past each 125 % load, rehashing every atom each time; the
 * ~260 default atoms inserted one by one at boot thus cost dozens of full
 * rehashes, about a quarter of a one-module application's whole run in our
 * profile. Every request boots afresh, so it is paid on every request.
 *
 * The build compiles atom_table.c with -Datom_table_new=avm_upstream_atom_table_new
 * (see xtask/src/runtime.rs); this file provides atom_table_new in its place:
 * it creates the table the upstream way, then inserts the default atoms and
 * the platform atom in one atom_table_ensure_atoms call (one sizing, one node
 * group), in exactly the order defaultatoms_init will ask for them. Their
 * indices are therefore the ones defaultatoms_init expects (it aborts
 * otherwise), and its one-by-one inserts become lookups.
 */

#include <stdio.h>

#include <atom_table.h>
#include <defaultatoms.h>
#include <utils.h>

#include "wasi_platform.h"

struct AtomTable *avm_upstream_atom_table_new(void);

/* Length-prefixed, back to back: the short AtU8 encoding ensure_atoms reads.
 * The table keeps pointers into this array, so it must be static. */
#define X(name, lenstr, str) lenstr str
static const char boot_atoms[] =
#include <defaultatoms.def>
    "\x4"
    "wasi";
#undef X

struct AtomTable *atom_table_new(void)
{
    struct AtomTable *table = avm_upstream_atom_table_new();
    if (IS_NULL_PTR(table)) {
        return NULL;
    }
    atom_index_t indices[PLATFORM_ATOMS_BASE_INDEX + 1];
    if (atom_table_ensure_atoms(table, boot_atoms, PLATFORM_ATOMS_BASE_INDEX + 1, indices,
            EnsureAtomsNoOpts)
        != AtomTableEnsureAtomOk) {
        // Not fatal: defaultatoms_init inserts whatever is missing.
        fprintf(stderr, WASI_DIAG "could not preload the default atoms\n");
    }
    return table;
}
