/*
 * elixir-workers: libFuzzer harness for the JSON and HTML NIFs (json_nif.c).
 * SPDX-License-Identifier: Apache-2.0
 *
 * Built natively with ASan + UBSan + libFuzzer by `cargo xtask fuzz-nif`,
 * linked with AtomVM's real core, so the NIFs run on a real GlobalContext
 * and Context: the same heap, garbage collector, binaries (heap, refc and
 * sub-binaries) and term comparison as in atomvm.wasm.
 *
 * Per input (the raw bytes are the JSON document):
 *  - the input becomes a binary term, then wasi:json_decode/2 runs on it with
 *    several depth limits (0, 1, 3, 32, 600 and INT64_MAX, a boxed integer),
 *    once with the input as a sub-binary of a larger refc binary;
 *  - every result must be {ok, T}, {error, <<"... at byte N">>} with N within
 *    the input, or `fallback`; an exception (the NIFs raise only when out of
 *    memory) is a finding;
 *  - a document accepted at one limit must be accepted, as an equal term, at
 *    every larger limit;
 *  - round trip: each accepted term is encoded by wasi:json_encode/1, which
 *    must give a binary (`fallback` only for terms nested deeper than its C
 *    limit of 512), that binary must decode to an equal term (term_compare,
 *    exact), and encoding that term must give the same bytes;
 *  - wasi:html_escape/1 must agree byte for byte with the straightforward
 *    escaping written below, and return its argument itself when clean.
 * A violated property prints what differed and aborts, which libFuzzer
 * reports as a crash and saves the input.
 *
 * Between inputs the context's stack is emptied and its heap collected with
 * MEMORY_FORCE_SHRINK, which also frees the refc binaries, so memory does
 * not grow over millions of runs (libFuzzer's -rss_limit_mb would notice).
 */

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <context.h>
#include <defaultatoms.h>
#include <globalcontext.h>
#include <memory.h>
#include <nifs.h>
#include <term.h>

#include "json_nif.h"

/* The Elixir framework's default limit (ElixirWorkers.JSON.max_depth/0). */
#define FRAMEWORK_MAX_DEPTH 32
/* json_nif.c's ENCODE_MAX_DEPTH: deeper terms are the Elixir encoder's. */
#define ENCODE_MAX_DEPTH 512

static GlobalContext *glb;
static Context *ctx;
static term fallback;

/* Live terms sit in stack slots of the context: the collector updates those,
 * while a C local would be left pointing into the old heap. */
enum Slot
{
    SlotInput,
    SlotPadded,
    SlotFirstOk,
    SlotDecoded,
    SlotEncoded,
    SlotDecodedAgain,
    SlotCount
};

static term *slot(enum Slot s)
{
    return &ctx->e[s];
}

static void die(const char *what, const uint8_t *data, size_t size)
{
    fprintf(stderr, "json_fuzz: %s\ninput (%zu bytes): ", what, size);
    for (size_t i = 0; i < size && i < 512; i++) {
        uint8_t c = data[i];
        if (c >= 0x20 && c < 0x7F && c != '\\') {
            fputc(c, stderr);
        } else {
            fprintf(stderr, "\\x%02x", c);
        }
    }
    fputc('\n', stderr);
    abort();
}

/* With MinimumHeapGrowth (set below) this leaves exactly `words` free: the
 * collector shrinks the heap to the live data plus the request. The harness
 * allocates exactly that much before each NIF call, so the NIF starts with a
 * full heap and must ask for every word it writes; one word it did not ask
 * for lands past heap_ptr == e, which check_heap() catches. (The heap is
 * one malloc block shared with the stack, so ASan cannot see that.) */
static void ensure_free(size_t words)
{
    if (memory_ensure_free(ctx, words) != MEMORY_GC_OK) {
        fprintf(stderr, "json_fuzz: out of memory\n");
        abort();
    }
}

static term make_binary(const uint8_t *data, size_t size)
{
    ensure_free(term_binary_heap_size(size));
    return term_from_literal_binary(data, size, &ctx->heap, glb);
}

/* Calls a NIF the way the interpreter does; an exception is a finding. */
static term call(const struct Nif *nif, int argc, term argv[], const char *name,
    const uint8_t *data, size_t size)
{
    term r = nif->nif_ptr(ctx, argc, argv);
    if (ctx->heap.heap_ptr > ctx->e) {
        char what[128];
        snprintf(what, sizeof(what), "%s wrote %td heap words more than it reserved", name,
            ctx->heap.heap_ptr - ctx->e);
        die(what, data, size);
    }
    if (term_is_invalid_term(r)) {
        char what[128];
        snprintf(what, sizeof(what), "%s raised an exception (%s)", name,
            ctx->x[1] == OUT_OF_MEMORY_ATOM ? "out_of_memory" : ctx->x[1] == BADARG_ATOM ? "badarg" : "other");
        die(what, data, size);
    }
    return r;
}

static bool equal(term a, term b)
{
    TermCompareResult r = term_compare(a, b, TermCompareExact, glb);
    if (r == TermCompareMemoryAllocFail) {
        fprintf(stderr, "json_fuzz: out of memory in term_compare\n");
        abort();
    }
    return r == TermEquals;
}

/* Nesting of a decoded term: lists and maps count one level each. */
static size_t nesting(term t)
{
    if (term_is_list(t)) {
        size_t deepest = 0;
        while (term_is_nonempty_list(t)) {
            size_t d = nesting(term_get_list_head(t));
            deepest = d > deepest ? d : deepest;
            t = term_get_list_tail(t);
        }
        return deepest + 1;
    } else if (term_is_map(t)) {
        size_t deepest = 0;
        int n = term_get_map_size(t);
        for (int i = 0; i < n; i++) {
            size_t d = nesting(term_get_map_value(t, i));
            deepest = d > deepest ? d : deepest;
        }
        return deepest + 1;
    }
    return 0;
}

/* AtomVM keeps a map's keys sorted in term order and unique (map equality,
 * comparison and maps:to_list depend on it): the decoder sorts and dedups
 * them itself, so check that it did. */
static bool maps_sorted(term t)
{
    if (term_is_list(t)) {
        while (term_is_nonempty_list(t)) {
            if (!maps_sorted(term_get_list_head(t))) {
                return false;
            }
            t = term_get_list_tail(t);
        }
    } else if (term_is_map(t)) {
        int n = term_get_map_size(t);
        for (int i = 0; i < n; i++) {
            if (i > 0 && term_compare(term_get_map_key(t, i - 1), term_get_map_key(t, i), TermCompareExact, glb) != TermLessThan) {
                return false;
            }
            if (!maps_sorted(term_get_map_value(t, i))) {
                return false;
            }
        }
    }
    return true;
}

/* Checks the shape of a decode result; returns true for {ok, _}. */
static bool check_decode_result(term r, const uint8_t *data, size_t size)
{
    if (r == fallback) {
        return false;
    }
    if (!term_is_tuple(r) || term_get_tuple_arity(r) != 2) {
        die("json_decode returned neither a 2-tuple nor fallback", data, size);
    }
    term tag = term_get_tuple_element(r, 0);
    if (tag == OK_ATOM) {
        return true;
    }
    term msg = term_get_tuple_element(r, 1);
    if (tag != ERROR_ATOM || !term_is_binary(msg)) {
        die("json_decode returned a tuple that is not {ok, _} or {error, Binary}", data, size);
    }
    /* "<what> at byte <offset>": the offset is within the input. */
    const char *m = term_binary_data(msg);
    size_t n = term_binary_size(msg);
    static const char at[] = " at byte ";
    const char *digits = NULL;
    for (size_t i = 0; i + sizeof(at) - 1 < n; i++) {
        if (memcmp(m + i, at, sizeof(at) - 1) == 0) {
            digits = m + i + sizeof(at) - 1;
        }
    }
    if (digits == NULL) {
        die("json_decode error message has no byte offset", data, size);
    }
    uint64_t offset = 0;
    for (const char *p = digits; p < m + n; p++) {
        if (*p < '0' || *p > '9') {
            die("json_decode error offset is not a number", data, size);
        }
        offset = offset * 10 + (uint64_t) (*p - '0');
    }
    if (offset > size) {
        die("json_decode error offset is past the end of the input", data, size);
    }
    return false;
}

/* decode(Slot input-or-padded, depth) */
static term decode(term bin, term depth, const uint8_t *data, size_t size)
{
    term argv[2] = { bin, depth };
    term r = call(&json_decode_nif, 2, argv, "json_decode", data, size);
    return r;
}

static void round_trip(const uint8_t *data, size_t size)
{
    if (!maps_sorted(*slot(SlotDecoded))) {
        die("json_decode made a map whose keys are not sorted and unique", data, size);
    }
    ensure_free(0);
    term argv[1] = { *slot(SlotDecoded) };
    term enc = call(&json_encode_nif, 1, argv, "json_encode", data, size);
    if (enc == fallback) {
        if (nesting(*slot(SlotDecoded)) <= ENCODE_MAX_DEPTH) {
            die("json_encode fell back on a term json_decode made", data, size);
        }
        return;
    }
    if (!term_is_binary(enc)) {
        die("json_encode returned neither a binary nor fallback", data, size);
    }
    *slot(SlotEncoded) = enc;

    ensure_free(BOXED_INT64_SIZE);
    term big = term_make_maybe_boxed_int64(INT64_MAX, &ctx->heap);
    term r = decode(*slot(SlotEncoded), big, data, size);
    if (!check_decode_result(r, data, size)) {
        die("json_decode rejected what json_encode made", data, size);
    }
    *slot(SlotDecodedAgain) = term_get_tuple_element(r, 1);
    if (!equal(*slot(SlotDecoded), *slot(SlotDecodedAgain))) {
        die("round trip: decode(encode(T)) differs from T", data, size);
    }

    ensure_free(0);
    argv[0] = *slot(SlotDecodedAgain);
    term enc2 = call(&json_encode_nif, 1, argv, "json_encode", data, size);
    term enc1 = *slot(SlotEncoded);
    if (!term_is_binary(enc2) || term_binary_size(enc2) != term_binary_size(enc1)
        || memcmp(term_binary_data(enc2), term_binary_data(enc1), term_binary_size(enc1)) != 0) {
        die("round trip: encode(decode(encode(T))) differs from encode(T)", data, size);
    }
}

static const char *html_entity(uint8_t c)
{
    switch (c) {
        case '&':
            return "&amp;";
        case '<':
            return "&lt;";
        case '>':
            return "&gt;";
        case '"':
            return "&quot;";
        case '\'':
            return "&#39;";
        default:
            return NULL;
    }
}

static void check_html(const uint8_t *data, size_t size)
{
    /* The expected output, built the obvious way. */
    uint8_t *expected = malloc(size * 6 + 1);
    size_t n = 0;
    bool clean = true;
    for (size_t i = 0; i < size; i++) {
        const char *e = html_entity(data[i]);
        if (e) {
            clean = false;
            memcpy(expected + n, e, strlen(e));
            n += strlen(e);
        } else {
            expected[n++] = data[i];
        }
    }
    ensure_free(0);
    term argv[1] = { *slot(SlotInput) };
    term r = call(&html_escape_nif, 1, argv, "html_escape", data, size);
    if (!term_is_binary(r) || term_binary_size(r) != n || memcmp(term_binary_data(r), expected, n) != 0) {
        die("html_escape differs from the reference escaping", data, size);
    }
    if (clean && r != argv[0]) {
        die("html_escape copied a binary that needs no escaping", data, size);
    }
    free(expected);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    glb = globalcontext_new();
    if (glb == NULL) {
        abort();
    }
    ctx = context_new(glb);
    if (ctx == NULL) {
        abort();
    }
    ctx->heap_growth_strategy = MinimumHeapGrowth;
    fallback = globalcontext_make_atom(glb, ATOM_STR("\x8", "fallback"));
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ensure_free(SlotCount);
    ctx->e -= SlotCount;
    for (int i = 0; i < SlotCount; i++) {
        ctx->e[i] = term_nil();
    }

    *slot(SlotInput) = make_binary(data, size);
    /* The input again, inside a larger binary: past 64 bytes (refc) the
     * decoder gets a sub-binary and makes sub-binaries of it. */
    uint8_t *padded = malloc(size + 2);
    padded[0] = '[';
    memcpy(padded + 1, data, size);
    padded[size + 1] = ']';
    *slot(SlotPadded) = make_binary(padded, size + 2);
    free(padded);

    static const avm_int64_t depths[] = { 0, 1, 3, FRAMEWORK_MAX_DEPTH, 600, INT64_MAX };
    bool seen_ok = false;
    for (size_t i = 0; i < sizeof(depths) / sizeof(depths[0]); i++) {
        bool sub = depths[i] == FRAMEWORK_MAX_DEPTH;
        /* One allocation for both terms: a collection in between would
         * move the first one under its C local. */
        ensure_free(term_boxed_integer_size(depths[i]) + (sub ? term_sub_binary_heap_size(*slot(SlotPadded), size) : 0));
        term bin = sub ? term_maybe_create_sub_binary(*slot(SlotPadded), 1, size, &ctx->heap, glb) : *slot(SlotInput);
        term depth = term_make_maybe_boxed_int64(depths[i], &ctx->heap);
        term r = decode(bin, depth, data, size);
        if (check_decode_result(r, data, size)) {
            *slot(SlotDecoded) = term_get_tuple_element(r, 1);
            if (!seen_ok) {
                /* All accepted terms must be equal: one round trip will do. */
                *slot(SlotFirstOk) = *slot(SlotDecoded);
                seen_ok = true;
                round_trip(data, size);
            } else if (!equal(*slot(SlotFirstOk), *slot(SlotDecoded))) {
                die("json_decode gave different terms at different depth limits", data, size);
            }
        } else if (seen_ok) {
            die("json_decode rejected at a larger depth limit what it accepted at a smaller one", data, size);
        }
    }

    check_html(data, size);

    ctx->e += SlotCount;
    if (memory_ensure_free_opt(ctx, 0, MEMORY_FORCE_SHRINK) != MEMORY_GC_OK) {
        fprintf(stderr, "json_fuzz: out of memory while collecting\n");
        abort();
    }
    return 0;
}
