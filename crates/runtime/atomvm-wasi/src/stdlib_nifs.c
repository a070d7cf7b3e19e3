/*
 * elixir-workers: AtomVM platform adapter for WASI preview1.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Functions of OTP's stdlib that Elixir's own stdlib calls and AtomVM's
 * core lacks, as NIFs (AtomVM resolves a call to a NIF before it looks in
 * the module of that name, so these complete AtomVM's `binary` and `maps`):
 *
 *   binary:matches/2,3        (Subject, Pattern | [Pattern], [{scope, {S, L}}])
 *                             -> [{Pos, Len}]: non-overlapping, from the left,
 *                             the longest pattern where several start at once
 *                             (String.replace/3, String.split with a list)
 *   binary:split/2,3          (Subject, Pattern | [Pattern], [global | trim |
 *                             trim_all | {scope, {S, L}}]) -> parts, as OTP's
 *                             (String.split/1,2,3). It replaces AtomVM's own,
 *                             which takes one pattern and no trim options: the
 *                             runtime build leaves AtomVM's out of its NIF table.
 *   binary:compile_pattern/1  Pattern | [Pattern] -> itself, checked: the
 *                             NIFs here take plain patterns as they are
 *   maps:take/2               (Key, Map) -> {Value, MapWithoutKey} | error
 *                             (Map.pop/2,3)
 *   erlang:append_element/2   (Tuple, Term) -> Tuple with Term added at the
 *                             end (Tuple.append/2)
 *   erlang:float_to_list/2, float_to_binary/2
 *                             (Float, Options) as OTP 25 writes them, with
 *                             `short` (io_lib_format:fwrite_g/1: Float.to_string,
 *                             interpolation and inspect of floats); they
 *                             replace AtomVM's, which lack it. The text comes
 *                             from float_format.c.
 *   binary:at/2, first/1, last/1
 *                             the byte as 0..255: AtomVM's read it through a
 *                             signed char, so bytes of 128 and up came back
 *                             negative on wasm32 (where char is signed).
 *   erlang:binary_to_float/1, list_to_float/1
 *                             OTP's syntax ([+-]digits.digits[e[+-]digits]),
 *                             any length, and badarg past the double range
 *                             (AtomVM's give infinity there, so Float.parse/1
 *                             took an overflow for a number); they replace
 *                             AtomVM's.
 *   'Elixir.Float':round/1,2, ceil/1,2, floor/1,2
 *                             Elixir 1.14's decimal rounding, which splits a
 *                             float into bits AtomVM cannot match (it has no
 *                             bitstrings that are not whole bytes); a NIF of
 *                             the function's name answers calls from other
 *                             modules in its place (float_round.c). An
 *                             invalid precision raises Elixir's ArgumentError.
 *   persistent_term:get/1,2, put/2, erase/1
 *                             OTP's global key-value store (Elixir's
 *                             `inspect/1` reads its default inspect function
 *                             from it). Keys and values are kept in external
 *                             term format in C memory; `get` decodes a copy.
 */

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <defaultatoms.h>
#include <externalterm.h>
#include <globalcontext.h>
#include <memory.h>
#include <nifs.h>
#include <term.h>
#include <utils.h>

#include "float_format.h"
#include "float_round.h"
#include "stdlib_nifs.h"

/* The most patterns one call takes (Elixir passes a handful). */
#define MAX_PATTERNS 64

struct Patterns
{
    size_t count;
    const uint8_t *data[MAX_PATTERNS];
    size_t len[MAX_PATTERNS];
};

/* A nonempty binary, or a nonempty list of nonempty binaries. */
static bool read_patterns(term t, struct Patterns *p)
{
    p->count = 0;
    if (term_is_binary(t)) {
        if (term_binary_size(t) == 0) {
            return false;
        }
        p->data[0] = (const uint8_t *) term_binary_data(t);
        p->len[0] = term_binary_size(t);
        p->count = 1;
        return true;
    }
    if (!term_is_nonempty_list(t)) {
        return false;
    }
    while (term_is_nonempty_list(t)) {
        term head = term_get_list_head(t);
        if (!term_is_binary(head) || term_binary_size(head) == 0 || p->count == MAX_PATTERNS) {
            return false;
        }
        p->data[p->count] = (const uint8_t *) term_binary_data(head);
        p->len[p->count] = term_binary_size(head);
        p->count++;
        t = term_get_list_tail(t);
    }
    return term_is_nil(t);
}

/* The length of the longest pattern at `at`, or 0. */
static size_t longest_at(const struct Patterns *p, const uint8_t *s, size_t at, size_t end)
{
    size_t best = 0;
    for (size_t i = 0; i < p->count; i++) {
        size_t n = p->len[i];
        if (n > best && n <= end - at && memcmp(s + at, p->data[i], n) == 0) {
            best = n;
        }
    }
    return best;
}

/* {Start, Length} of a {scope, _} option as [*start, *end) of a subject of
 * `size` bytes; a negative length counts back from Start, as OTP's. False
 * when it is not such a pair or does not fit. */
static bool read_scope(term scope, size_t size, size_t *start, size_t *end)
{
    if (!term_is_tuple(scope) || term_get_tuple_arity(scope) != 2
        || !term_is_integer(term_get_tuple_element(scope, 0))
        || !term_is_integer(term_get_tuple_element(scope, 1))) {
        return false;
    }
    avm_int_t s = term_to_int(term_get_tuple_element(scope, 0));
    avm_int_t l = term_to_int(term_get_tuple_element(scope, 1));
    if (l < 0) {
        s += l;
        l = -l;
    }
    if (s < 0 || (size_t) s > size || (size_t) l > size - (size_t) s) {
        return false;
    }
    *start = (size_t) s;
    *end = (size_t) s + (size_t) l;
    return true;
}

static bool is_atom(Context *ctx, term t, AtomString name)
{
    return term_is_atom(t) && globalcontext_is_term_equal_to_atom_string(ctx->global, t, name);
}

/* binary:split/3's flags; binary:matches/3 takes none of them. */
struct SplitFlags
{
    bool global;
    bool trim;
    bool trim_all;
};

/* The options list of binary:matches/3 ([{scope, _}]) or, given `flags`,
 * of binary:split/3 (also global, trim and trim_all), read into [*start,
 * *end) of a subject of `size` bytes and `flags`. False on anything else. */
static bool read_options(Context *ctx, term opts, size_t size, size_t *start, size_t *end, struct SplitFlags *flags)
{
    while (term_is_nonempty_list(opts)) {
        term opt = term_get_list_head(opts);
        if (flags && is_atom(ctx, opt, (AtomString) "\x6" "global")) {
            flags->global = true;
        } else if (flags && is_atom(ctx, opt, (AtomString) "\x4" "trim")) {
            flags->trim = true;
        } else if (flags && is_atom(ctx, opt, (AtomString) "\x8" "trim_all")) {
            flags->trim_all = true;
        } else if (!(term_is_tuple(opt) && term_get_tuple_arity(opt) == 2
                       && is_atom(ctx, term_get_tuple_element(opt, 0), (AtomString) "\x5" "scope")
                       && read_scope(term_get_tuple_element(opt, 1), size, start, end))) {
            return false;
        }
        opts = term_get_list_tail(opts);
    }
    return term_is_nil(opts);
}

/* binary:matches/2,3 and, given `flags` to read from its options,
 * binary:split/2,3: where the patterns argv[1] match in the subject argv[0]
 * within the options' scope: non-overlapping, from the left, the longest
 * where several start at once (the longest match decides where the next
 * may start); for split without global only the first. Match i starts at
 * spans[2i] and is spans[2i + 1] bytes long; the array, which the caller
 * frees, has room for one pair more. NULL, with *error what to raise, on
 * bad arguments or when out of memory. */
static size_t *search(Context *ctx, int argc, term argv[], struct SplitFlags *flags, size_t *found, term *error)
{
    term subject = argv[0];
    struct Patterns p;
    if (!term_is_binary(subject) || !read_patterns(argv[1], &p)) {
        *error = BADARG_ATOM;
        return NULL;
    }
    size_t size = term_binary_size(subject);
    size_t start = 0;
    size_t end = size;
    if (argc == 3 && !read_options(ctx, argv[2], size, &start, &end, flags)) {
        *error = BADARG_ATOM;
        return NULL;
    }
    bool all = flags == NULL || flags->global;
    const uint8_t *s = (const uint8_t *) term_binary_data(subject);
    size_t cap = 16;
    *found = 0;
    size_t *spans = malloc(cap * 2 * sizeof(size_t));
    if (IS_NULL_PTR(spans)) {
        *error = OUT_OF_MEMORY_ATOM;
        return NULL;
    }
    for (size_t at = start; at < end;) {
        size_t n = longest_at(&p, s, at, end);
        if (n == 0) {
            at++;
            continue;
        }
        if (*found + 1 == cap) {
            cap *= 2;
            size_t *grown = realloc(spans, cap * 2 * sizeof(size_t));
            if (IS_NULL_PTR(grown)) {
                free(spans);
                *error = OUT_OF_MEMORY_ATOM;
                return NULL;
            }
            spans = grown;
        }
        spans[*found * 2] = at;
        spans[*found * 2 + 1] = n;
        (*found)++;
        at += n;
        if (!all) {
            break;
        }
    }
    return spans;
}

static term nif_binary_compile_pattern(Context *ctx, int argc, term argv[])
{
    UNUSED(argc);
    struct Patterns p;
    if (!read_patterns(argv[0], &p)) {
        RAISE_ERROR(BADARG_ATOM);
    }
    UNUSED(ctx);
    return argv[0];
}

static term nif_binary_matches(Context *ctx, int argc, term argv[])
{
    /* Find every match first, then grow the heap once and build the list
     * from its end. */
    size_t found;
    term error;
    size_t *spans = search(ctx, argc, argv, NULL, &found, &error);
    if (IS_NULL_PTR(spans)) {
        RAISE_ERROR(error);
    }
    if (UNLIKELY(memory_ensure_free_with_roots(ctx, found * (TUPLE_SIZE(2) + CONS_SIZE), argc, argv, MEMORY_CAN_SHRINK) != MEMORY_GC_OK)) {
        free(spans);
        RAISE_ERROR(OUT_OF_MEMORY_ATOM);
    }
    term list = term_nil();
    for (size_t i = found; i > 0; i--) {
        term tuple = term_alloc_tuple(2, &ctx->heap);
        term_put_tuple_element(tuple, 0, term_from_int((avm_int_t) spans[(i - 1) * 2]));
        term_put_tuple_element(tuple, 1, term_from_int((avm_int_t) spans[(i - 1) * 2 + 1]));
        list = term_list_prepend(tuple, list, &ctx->heap);
    }
    free(spans);
    return list;
}

static term nif_binary_split(Context *ctx, int argc, term argv[])
{
    /* The parts' bounds, in place of the matches' spans: part i runs from
     * bounds[2i] for bounds[2i+1] bytes, from the end of match i - 1 (or
     * the start) to the start of match i (or the end). */
    struct SplitFlags flags = { false, false, false };
    size_t parts;
    term error;
    size_t *bounds = search(ctx, argc, argv, &flags, &parts, &error);
    if (IS_NULL_PTR(bounds)) {
        RAISE_ERROR(error);
    }
    term subject = argv[0];
    size_t size = term_binary_size(subject);
    size_t from = 0;
    for (size_t i = 0; i < parts; i++) {
        size_t at = bounds[i * 2];
        size_t n = bounds[i * 2 + 1];
        bounds[i * 2] = from;
        bounds[i * 2 + 1] = at - from;
        from = at + n;
    }
    bounds[parts * 2] = from;
    bounds[parts * 2 + 1] = size - from;
    parts++;

    /* trim drops the empty parts at the end, trim_all every empty part. */
    size_t last = parts;
    if (flags.trim || flags.trim_all) {
        while (last > 0 && bounds[(last - 1) * 2 + 1] == 0) {
            last--;
        }
    }
    size_t heap = 0;
    for (size_t i = 0; i < last; i++) {
        if (!(flags.trim_all && bounds[i * 2 + 1] == 0)) {
            heap += CONS_SIZE + term_sub_binary_heap_size(subject, bounds[i * 2 + 1]);
        }
    }
    if (UNLIKELY(memory_ensure_free_with_roots(ctx, heap, argc, argv, MEMORY_CAN_SHRINK) != MEMORY_GC_OK)) {
        free(bounds);
        RAISE_ERROR(OUT_OF_MEMORY_ATOM);
    }
    subject = argv[0];
    term list = term_nil();
    for (size_t i = last; i > 0; i--) {
        size_t len = bounds[(i - 1) * 2 + 1];
        if (flags.trim_all && len == 0) {
            continue;
        }
        term part = term_maybe_create_sub_binary(subject, bounds[(i - 1) * 2], len, &ctx->heap, ctx->global);
        list = term_list_prepend(part, list, &ctx->heap);
    }
    free(bounds);
    return list;
}

static term nif_maps_take(Context *ctx, int argc, term argv[])
{
    UNUSED(argc);
    term map = argv[1];
    if (!term_is_map(map)) {
        RAISE_ERROR(BADARG_ATOM);
    }
    int pos = term_find_map_pos(map, argv[0], ctx->global);
    if (pos == TERM_MAP_MEMORY_ALLOC_FAIL) {
        RAISE_ERROR(OUT_OF_MEMORY_ATOM);
    }
    if (pos == TERM_MAP_NOT_FOUND) {
        return ERROR_ATOM;
    }
    size_t n = term_get_map_size(map);
    if (UNLIKELY(memory_ensure_free_with_roots(ctx, term_map_size_in_terms(n - 1) + TUPLE_SIZE(2), argc, argv, MEMORY_CAN_SHRINK) != MEMORY_GC_OK)) {
        RAISE_ERROR(OUT_OF_MEMORY_ATOM);
    }
    map = argv[1];
    term value = term_get_map_value(map, pos);
    term rest = term_alloc_map(n - 1, &ctx->heap);
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if ((int) i == pos) {
            continue;
        }
        term_set_map_assoc(rest, j++, term_get_map_key(map, i), term_get_map_value(map, i));
    }
    term result = term_alloc_tuple(2, &ctx->heap);
    term_put_tuple_element(result, 0, value);
    term_put_tuple_element(result, 1, rest);
    return result;
}

static term nif_erlang_append_element(Context *ctx, int argc, term argv[])
{
    if (!term_is_tuple(argv[0])) {
        RAISE_ERROR(BADARG_ATOM);
    }
    int n = term_get_tuple_arity(argv[0]);
    if (UNLIKELY(memory_ensure_free_with_roots(ctx, TUPLE_SIZE(n + 1), argc, argv, MEMORY_CAN_SHRINK) != MEMORY_GC_OK)) {
        RAISE_ERROR(OUT_OF_MEMORY_ATOM);
    }
    term tuple = argv[0];
    term result = term_alloc_tuple(n + 1, &ctx->heap);
    for (int i = 0; i < n; i++) {
        term_put_tuple_element(result, i, term_get_tuple_element(tuple, i));
    }
    term_put_tuple_element(result, n, argv[1]);
    return result;
}

/* float_to_list/2 and float_to_binary/2 options, read as OTP 25 reads them
 * (float_format.h): left to right, the last of short, {decimals, N} and
 * {scientific, N} wins; compact anywhere; anything else is badarg. */
static bool read_float_options(Context *ctx, term options, struct FloatFormat *fmt)
{
    fmt->kind = FLOAT_FORMAT_SCIENTIFIC;
    fmt->digits = 20;
    fmt->compact = false;
    while (term_is_nonempty_list(options)) {
        term o = term_get_list_head(options);
        if (is_atom(ctx, o, ATOM_STR("\x5", "short"))) {
            fmt->kind = FLOAT_FORMAT_SHORT;
        } else if (is_atom(ctx, o, ATOM_STR("\x7", "compact"))) {
            fmt->compact = true;
        } else if (term_is_tuple(o) && term_get_tuple_arity(o) == 2 && term_is_integer(term_get_tuple_element(o, 1))) {
            term key = term_get_tuple_element(o, 0);
            int n = (int) term_to_int(term_get_tuple_element(o, 1));
            if (is_atom(ctx, key, ATOM_STR("\x8", "decimals"))) {
                fmt->kind = FLOAT_FORMAT_DECIMALS;
            } else if (is_atom(ctx, key, ATOM_STR("\xA", "scientific"))) {
                fmt->kind = FLOAT_FORMAT_SCIENTIFIC;
            } else {
                return false;
            }
            fmt->digits = n;
        } else {
            return false;
        }
        options = term_get_list_tail(options);
    }
    return term_is_nil(options);
}

static term float_to_text(Context *ctx, int argc, term argv[], bool binary)
{
    if (!term_is_float(argv[0])) {
        RAISE_ERROR(BADARG_ATOM);
    }
    struct FloatFormat fmt;
    if (!read_float_options(ctx, argv[1], &fmt)) {
        RAISE_ERROR(BADARG_ATOM);
    }
    char buf[FLOAT_FORMAT_MIN_BUF];
    int len = float_format(term_to_float(argv[0]), &fmt, buf, sizeof(buf));
    if (len < 0) {
        RAISE_ERROR(BADARG_ATOM);
    }
    size_t need = binary ? term_binary_heap_size(len) : (size_t) len * CONS_SIZE;
    if (UNLIKELY(memory_ensure_free_with_roots(ctx, need, argc, argv, MEMORY_CAN_SHRINK) != MEMORY_GC_OK)) {
        RAISE_ERROR(OUT_OF_MEMORY_ATOM);
    }
    if (binary) {
        return term_from_literal_binary(buf, len, &ctx->heap, ctx->global);
    }
    return term_from_string((const uint8_t *) buf, (uint16_t) len, &ctx->heap);
}

static term nif_erlang_float_to_list(Context *ctx, int argc, term argv[])
{
    return float_to_text(ctx, argc, argv, false);
}

static term nif_erlang_float_to_binary(Context *ctx, int argc, term argv[])
{
    return float_to_text(ctx, argc, argv, true);
}

/* The byte of `bin` at `pos` (negative: from the end), or badarg. */
static term byte_at(Context *ctx, term bin, avm_int_t pos)
{
    if (!term_is_binary(bin)) {
        RAISE_ERROR(BADARG_ATOM);
    }
    avm_int_t size = (avm_int_t) term_binary_size(bin);
    if (pos < 0) {
        pos += size;
    }
    if (pos < 0 || pos >= size) {
        RAISE_ERROR(BADARG_ATOM);
    }
    return term_from_int11(((const uint8_t *) term_binary_data(bin))[pos]);
}

static term nif_binary_at(Context *ctx, int argc, term argv[])
{
    UNUSED(argc);
    if (!term_is_integer(argv[1]) || term_to_int(argv[1]) < 0) {
        RAISE_ERROR(BADARG_ATOM);
    }
    return byte_at(ctx, argv[0], term_to_int(argv[1]));
}

static term nif_binary_first(Context *ctx, int argc, term argv[])
{
    UNUSED(argc);
    return byte_at(ctx, argv[0], 0);
}

static term nif_binary_last(Context *ctx, int argc, term argv[])
{
    UNUSED(argc);
    return byte_at(ctx, argv[0], -1);
}

/* The float in text[0..len) if it is one in OTP's syntax and in the double
 * range: [+-] digits "." digits, then optionally [eE] [+-] digits. */
static bool parse_otp_float(const char *text, size_t len, double *out)
{
    size_t i = 0;
    if (i < len && (text[i] == '+' || text[i] == '-')) {
        i++;
    }
    size_t digits = i;
    while (i < len && text[i] >= '0' && text[i] <= '9') {
        i++;
    }
    if (i == digits || i >= len || text[i] != '.') {
        return false;
    }
    digits = ++i;
    while (i < len && text[i] >= '0' && text[i] <= '9') {
        i++;
    }
    if (i == digits) {
        return false;
    }
    if (i < len && (text[i] == 'e' || text[i] == 'E')) {
        i++;
        if (i < len && (text[i] == '+' || text[i] == '-')) {
            i++;
        }
        digits = i;
        while (i < len && text[i] >= '0' && text[i] <= '9') {
            i++;
        }
        if (i == digits) {
            return false;
        }
    }
    if (i != len) {
        return false;
    }
    // strtod needs a NUL; the text is syntax-checked, so it reads all of it.
    char small[64];
    char *copy = len < sizeof(small) ? small : malloc(len + 1);
    if (copy == NULL) {
        return false;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    double value = strtod(copy, NULL);
    if (copy != small) {
        free(copy);
    }
    if (!isfinite(value)) {
        return false;
    }
    *out = value;
    return true;
}

static term make_float(Context *ctx, int argc, term argv[], double value)
{
    if (UNLIKELY(memory_ensure_free_with_roots(ctx, FLOAT_SIZE, argc, argv, MEMORY_CAN_SHRINK) != MEMORY_GC_OK)) {
        RAISE_ERROR(OUT_OF_MEMORY_ATOM);
    }
    return term_from_float(value, &ctx->heap);
}

static term nif_erlang_binary_to_float(Context *ctx, int argc, term argv[])
{
    double value;
    if (!term_is_binary(argv[0])
        || !parse_otp_float(term_binary_data(argv[0]), term_binary_size(argv[0]), &value)) {
        RAISE_ERROR(BADARG_ATOM);
    }
    return make_float(ctx, argc, argv, value);
}

static term nif_erlang_list_to_float(Context *ctx, int argc, term argv[])
{
    // A float's text in OTP's syntax is short; anything longer than this
    // is still read, from a heap copy.
    char small[64];
    size_t len = 0;
    term t = argv[0];
    while (term_is_nonempty_list(t)) {
        len++;
        t = term_get_list_tail(t);
    }
    if (!term_is_nil(t)) {
        RAISE_ERROR(BADARG_ATOM);
    }
    char *text = len <= sizeof(small) ? small : malloc(len);
    if (text == NULL) {
        RAISE_ERROR(OUT_OF_MEMORY_ATOM);
    }
    bool chars = true;
    t = argv[0];
    for (size_t i = 0; i < len; i++, t = term_get_list_tail(t)) {
        term c = term_get_list_head(t);
        if (!term_is_integer(c) || term_to_int(c) < 0 || term_to_int(c) > 127) {
            chars = false;
            break;
        }
        text[i] = (char) term_to_int(c);
    }
    double value;
    bool ok = chars && parse_otp_float(text, len, &value);
    if (text != small) {
        free(text);
    }
    if (!ok) {
        RAISE_ERROR(BADARG_ATOM);
    }
    return make_float(ctx, argc, argv, value);
}

/* %ArgumentError{message: "precision P is out of valid range of 0..15"},
 * the exception Float.round/2 and friends raise, as the struct itself. */
static term precision_error(Context *ctx, avm_int_t precision)
{
    char text[80];
    int len = snprintf(text, sizeof(text), "precision %ld is out of valid range of 0..15", (long) precision);
    if (UNLIKELY(memory_ensure_free(ctx, term_map_size_in_terms(3) + term_binary_heap_size(len)) != MEMORY_GC_OK)) {
        return OUT_OF_MEMORY_ATOM;
    }
    GlobalContext *glb = ctx->global;
    term error = term_alloc_map(3, &ctx->heap);
    // Keys in term order.
    term_set_map_assoc(error, 0, globalcontext_make_atom(glb, ATOM_STR("\xD", "__exception__")), TRUE_ATOM);
    term_set_map_assoc(error, 1, globalcontext_make_atom(glb, ATOM_STR("\xA", "__struct__")),
        globalcontext_make_atom(glb, ATOM_STR("\x14", "Elixir.ArgumentError")));
    term_set_map_assoc(error, 2, globalcontext_make_atom(glb, ATOM_STR("\x7", "message")),
        term_from_literal_binary(text, len, &ctx->heap, glb));
    return error;
}

static term float_round_nif(Context *ctx, int argc, term argv[], enum FloatRoundMode mode)
{
    if (!term_is_float(argv[0])) {
        RAISE_ERROR(FUNCTION_CLAUSE_ATOM);
    }
    avm_int_t precision = 0;
    if (argc == 2) {
        if (!term_is_integer(argv[1])) {
            RAISE_ERROR(BADARG_ATOM);
        }
        precision = term_to_int(argv[1]);
        if (precision < 0 || precision > 15) {
            RAISE_ERROR(precision_error(ctx, precision));
        }
    }
    return make_float(ctx, argc, argv, float_round(term_to_float(argv[0]), (int) precision, mode));
}

static term nif_float_round(Context *ctx, int argc, term argv[])
{
    return float_round_nif(ctx, argc, argv, FLOAT_ROUND_HALF_UP);
}

static term nif_float_ceil(Context *ctx, int argc, term argv[])
{
    return float_round_nif(ctx, argc, argv, FLOAT_ROUND_CEIL);
}

static term nif_float_floor(Context *ctx, int argc, term argv[])
{
    return float_round_nif(ctx, argc, argv, FLOAT_ROUND_FLOOR);
}

/* persistent_term: entries in external term format. A value is never
 * freed, not even by erase/1 or a later put/2: the terms `get` returns
 * point into it (binaries are not copied out), and a process may still hold
 * one. Every run of the worker starts from the boot snapshot, so what a run
 * stores ends with it. */
struct PersistentTerm
{
    uint8_t *key;
    size_t key_len;
    uint8_t *value;
    size_t value_len;
    bool erased;
};

static struct PersistentTerm *persistent_terms;
static size_t persistent_terms_len;
static size_t persistent_terms_cap;

/* `t` in external term format, in C memory; NULL on failure. */
static uint8_t *serialize(term t, size_t *len, GlobalContext *global)
{
    if (externalterm_compute_external_size(t, len, global) != EXTERNAL_TERM_OK) {
        return NULL;
    }
    uint8_t *buf = malloc(*len);
    if (IS_NULL_PTR(buf)) {
        return NULL;
    }
    if (externalterm_serialize_term(buf, t, global) != EXTERNAL_TERM_OK) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* The live entry whose key serializes to `key`, or NULL. */
static struct PersistentTerm *find_persistent(const uint8_t *key, size_t key_len)
{
    for (size_t i = 0; i < persistent_terms_len; i++) {
        struct PersistentTerm *e = &persistent_terms[i];
        if (!e->erased && e->key_len == key_len && memcmp(e->key, key, key_len) == 0) {
            return e;
        }
    }
    return NULL;
}

static term persistent_get(Context *ctx, term key, term default_value, bool has_default)
{
    size_t len;
    uint8_t *k = serialize(key, &len, ctx->global);
    if (IS_NULL_PTR(k)) {
        RAISE_ERROR(OUT_OF_MEMORY_ATOM);
    }
    struct PersistentTerm *e = find_persistent(k, len);
    free(k);
    if (e == NULL) {
        if (has_default) {
            return default_value;
        }
        RAISE_ERROR(BADARG_ATOM);
    }
    term value = externalterm_from_const_literal(e->value, e->value_len, ctx);
    if (term_is_invalid_term(value)) {
        RAISE_ERROR(OUT_OF_MEMORY_ATOM);
    }
    return value;
}

static term nif_persistent_term_get(Context *ctx, int argc, term argv[])
{
    return persistent_get(ctx, argv[0], argc == 2 ? argv[1] : term_invalid_term(), argc == 2);
}

static term nif_persistent_term_put(Context *ctx, int argc, term argv[])
{
    UNUSED(argc);
    size_t key_len;
    size_t value_len;
    uint8_t *key = serialize(argv[0], &key_len, ctx->global);
    uint8_t *value = IS_NULL_PTR(key) ? NULL : serialize(argv[1], &value_len, ctx->global);
    if (IS_NULL_PTR(value)) {
        free(key);
        RAISE_ERROR(OUT_OF_MEMORY_ATOM);
    }
    struct PersistentTerm *e = find_persistent(key, key_len);
    if (e != NULL) {
        free(key);
        e->value = value;
        e->value_len = value_len;
        return OK_ATOM;
    }
    if (persistent_terms_len == persistent_terms_cap) {
        size_t cap = persistent_terms_cap ? persistent_terms_cap * 2 : 8;
        struct PersistentTerm *grown = realloc(persistent_terms, cap * sizeof(*grown));
        if (IS_NULL_PTR(grown)) {
            free(key);
            free(value);
            RAISE_ERROR(OUT_OF_MEMORY_ATOM);
        }
        persistent_terms = grown;
        persistent_terms_cap = cap;
    }
    persistent_terms[persistent_terms_len++] = (struct PersistentTerm) {
        .key = key, .key_len = key_len, .value = value, .value_len = value_len, .erased = false
    };
    return OK_ATOM;
}

static term nif_persistent_term_erase(Context *ctx, int argc, term argv[])
{
    UNUSED(argc);
    size_t len;
    uint8_t *k = serialize(argv[0], &len, ctx->global);
    if (IS_NULL_PTR(k)) {
        RAISE_ERROR(OUT_OF_MEMORY_ATOM);
    }
    struct PersistentTerm *e = find_persistent(k, len);
    free(k);
    if (e == NULL) {
        return FALSE_ATOM;
    }
    e->erased = true;
    return TRUE_ATOM;
}

#define EXPORT_NIF(var, fun) const struct Nif var = ADAPTER_NIF(fun)

EXPORT_NIF(persistent_term_get_nif, nif_persistent_term_get);
EXPORT_NIF(persistent_term_put_nif, nif_persistent_term_put);
EXPORT_NIF(persistent_term_erase_nif, nif_persistent_term_erase);
EXPORT_NIF(binary_split_nif_ew, nif_binary_split);
EXPORT_NIF(binary_matches_nif, nif_binary_matches);
EXPORT_NIF(binary_compile_pattern_nif, nif_binary_compile_pattern);
EXPORT_NIF(maps_take_nif, nif_maps_take);
EXPORT_NIF(erlang_append_element_nif, nif_erlang_append_element);
EXPORT_NIF(erlang_float_to_list_nif_ew, nif_erlang_float_to_list);
EXPORT_NIF(erlang_float_to_binary_nif_ew, nif_erlang_float_to_binary);
EXPORT_NIF(binary_at_nif_ew, nif_binary_at);
EXPORT_NIF(binary_first_nif_ew, nif_binary_first);
EXPORT_NIF(binary_last_nif_ew, nif_binary_last);
EXPORT_NIF(erlang_binary_to_float_nif_ew, nif_erlang_binary_to_float);
EXPORT_NIF(erlang_list_to_float_nif_ew, nif_erlang_list_to_float);
EXPORT_NIF(elixir_float_round_nif, nif_float_round);
EXPORT_NIF(elixir_float_ceil_nif, nif_float_ceil);
EXPORT_NIF(elixir_float_floor_nif, nif_float_floor);

