/*
 * elixir-workers: AtomVM platform adapter for WASI preview1.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Module literals decoded once per instance instead of on every use.
 *
 * Upstream's module_load_literal decodes the literal's external term into a
 * new heap fragment of the calling process each time the code reads it, and
 * a process that owns fragments runs a full garbage collection at its next
 * allocation (memory_ensure_free_with_roots: `c->heap.root->next != NULL`).
 * A literal in a loop (a string in a rendered row, a key in a map built per
 * element) therefore costs a full copy of the live heap per iteration:
 * measured here, 2,000 loads of a 14-byte binary with 10,000 cons cells live
 * took 415 ms instead of 3 ms.
 *
 * The build compiles module.c with
 * -Dmodule_load_literal=avm_upstream_module_load_literal (see
 * xtask/src/runtime.rs); this file provides module_load_literal in its place.
 * Each literal is decoded on first use into an arena owned by no process and
 * kept until the instance exits; later loads return the same term. This is
 * sound because:
 *  - the collector copies only terms inside the collected process's own
 *    fragments and leaves every other pointer as it is (memory_shallow_copy_term:
 *    the rule that keeps terms of messages in place), so arena terms are
 *    never moved, marked or freed by any process;
 *  - literals are decoded without copying binaries (copy=false), so their
 *    binaries are const refc binaries: no reference count, no MSO entry, and
 *    term_reuse_binary never reuses a const binary in place;
 *  - terms are immutable; the opcodes that write into a tuple (set_tuple_element)
 *    only do so on a tuple the same function has just built.
 * Anything unexpected (no literal table, an index past its end, out of
 * memory) falls back to upstream's behaviour.
 *
 * With the boot snapshot the "instance" is the booted VM: ew_boot decodes
 * every literal of the archive here (literal_cache_preload), so requests
 * start with all of them decoded.
 */

#include <stdlib.h>

#include <context.h>
#include <globalcontext.h>
#include <externalterm.h>
#include <memory.h>
#include <module.h>
#include <term.h>
#include <utils.h>

term avm_upstream_module_load_literal(Module *mod, int index, Context *ctx);

/* Owns the arena heap; only its `heap` and `global` fields are ever used
 * (externalterm_from_const_literal appends one fragment per literal). */
static Context *literal_arena;
/* Decoded literals by module index, then literal index; 0 = not yet decoded
 * (0 would be a continuation pointer, never a decoded term). */
static term **literal_cache;
static size_t literal_cache_len;

static term *slots_for(Module *mod, uint32_t count)
{
    size_t mi = (size_t) mod->module_index;
    if (mi >= literal_cache_len) {
        size_t len = mi + 16;
        term **grown = realloc(literal_cache, len * sizeof(term *));
        if (IS_NULL_PTR(grown)) {
            return NULL;
        }
        for (size_t i = literal_cache_len; i < len; i++) {
            grown[i] = NULL;
        }
        literal_cache = grown;
        literal_cache_len = len;
    }
    if (literal_cache[mi] == NULL) {
        literal_cache[mi] = calloc(count, sizeof(term));
    }
    return literal_cache[mi];
}

/* The cached term of literal `index` of `mod`, decoding it into the arena on
 * first use; the invalid term when it cannot be cached (the caller falls
 * back to upstream's decoding). */
static term cached_literal(Module *mod, int index, GlobalContext *glb)
{
    uint32_t count = mod->literals_data ? READ_32_UNALIGNED(mod->literals_data) : 0;
    if (UNLIKELY(index < 0 || (uint32_t) index >= count)) {
        return term_invalid_term();
    }
    term *slots = slots_for(mod, count);
    if (UNLIKELY(slots == NULL)) {
        return term_invalid_term();
    }
    if (LIKELY(slots[index] != 0)) {
        return slots[index];
    }
    if (UNLIKELY(literal_arena == NULL)) {
        Context *arena = calloc(1, sizeof(Context));
        if (IS_NULL_PTR(arena) || memory_init_heap(&arena->heap, 1) != MEMORY_GC_OK) {
            free(arena);
            return term_invalid_term();
        }
        literal_arena = arena;
    }
    literal_arena->global = glb;
    term t = externalterm_from_const_literal(
        mod->literals_table[index].data, mod->literals_table[index].size, literal_arena);
    if (LIKELY(!term_is_invalid_term(t))) {
        slots[index] = t;
    }
    return t;
}

term module_load_literal(Module *mod, int index, Context *ctx)
{
    term t = cached_literal(mod, index, ctx->global);
    if (UNLIKELY(term_is_invalid_term(t))) {
        return avm_upstream_module_load_literal(mod, index, ctx);
    }
    return t;
}

/* Decodes every literal of every loaded module, once, at boot (main.c calls
 * it before the snapshot): the terms then come with the snapshot and no
 * request decodes one. A literal that cannot be cached now is left to be
 * decoded on use, as before. */
void literal_cache_preload(GlobalContext *glb)
{
    for (int mi = 0; mi < glb->loaded_modules_count; mi++) {
        Module *mod = glb->modules_by_index[mi];
        uint32_t count = mod->literals_data ? READ_32_UNALIGNED(mod->literals_data) : 0;
        for (uint32_t i = 0; i < count; i++) {
            (void) cached_literal(mod, (int) i, glb);
        }
    }
}
