/*
 * elixir-workers: AtomVM platform adapter for WASI preview1.
 * SPDX-License-Identifier: Apache-2.0
 *
 * WASI has no time-zone database: local time is UTC, and there is nothing for
 * tzset to load. Declared for the core in core_prelude.h.
 */

#include "core_prelude.h"

void tzset(void)
{
}
