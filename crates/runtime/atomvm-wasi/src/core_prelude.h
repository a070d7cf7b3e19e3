/*
 * elixir-workers: AtomVM platform adapter for WASI preview1.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Force-included (-include) into every AtomVM core file, so the pinned
 * upstream sources build for wasm32-wasi without edits:
 *
 * - wasi-libc hides tzset (WASI has no time-zone tables) but nifs.c calls it
 *   for erlang:localtime/1; the adapter defines it as a no-op in tz.c.
 * - posix_nifs.c uses errno in a helper it compiles even when every POSIX
 *   file feature is off (as here), and then never includes <errno.h>.
 */

#ifndef ELIXIR_WORKERS_CORE_PRELUDE_H
#define ELIXIR_WORKERS_CORE_PRELUDE_H

#include <errno.h>

void tzset(void);

#endif
