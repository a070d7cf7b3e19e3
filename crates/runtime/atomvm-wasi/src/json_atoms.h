/*
 * elixir-workers: AtomVM platform adapter for WASI preview1.
 * SPDX-License-Identifier: Apache-2.0
 *
 * The atoms the JSON NIFs answer with that AtomVM's core has no constant
 * for (`fallback`: run the Elixir code instead; `nil`: JSON's null), made
 * once per instance by the atom table.
 */

#ifndef ELIXIR_WORKERS_JSON_ATOMS_H
#define ELIXIR_WORKERS_JSON_ATOMS_H

#include <globalcontext.h>
#include <term.h>

static inline term fallback_atom(GlobalContext *glb)
{
    return globalcontext_make_atom(glb, ATOM_STR("\x8", "fallback"));
}

static inline term nil_atom(GlobalContext *glb)
{
    return globalcontext_make_atom(glb, ATOM_STR("\x3", "nil"));
}

#endif
