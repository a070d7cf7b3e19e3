/*
 * elixir-workers: AtomVM platform adapter for WASI preview1.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Per-run budgets, so that a runaway handler stops itself before the
 * isolate's own limits stop it (and every request it is serving):
 *
 *   reductions  AtomVM preempts a process after DEFAULT_REDUCTIONS_AMOUNT
 *               (1024) reductions, and its scheduler then calls
 *               sys_poll_events (sys.c), which counts the slice here.
 *               (No AtomVM header here: the worker's test probe links
 *               this file and heap_mark.c without the VM.) Time
 *               is no measure: inside a Workers isolate the clock does not
 *               move while code runs. A process that waits (receive, a
 *               timer) is counted when it is scheduled again, so the count
 *               is an upper bound of the reductions spent.
 *   heap        the highest address the allocator may hand out
 *               (heap_mark.c's wrappers check each allocation before and
 *               after the real one); an endless recursion or an
 *               ever-growing term reaches it.
 *
 * Past either, the run ends at once with WASI_EXIT_BUDGET and one line on
 * stderr naming the budget and how far the run got; the host answers 500 and
 * serves the next request from the boot snapshot as usual.
 *
 * ew_set_budget(max_reductions, max_heap_bytes) sets both for the next run
 * (0 = no limit); the host calls it after it has put the snapshot back, just
 * before ew_run. Nothing is limited during ew_boot.
 */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "budget.h"

static uint64_t reduction_limit;
static uint64_t reductions_spent;
static uintptr_t heap_limit;

__attribute__((export_name("ew_set_budget"))) void ew_set_budget(uint32_t max_reductions, uint32_t max_heap_bytes)
{
    reduction_limit = max_reductions;
    reductions_spent = 0;
    heap_limit = max_heap_bytes;
}

void budget_count_slice(uint32_t reductions)
{
    if (reduction_limit == 0) {
        return;
    }
    reductions_spent += reductions;
    if (reductions_spent > reduction_limit) {
        fprintf(stderr,
            "atomvm-wasi: budget: stopped after %llu reductions (the budget is %llu): "
                      "a loop that does not end, or work too large for one request\n",
            (unsigned long long) reductions_spent, (unsigned long long) reduction_limit);
        fflush(stderr);
        exit(BUDGET_EXIT_CODE);
    }
}

void budget_check_heap(uintptr_t end)
{
    if (heap_limit != 0 && end > heap_limit) {
        fprintf(stderr,
            "atomvm-wasi: budget: stopped when the heap would reach %lu bytes (the budget is %lu) "
                      "after %llu reductions: a recursion that does not end, or a term too large "
                      "for one request\n",
            (unsigned long) end, (unsigned long) heap_limit,
            (unsigned long long) reductions_spent);
        fflush(stderr);
        exit(BUDGET_EXIT_CODE);
    }
}
