/*
 * elixir-workers: AtomVM platform adapter for WASI preview1.
 * SPDX-License-Identifier: Apache-2.0
 *
 * The heap's high-water mark: the highest address any allocation has ever
 * reached in this instance, exported as ew_heap_high_water() for the host.
 *
 * The worker resets one reused memory to the boot snapshot before every run
 * (crates/pipeline/worker/src/runtime.js). The snapshot's heap has megabytes of
 * free space above it, so a run can write there; rather than copy all of it
 * back each time, the host asks for this mark after a run and clears only up
 * to it. wasi-libc's dlmalloc (no mmap) writes nothing above its highest
 * chunk except the few bytes of the next chunk's header, which the host's
 * margin covers.
 *
 * The linker routes every call to the allocation functions here
 * (-Wl,--wrap=malloc and the like, in crates/runtime/src/compile.rs); each
 * forwards to the real one and raises the mark. The mark is also where the
 * run's heap budget is enforced (budget.c).
 */

#include <stdint.h>
#include <stdlib.h>

#include "budget.h"

void *__real_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *ptr, size_t size);
void *__real_aligned_alloc(size_t alignment, size_t size);
int __real_posix_memalign(void **out, size_t alignment, size_t size);

static uintptr_t high_water;

static void *mark(void *ptr, size_t size)
{
    if (ptr != NULL) {
        uintptr_t end = (uintptr_t) ptr + size;
        if (end > high_water) {
            // Only a new high-water mark can pass the heap budget.
            budget_check_heap(end);
            high_water = end;
        }
    }
    return ptr;
}

/* Before an allocation: one that would take the heap past its budget even
 * if placed right at the mark stops the run before the memory grows for it
 * (a runaway recursion asks for ever larger heaps). */
static void ask(size_t size)
{
    uintptr_t end = size > UINTPTR_MAX - high_water ? UINTPTR_MAX : high_water + size;
    if (end > high_water) {
        budget_check_heap(end);
    }
}

void *__wrap_malloc(size_t size)
{
    ask(size);
    return mark(__real_malloc(size), size);
}

void *__wrap_calloc(size_t count, size_t size)
{
    ask(size != 0 && count > SIZE_MAX / size ? SIZE_MAX : count * size);
    // calloc has refused an overflowing product when it returns non-NULL.
    return mark(__real_calloc(count, size), count * size);
}

void *__wrap_realloc(void *ptr, size_t size)
{
    ask(size);
    return mark(__real_realloc(ptr, size), size);
}

void *__wrap_aligned_alloc(size_t alignment, size_t size)
{
    ask(size);
    return mark(__real_aligned_alloc(alignment, size), size);
}

int __wrap_posix_memalign(void **out, size_t alignment, size_t size)
{
    ask(size);
    int r = __real_posix_memalign(out, alignment, size);
    if (r == 0) {
        mark(*out, size);
    }
    return r;
}

__attribute__((export_name("ew_heap_high_water"))) uint32_t ew_heap_high_water(void)
{
    return (uint32_t) high_water;
}
