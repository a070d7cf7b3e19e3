/*
 * elixir-workers: AtomVM platform adapter for WASI preview1.
 * SPDX-License-Identifier: Apache-2.0
 *
 * JSON decoding and encoding, and HTML escaping, as NIFs registered by
 * platform_nifs.c (json_decode.c, json_encode.c, html_escape.c):
 *
 *   wasi:json_decode/2  (Bin, MaxDepth) -> {ok, Term} | {error, Message} | fallback
 *   wasi:json_encode/1  Term -> Binary | fallback
 *   wasi:html_escape/1  Bin -> Bin itself when clean | escaped Binary
 *
 * Why: on AtomVM every byte the Elixir code in crates/pipeline/framework touches costs
 * interpreted instructions and, for decoding, garbage collections of the
 * growing result. Here a document is walked twice in C: the first pass
 * validates it and counts exactly the heap words the result needs, then the
 * heap is made large enough once and the second pass builds the terms with
 * no GC in between.
 *
 * The reference is the Elixir code (ElixirWorkers.JSON, ElixirWorkers.HTML);
 * these functions return exactly what it returns, error messages and byte
 * offsets included. Where C would have to guess (an integer beyond 64 bits,
 * a term the Elixir encoder raises on, nesting too deep for a C stack), they
 * return the atom `fallback` and the framework runs its Elixir code instead.
 * The differential tests in crates/worker-tests/tests/e2e.rs hold the two
 * together.
 */

#ifndef ELIXIR_WORKERS_JSON_NIF_H
#define ELIXIR_WORKERS_JSON_NIF_H

#include <nifs.h>

extern const struct Nif json_decode_nif;
extern const struct Nif json_encode_nif;
extern const struct Nif html_escape_nif;

#endif
