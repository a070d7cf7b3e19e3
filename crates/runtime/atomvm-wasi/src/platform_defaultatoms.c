/*
 * elixir-workers: AtomVM platform adapter for WASI preview1.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Registers the platform atoms. Called by defaultatoms_init right after the
 * core's own atoms, so the next free index is PLATFORM_ATOMS_BASE_INDEX.
 */

#include <stdio.h>
#include <stdlib.h>

#include <atom.h>
#include <globalcontext.h>

#include "platform_defaultatoms.h"

void platform_defaultatoms_init(GlobalContext *glb)
{
    term wasi = globalcontext_make_atom(glb, ATOM_STR("\x4", "wasi"));
    if (wasi != WASI_ATOM) {
        // The NIFs compare against the constant; a mismatch means the core's
        // default atom list changed under us, which must not go unnoticed.
        fprintf(stderr, WASI_DIAG "platform atom 'wasi' got an unexpected index\n");
        abort();
    }
}
