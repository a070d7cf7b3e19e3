/*
 * elixir-workers: AtomVM platform adapter for WASI preview1.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Per-run budgets (budget.c). Plain C with no AtomVM header, so that the
 * worker's test probe links budget.c and heap_mark.c as the runtime does.
 */

#ifndef ELIXIR_WORKERS_BUDGET_H
#define ELIXIR_WORKERS_BUDGET_H

#include <stdint.h>

/* How atomvm.wasm exits when a run passes one of its budgets. */
#define BUDGET_EXIT_CODE 4

/* A scheduling slice of `reductions` spent: past the budget, the run exits. */
void budget_count_slice(uint32_t reductions);

/* An allocation about to end at `end`: past the heap budget, the run exits. */
void budget_check_heap(uintptr_t end);

#endif
