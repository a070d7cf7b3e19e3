/*
 * elixir-workers: libFuzzer harness for the JSON and HTML NIFs (json_nif.h).
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
#include <math.h>
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
/* json_encode.c's ENCODE_MAX_DEPTH: deeper terms are the Elixir encoder's. */
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

/* A collection that leaves exactly `words` free: with MinimumHeapGrowth
 * (set below) and MEMORY_FORCE_SHRINK the collector drops all garbage and
 * sizes the heap to the live data plus the request. The harness allocates
 * exactly that much before each NIF call, so the NIF starts with a full
 * heap, and when it collects (MEMORY_NO_SHRINK, as json_decode asks) there
 * is no garbage to leave slack: it gets what it asked for and no more. One
 * word written beyond that lands past heap_ptr == e, which call() catches.
 * (Heap and stack share one malloc block, so ASan cannot see that.) */
static void ensure_free(size_t words)
{
    if (memory_ensure_free_opt(ctx, words, MEMORY_FORCE_SHRINK) != MEMORY_GC_OK) {
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

/* Walks a term: returns its nesting (lists and maps count one level each)
 * and clears *sorted unless every map in it has its keys sorted in term
 * order and unique, as AtomVM requires of a map (equality, comparison and
 * maps:to_list depend on it; the decoder sorts and dedups keys itself).
 * Iterative: a document nests as deep as it is long. */
struct WalkItem
{
    term t;
    size_t depth;
};

static size_t walk(term root, bool *sorted)
{
    size_t cap = 64;
    size_t n = 0;
    size_t deepest = 0;
    struct WalkItem *stack = malloc(cap * sizeof(struct WalkItem));
    if (stack == NULL) {
        abort();
    }
    stack[n++] = (struct WalkItem) { root, 0 };
    while (n > 0) {
        struct WalkItem item = stack[--n];
        term t = item.t;
        size_t children = 0;
        if (term_is_list(t)) {
            for (term l = t; term_is_nonempty_list(l); l = term_get_list_tail(l)) {
                children++;
            }
        } else if (term_is_map(t)) {
            children = (size_t) term_get_map_size(t);
        } else {
            continue;
        }
        deepest = item.depth + 1 > deepest ? item.depth + 1 : deepest;
        if (n + children > cap) {
            cap = (n + children) * 2;
            stack = realloc(stack, cap * sizeof(struct WalkItem));
            if (stack == NULL) {
                abort();
            }
        }
        if (term_is_list(t)) {
            for (term l = t; term_is_nonempty_list(l); l = term_get_list_tail(l)) {
                stack[n++] = (struct WalkItem) { term_get_list_head(l), item.depth + 1 };
            }
        } else {
            for (size_t i = 0; i < children; i++) {
                if (i > 0 && term_compare(term_get_map_key(t, i - 1), term_get_map_key(t, i), TermCompareExact, glb) != TermLessThan) {
                    *sorted = false;
                }
                stack[n++] = (struct WalkItem) { term_get_map_value(t, i), item.depth + 1 };
            }
        }
    }
    free(stack);
    return deepest;
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

/* json_encode of the term in SlotDecoded (`name` names the call in
 * messages): fallback, or the binary, then also kept in SlotEncoded. */
static term encode_decoded(const char *name, const uint8_t *data, size_t size)
{
    ensure_free(0);
    term argv[1] = { *slot(SlotDecoded) };
    term enc = call(&json_encode_nif, 1, argv, name, data, size);
    if (enc == fallback) {
        return enc;
    }
    if (!term_is_binary(enc)) {
        char what[128];
        snprintf(what, sizeof(what), "%s returned neither a binary nor fallback", name);
        die(what, data, size);
    }
    *slot(SlotEncoded) = enc;
    return enc;
}

/* json_decode of SlotEncoded with no depth limit: its {ok, Term}, or
 * `rejected` and an abort. */
static term decode_encoded(const char *rejected, const uint8_t *data, size_t size)
{
    ensure_free(BOXED_INT64_SIZE);
    term big = term_make_maybe_boxed_int64(INT64_MAX, &ctx->heap);
    term r = decode(*slot(SlotEncoded), big, data, size);
    if (!check_decode_result(r, data, size)) {
        die(rejected, data, size);
    }
    return r;
}

static void round_trip(const uint8_t *data, size_t size)
{
    bool sorted = true;
    size_t nesting = walk(*slot(SlotDecoded), &sorted);
    if (!sorted) {
        die("json_decode made a map whose keys are not sorted and unique", data, size);
    }
    if (encode_decoded("json_encode", data, size) == fallback) {
        if (nesting <= ENCODE_MAX_DEPTH) {
            die("json_encode fell back on a term json_decode made", data, size);
        }
        return;
    }
    term r = decode_encoded("json_decode rejected what json_encode made", data, size);
    *slot(SlotDecodedAgain) = term_get_tuple_element(r, 1);
    if (!equal(*slot(SlotDecoded), *slot(SlotDecodedAgain))) {
        die("round trip: decode(encode(T)) differs from T", data, size);
    }

    ensure_free(0);
    term argv[1] = { *slot(SlotDecodedAgain) };
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

/* ------------------------------------------------------------------------ */
/* Encoding arbitrary terms. json_decode only ever makes JSON-shaped terms;  */
/* the framework hands json_encode whatever the application built. So the   */
/* same input bytes are also read as a recipe for a term of any kind:        */
/* integers at every width, floats including infinities and NaN, atoms       */
/* (non-ASCII ones too), binaries (invalid UTF-8 too), tuples, pids, proper  */
/* and improper lists, maps with binary, atom, integer and other keys.       */
/* The recipe also says whether the Elixir encoder could encode the term;    */
/* when it could, json_encode must not fall back, and whatever json_encode   */
/* returns must be JSON that json_decode accepts.                            */
/* ------------------------------------------------------------------------ */

struct Recipe
{
    const uint8_t *p;
    size_t n;
    size_t i;
};

static uint8_t take(struct Recipe *r)
{
    return r->i < r->n ? r->p[r->i++] : 0;
}

/* An independent strict UTF-8 check (no overlongs, surrogates or values
 * past U+10FFFF), as the encoder's `<<c::utf8>>` matching requires. */
static bool valid_utf8(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint32_t c = s[i];
        size_t k;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            k = 2;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            k = 3;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            k = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i < k) {
            return false;
        }
        for (size_t j = 1; j < k; j++) {
            if ((s[i + j] & 0xC0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (s[i + j] & 0x3F);
        }
        static const uint32_t min_cp[5] = { 0, 0, 0x80, 0x800, 0x10000 };
        if (cp < min_cp[k] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            return false;
        }
        i += k;
    }
    return true;
}

/* Heap words one recipe byte can cost at most. The worst is a map made
 * after the input ran out (take() then returns 0 without consuming): its
 * one op byte buys TERM_MAP_SIZE(4) = 11 words and four 1-byte binary keys
 * of 3 words, 23 in all. The whole term is allocated up front, so no
 * collection moves half-built terms, and the budget is checked after. */
#define WORDS_PER_RECIPE_BYTE 32

static const char *const recipe_atoms[] = {
    "\x3" "nil", "\x4" "true", "\x5" "false", "\x2" "ok", "\x5" "a\"b\\c", "\x4" "\xc3\xa9t\xc3\xa9",
};

/* Builds a term; *encodable is cleared when the Elixir encoder would raise
 * on it (so json_encode may fall back). Atoms' texts are ASCII-checked by
 * json_encode too: non-ASCII ones may fall back, never crash. */
static term make_term(struct Recipe *r, int depth, bool *encodable, bool *may_fall_back)
{
    if (depth > ENCODE_MAX_DEPTH) {
        *may_fall_back = true;
    }
    if (depth > ENCODE_MAX_DEPTH + 8) {
        return term_nil();
    }
    uint8_t op = take(r);
    switch (op % 12) {
        case 0: {
            /* An integer of 1..8 bytes, sign-extended. */
            int k = 1 + (op >> 4) % 8;
            uint64_t u = 0;
            for (int j = 0; j < k; j++) {
                u = (u << 8) | take(r);
            }
            int shift = 64 - 8 * k;
            int64_t v = shift ? (int64_t) (u << shift) >> shift : (int64_t) u;
            return term_make_maybe_boxed_int64(v, &ctx->heap);
        }
        case 1: {
            uint64_t u = 0;
            for (int j = 0; j < 8; j++) {
                u = (u << 8) | take(r);
            }
            double f;
            memcpy(&f, &u, sizeof(f));
            if (!isfinite(f)) {
                *may_fall_back = true;
            }
            return term_from_float(f, &ctx->heap);
        }
        case 2: {
            size_t a = (op >> 4) % (sizeof(recipe_atoms) / sizeof(recipe_atoms[0]));
            if (a >= 5) {
                *may_fall_back = true;
            }
            return globalcontext_make_atom(glb, recipe_atoms[a]);
        }
        case 3:
        case 4: {
            uint8_t bytes[16];
            size_t k = (op >> 4) % 16;
            for (size_t j = 0; j < k; j++) {
                bytes[j] = take(r);
            }
            if (!valid_utf8(bytes, k)) {
                *encodable = false;
            }
            return term_from_literal_binary(bytes, k, &ctx->heap, glb);
        }
        case 5: {
            *encodable = false;
            size_t k = (op >> 4) % 4;
            term t = term_alloc_tuple(k, &ctx->heap);
            for (size_t j = 0; j < k; j++) {
                term_put_tuple_element(t, j, make_term(r, depth + 1, encodable, may_fall_back));
            }
            return t;
        }
        case 6:
            *encodable = false;
            return term_from_local_process_id(1 + (op >> 4));
        case 7:
        case 8: {
            /* A list of up to 7 elements, improper when the high bit says so. */
            size_t k = (op >> 4) % 8;
            term elems[8];
            for (size_t j = 0; j < k; j++) {
                elems[j] = make_term(r, depth + 1, encodable, may_fall_back);
            }
            term tail = term_nil();
            if ((op & 0x80) && k > 0) {
                tail = make_term(r, depth + 1, encodable, may_fall_back);
                /* A list tail makes a proper list after all. */
                if (!term_is_list(tail)) {
                    *encodable = false;
                }
            }
            for (size_t j = k; j > 0; j--) {
                tail = term_list_prepend(elems[j - 1], tail, &ctx->heap);
            }
            return tail;
        }
        case 9:
        case 10: {
            /* A map of up to 4 pairs; keys sorted and unique as AtomVM
             * requires. */
            size_t k = (op >> 4) % 5;
            term keys[4];
            term values[4];
            size_t unique = 0;
            for (size_t j = 0; j < k; j++) {
                /* A pair dropped as a duplicate must not count. */
                bool pair_encodable = true;
                bool pair_may_fall_back = false;
                uint8_t kind = take(r) % 4;
                term key;
                if (kind == 3) {
                    key = make_term(r, depth + 1, &pair_encodable, &pair_may_fall_back);
                    if (!term_is_binary(key) && !term_is_atom(key) && !term_is_any_integer(key)) {
                        pair_encodable = false;
                    }
                } else if (kind == 2) {
                    key = term_from_int(take(r) % 8);
                } else if (kind == 1) {
                    size_t a = take(r) % 4;
                    key = globalcontext_make_atom(glb, recipe_atoms[a]);
                } else {
                    uint8_t c = 'a' + take(r) % 4;
                    key = term_from_literal_binary(&c, 1, &ctx->heap, glb);
                }
                term value = make_term(r, depth + 1, &pair_encodable, &pair_may_fall_back);
                size_t at = unique;
                bool duplicate = false;
                for (size_t m = 0; m < unique; m++) {
                    TermCompareResult c = term_compare(key, keys[m], TermCompareExact, glb);
                    if (c == TermEquals) {
                        duplicate = true;
                        break;
                    }
                    if (c == TermLessThan) {
                        at = m;
                        break;
                    }
                }
                if (duplicate) {
                    continue;
                }
                *encodable = *encodable && pair_encodable;
                *may_fall_back = *may_fall_back || pair_may_fall_back;
                memmove(keys + at + 1, keys + at, (unique - at) * sizeof(term));
                memmove(values + at + 1, values + at, (unique - at) * sizeof(term));
                keys[at] = key;
                values[at] = value;
                unique++;
            }
            term map = term_alloc_map(unique, &ctx->heap);
            for (size_t j = 0; j < unique; j++) {
                term_set_map_assoc(map, j, keys[j], values[j]);
            }
            return map;
        }
        default:
            /* Nesting: one more level around the next term. */
            return term_list_prepend(make_term(r, depth + 1, encodable, may_fall_back), term_nil(), &ctx->heap);
    }
}

/* Recipes are read from the first bytes only: the heap budget grows with
 * the recipe, and a 10 MB body would ask for over a gigabyte. */
#define RECIPE_MAX_BYTES 65536

static void check_encode_any(const uint8_t *data, size_t size)
{
    size_t recipe_len = size < RECIPE_MAX_BYTES ? size : RECIPE_MAX_BYTES;
    struct Recipe r = { .p = data, .n = recipe_len, .i = 0 };
    ensure_free(WORDS_PER_RECIPE_BYTE * (recipe_len + 1) + 64);
    bool encodable = true;
    bool may_fall_back = false;
    *slot(SlotDecoded) = make_term(&r, 0, &encodable, &may_fall_back);
    if (ctx->heap.heap_ptr > ctx->e) {
        fprintf(stderr, "json_fuzz: the recipe outgrew its heap budget\n");
        abort();
    }

    term enc = encode_decoded("json_encode (any term)", data, size);
    if (enc == fallback) {
        if (encodable && !may_fall_back) {
            die("json_encode fell back on a term the Elixir encoder encodes", data, size);
        }
        return;
    }
    if (!encodable) {
        fprintf(stderr, "term: ");
        term_fprint(stderr, *slot(SlotDecoded), glb);
        fprintf(stderr, "\njson: %.*s\n", (int) term_binary_size(enc), term_binary_data(enc));
        die("json_encode encoded a term the Elixir encoder raises on", data, size);
    }
    decode_encoded("json_encode (any term) made text json_decode rejects", data, size);
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
    check_encode_any(data, size);

    ctx->e += SlotCount;
    if (memory_ensure_free_opt(ctx, 0, MEMORY_FORCE_SHRINK) != MEMORY_GC_OK) {
        fprintf(stderr, "json_fuzz: out of memory while collecting\n");
        abort();
    }
    return 0;
}
