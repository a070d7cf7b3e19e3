/*
 * elixir-workers: AtomVM platform adapter for WASI preview1.
 * SPDX-License-Identifier: Apache-2.0
 *
 * OTP stdlib functions AtomVM's core lacks (stdlib_nifs.c).
 */

#ifndef _STDLIB_NIFS_H_
#define _STDLIB_NIFS_H_

#include <nifs.h>

/* The descriptor of an adapter NIF implemented by `fun`. */
#define ADAPTER_NIF(fun)              \
    {                                 \
        .base.type = NIFFunctionType, \
        .nif_ptr = (fun)              \
    }

extern const struct Nif binary_split_nif_ew;
extern const struct Nif binary_matches_nif;
extern const struct Nif binary_compile_pattern_nif;
extern const struct Nif maps_take_nif;
extern const struct Nif erlang_append_element_nif;
extern const struct Nif erlang_float_to_list_nif_ew;
extern const struct Nif erlang_float_to_binary_nif_ew;
extern const struct Nif binary_at_nif_ew;
extern const struct Nif binary_first_nif_ew;
extern const struct Nif binary_last_nif_ew;
extern const struct Nif erlang_binary_to_float_nif_ew;
extern const struct Nif erlang_list_to_float_nif_ew;
extern const struct Nif elixir_float_round_nif;
extern const struct Nif elixir_float_ceil_nif;
extern const struct Nif elixir_float_floor_nif;
extern const struct Nif persistent_term_get_nif;
extern const struct Nif persistent_term_put_nif;
extern const struct Nif persistent_term_erase_nif;

#endif
