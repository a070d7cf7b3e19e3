/*
 * elixir-workers: AtomVM platform adapter for WASI preview1.
 * SPDX-License-Identifier: Apache-2.0
 *
 * The JSON and HTML NIFs of json_nif.c, registered by platform_nifs.c.
 */

#ifndef ELIXIR_WORKERS_JSON_NIF_H
#define ELIXIR_WORKERS_JSON_NIF_H

#include <nifs.h>

extern const struct Nif json_decode_nif;
extern const struct Nif json_encode_nif;
extern const struct Nif html_escape_nif;

#endif
