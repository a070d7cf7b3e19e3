/*
 * elixir-workers: AtomVM platform adapter for WASI preview1.
 * SPDX-License-Identifier: Apache-2.0
 *
 * wasi:json_decode/2  (Bin, MaxDepth) -> {ok, Term} | {error, Message} | fallback
 *
 * The fast path of ElixirWorkers.JSON.decode on AtomVM (json_nif.h says
 * why these NIFs exist and what holds them to the Elixir code). The document
 * is walked twice: the first pass validates it and counts exactly the heap
 * words the result needs, then the heap is made large enough once and the
 * second pass builds the terms with no GC in between. The walk is iterative,
 * with an explicit stack of open containers.
 */

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <defaultatoms.h>
#include <globalcontext.h>
#include <memory.h>
#include <nifs.h>
#include <term.h>
#include <utils.h>

#include "json_atoms.h"
#include "json_nif.h"
#include "utf8.h"

enum DecodeStatus
{
    DecodeOk,
    DecodeError, /* message + offset */
    DecodeDepth, /* "nesting deeper than" + offset */
    DecodeFallback,
    DecodeNoMemory
};

enum ContainerKind
{
    InArray,
    InObject
};

struct Container
{
    enum ContainerKind kind;
    size_t base; /* index of the first element (terms) or pair (pairs) */
    size_t count;
};

struct Pair
{
    term key;
    term value;
    size_t idx; /* position in the document: the first of equal keys wins */
};

struct Decoder
{
    const uint8_t *buf;
    size_t len;
    size_t max_depth;
    bool build; /* false: validate and count; true: make the terms */

    /* pass 1 */
    size_t heap_words;

    /* pass 2 */
    Context *ctx;
    term input;
    uint8_t *scratch; /* decoded strings; never longer than their source */
    term *terms;
    size_t n_terms, cap_terms;
    struct Pair *pairs;
    size_t n_pairs, cap_pairs;

    term nil;

    /* both */
    struct Container *stack;
    size_t depth;

    enum DecodeStatus status;
    const char *message;
    size_t offset;
};

static bool fail(struct Decoder *d, const char *message, size_t offset)
{
    d->status = DecodeError;
    d->message = message;
    d->offset = offset;
    return false;
}

static size_t skip_ws(const struct Decoder *d, size_t pos)
{
    while (pos < d->len) {
        uint8_t c = d->buf[pos];
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
            break;
        }
        pos++;
    }
    return pos;
}

static int hex_val(uint8_t c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    } else if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static int32_t hex4(const uint8_t *p)
{
    int a = hex_val(p[0]);
    int b = hex_val(p[1]);
    int c = hex_val(p[2]);
    int e = hex_val(p[3]);
    if (a < 0 || b < 0 || c < 0 || e < 0) {
        return -1;
    }
    return (a << 12) | (b << 8) | (c << 4) | e;
}

/*
 * One string, `pos` just after the opening quote. On success sets *end just
 * after the closing quote, *out_len to the decoded length and *escaped when
 * the string held an escape; writes the decoded bytes to `out` when given.
 * The error cases and offsets follow plain/more/escape_char in json.ex.
 */
static bool scan_string(struct Decoder *d, size_t pos, uint8_t *out, size_t *end, size_t *out_len, bool *escaped)
{
    const uint8_t *buf = d->buf;
    size_t len = d->len;
    size_t n = 0;
    *escaped = false;

    for (;;) {
        if (pos >= len) {
            return fail(d, "unterminated string", len);
        }
        uint8_t c = buf[pos];
        if (c == '"') {
            *end = pos + 1;
            *out_len = n;
            return true;
        }
        if (c == '\\') {
            *escaped = true;
            size_t e = pos + 1;
            if (e >= len) {
                return fail(d, "invalid escape in string", len);
            }
            uint8_t simple = 0;
            switch (buf[e]) {
                case '"':
                    simple = '"';
                    break;
                case '\\':
                    simple = '\\';
                    break;
                case '/':
                    simple = '/';
                    break;
                case 'b':
                    simple = '\b';
                    break;
                case 'f':
                    simple = '\f';
                    break;
                case 'n':
                    simple = '\n';
                    break;
                case 'r':
                    simple = '\r';
                    break;
                case 't':
                    simple = '\t';
                    break;
                case 'u':
                    break;
                default:
                    return fail(d, "invalid escape in string", e);
            }
            if (simple != 0) {
                if (out) {
                    out[n] = simple;
                }
                n++;
                pos = e + 1;
                continue;
            }
            /* \u needs the 'u' and four more bytes, else it is no \u
             * escape at all for the Elixir pattern. */
            if (len - e < 5) {
                return fail(d, "invalid escape in string", e);
            }
            size_t u = e;
            for (;;) {
                int32_t hi = hex4(buf + u + 1);
                if (hi >= 0xD800 && hi <= 0xDBFF) {
                    size_t r = u + 5;
                    if (len - r >= 6 && buf[r] == '\\' && buf[r + 1] == 'u') {
                        int32_t lo = hex4(buf + r + 2);
                        if (lo >= 0xDC00 && lo <= 0xDFFF) {
                            uint32_t cp = 0x10000 + ((uint32_t) (hi - 0xD800) << 10) + (uint32_t) (lo - 0xDC00);
                            if (out) {
                                utf8_put(out + n, cp);
                            }
                            n += 4;
                            pos = r + 6;
                            break;
                        } else if (lo >= 0) {
                            /* A lone high surrogate: U+FFFD, then the next
                             * escape on its own. */
                            if (out) {
                                utf8_put(out + n, 0xFFFD);
                            }
                            n += 3;
                            u = r + 1;
                            continue;
                        } else {
                            return fail(d, "invalid \\u escape", u);
                        }
                    }
                    if (out) {
                        utf8_put(out + n, 0xFFFD);
                    }
                    n += 3;
                    pos = r;
                    break;
                } else if (hi >= 0xDC00 && hi <= 0xDFFF) {
                    if (out) {
                        utf8_put(out + n, 0xFFFD);
                    }
                    n += 3;
                    pos = u + 5;
                    break;
                } else if (hi >= 0) {
                    if (out) {
                        utf8_put(out + n, (uint32_t) hi);
                    }
                    n += utf8_len_of((uint32_t) hi);
                    pos = u + 5;
                    break;
                } else {
                    return fail(d, "invalid \\u escape", u);
                }
            }
            continue;
        }
        if (c >= 0x20 && c < 0x80) {
            if (out) {
                out[n] = c;
            }
            n++;
            pos++;
            continue;
        }
        if (c < 0x20) {
            return fail(d, "control character in string", pos);
        }
        size_t s = utf8_seq_len(buf + pos, len - pos);
        if (s == 0) {
            return fail(d, "invalid UTF-8 in string", pos);
        }
        if (out) {
            memcpy(out + n, buf + pos, s);
        }
        n += s;
        pos += s;
    }
}

static bool push_term(struct Decoder *d, term t)
{
    if (d->n_terms == d->cap_terms) {
        size_t cap = d->cap_terms ? d->cap_terms * 2 : 64;
        term *bigger = realloc(d->terms, cap * sizeof(term));
        if (IS_NULL_PTR(bigger)) {
            d->status = DecodeNoMemory;
            return false;
        }
        d->terms = bigger;
        d->cap_terms = cap;
    }
    d->terms[d->n_terms++] = t;
    return true;
}

static bool push_pair(struct Decoder *d, term key, size_t idx)
{
    if (d->n_pairs == d->cap_pairs) {
        size_t cap = d->cap_pairs ? d->cap_pairs * 2 : 32;
        struct Pair *bigger = realloc(d->pairs, cap * sizeof(struct Pair));
        if (IS_NULL_PTR(bigger)) {
            d->status = DecodeNoMemory;
            return false;
        }
        d->pairs = bigger;
        d->cap_pairs = cap;
    }
    d->pairs[d->n_pairs].key = key;
    d->pairs[d->n_pairs].value = term_invalid_term();
    d->pairs[d->n_pairs].idx = idx;
    d->n_pairs++;
    return true;
}

/* A finished value goes to the container that is open, or is the result. */
static bool emit(struct Decoder *d, term t, term *result)
{
    if (!d->build) {
        return true;
    }
    if (d->depth == 0) {
        *result = t;
        return true;
    }
    struct Container *top = &d->stack[d->depth - 1];
    top->count++;
    if (top->kind == InArray) {
        return push_term(d, t);
    }
    d->pairs[d->n_pairs - 1].value = t;
    return true;
}

/* Map keys in term order (AtomVM keeps flat maps sorted): bytes, then
 * length; equal keys by document position. */
static int compare_pairs(const void *a, const void *b)
{
    const struct Pair *x = a;
    const struct Pair *y = b;
    size_t xl = term_binary_size(x->key);
    size_t yl = term_binary_size(y->key);
    int c = memcmp(term_binary_data(x->key), term_binary_data(y->key), xl < yl ? xl : yl);
    if (c != 0) {
        return c;
    }
    if (xl != yl) {
        return xl < yl ? -1 : 1;
    }
    return x->idx < y->idx ? -1 : 1;
}

static term close_container(struct Decoder *d)
{
    struct Container *top = &d->stack[d->depth - 1];
    Heap *heap = &d->ctx->heap;
    if (top->kind == InArray) {
        term list = term_nil();
        for (size_t i = top->base + top->count; i > top->base; i--) {
            list = term_list_prepend(d->terms[i - 1], list, heap);
        }
        d->n_terms = top->base;
        return list;
    }
    size_t n = top->count;
    /* d->pairs is still NULL while no object has had a member (`{}`), and
     * NULL + 0 is undefined behaviour (found by the fuzzer's UBSan). */
    struct Pair *pairs = n > 0 ? d->pairs + top->base : NULL;
    if (n > 1) {
        qsort(pairs, n, sizeof(struct Pair), compare_pairs);
    }
    /* :maps.from_list on the reversed pairs keeps the first of equal keys. */
    size_t unique = 0;
    for (size_t i = 0; i < n; i++) {
        if (unique > 0) {
            term prev = pairs[unique - 1].key;
            size_t pl = term_binary_size(prev);
            if (pl == term_binary_size(pairs[i].key)
                && memcmp(term_binary_data(prev), term_binary_data(pairs[i].key), pl) == 0) {
                continue;
            }
        }
        pairs[unique++] = pairs[i];
    }
    term map = term_alloc_map(unique, heap);
    for (size_t i = 0; i < unique; i++) {
        term_set_map_assoc(map, i, pairs[i].key, pairs[i].value);
    }
    d->n_pairs = top->base;
    return map;
}

static bool open_container(struct Decoder *d, enum ContainerKind kind, size_t pos)
{
    /* json.ex decrements its depth budget on each '[' or '{' and fails when
     * it goes below zero, at the byte after the bracket. */
    if (d->depth + 1 > d->max_depth) {
        d->status = DecodeDepth;
        d->offset = pos;
        return false;
    }
    struct Container *c = &d->stack[d->depth++];
    c->kind = kind;
    c->count = 0;
    c->base = kind == InArray ? d->n_terms : d->n_pairs;
    return true;
}

static bool string_value(struct Decoder *d, size_t *pos, term *out)
{
    size_t start = *pos + 1;
    size_t end;
    size_t n;
    bool escaped;
    if (!scan_string(d, start, d->build ? d->scratch : NULL, &end, &n, &escaped)) {
        return false;
    }
    *pos = end;
    if (!d->build) {
        d->heap_words += escaped ? term_binary_heap_size(n) : term_sub_binary_heap_size(d->input, n);
        return true;
    }
    if (!escaped) {
        *out = term_maybe_create_sub_binary(d->input, start, n, &d->ctx->heap, d->ctx->global);
    } else {
        *out = term_create_uninitialized_binary(n, &d->ctx->heap, d->ctx->global);
        if (!term_is_invalid_term(*out)) {
            memcpy((void *) term_binary_data(*out), d->scratch, n);
        }
    }
    if (term_is_invalid_term(*out)) {
        d->status = DecodeNoMemory;
        return false;
    }
    return true;
}

static bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

static bool number_value(struct Decoder *d, size_t *pos, term *out)
{
    const uint8_t *buf = d->buf;
    size_t len = d->len;
    size_t start = *pos;

    if (buf[start] == '0' && start + 1 < len && is_digit(buf[start + 1])) {
        return fail(d, "leading zero in number", start);
    }
    if (buf[start] == '-' && start + 2 < len && buf[start + 1] == '0' && is_digit(buf[start + 2])) {
        return fail(d, "leading zero in number", start);
    }

    size_t p = start;
    bool negative = buf[p] == '-';
    if (negative) {
        p++;
    }
    size_t digits_start = p;
    while (p < len && is_digit(buf[p])) {
        p++;
    }
    if (p == digits_start) {
        return fail(d, "invalid number", start);
    }
    size_t int_end = p;
    bool is_float = false;
    if (p + 1 < len && buf[p] == '.' && is_digit(buf[p + 1])) {
        p += 2;
        while (p < len && is_digit(buf[p])) {
            p++;
        }
        is_float = true;
    }
    if (p < len && (buf[p] == 'e' || buf[p] == 'E')) {
        if (p + 2 < len && (buf[p + 1] == '+' || buf[p + 1] == '-') && is_digit(buf[p + 2])) {
            p += 3;
        } else if (p + 1 < len && is_digit(buf[p + 1])) {
            p += 2;
        } else {
            goto exp_done;
        }
        while (p < len && is_digit(buf[p])) {
            p++;
        }
        is_float = true;
    }
exp_done:
    *pos = p;

    if (!is_float) {
        /* Beyond 64 bits the VM makes a bignum or fails, and only the
         * Elixir code knows which. */
        uint64_t mag = 0;
        for (size_t i = digits_start; i < int_end; i++) {
            uint64_t digit = (uint64_t) (buf[i] - '0');
            if (mag > (UINT64_MAX - digit) / 10) {
                d->status = DecodeFallback;
                return false;
            }
            mag = mag * 10 + digit;
        }
        if (mag > (uint64_t) INT64_MAX + (negative ? 1 : 0)) {
            d->status = DecodeFallback;
            return false;
        }
        avm_int64_t value = negative ? (avm_int64_t) (0 - mag) : (avm_int64_t) mag;
        if (!d->build) {
            d->heap_words += term_boxed_integer_size(value);
        } else {
            *out = term_make_maybe_boxed_int64(value, &d->ctx->heap);
        }
        return true;
    }

    /* strtod reads JSON's number syntax as Erlang's binary_to_float reads
     * json.ex's rewrite of it ("1e5" -> "1.0e5"): the same decimal value,
     * correctly rounded by both (wasi-libc's is musl's). A value past the
     * double range is badarg there: "number out of range". */
    size_t n = p - start;
    char small[64];
    char *text = n < sizeof(small) ? small : malloc(n + 1);
    if (IS_NULL_PTR(text)) {
        d->status = DecodeNoMemory;
        return false;
    }
    memcpy(text, buf + start, n);
    text[n] = '\0';
    double value = strtod(text, NULL);
    if (text != small) {
        free(text);
    }
    if (!isfinite(value)) {
        return fail(d, "number out of range", start);
    }
    if (!d->build) {
        d->heap_words += FLOAT_SIZE;
    } else {
        *out = term_from_float(value, &d->ctx->heap);
    }
    return true;
}

static bool literal_at(const struct Decoder *d, size_t pos, const char *word, size_t n)
{
    return d->len - pos >= n && memcmp(d->buf + pos, word, n) == 0;
}

/* The whole document; iterative, with an explicit stack of open
 * containers, so the C stack never grows with the nesting. */
static bool parse(struct Decoder *d, term *result)
{
    size_t pos = skip_ws(d, 0);
    term t = term_invalid_term();
    d->depth = 0;

value:
    if (pos >= d->len) {
        return fail(d, "unexpected end of input", pos);
    }
    switch (d->buf[pos]) {
        case '"':
            if (!string_value(d, &pos, &t)) {
                return false;
            }
            break;
        case '{':
            pos++;
            if (!open_container(d, InObject, pos)) {
                return false;
            }
            pos = skip_ws(d, pos);
            if (pos < d->len && d->buf[pos] == '}') {
                pos++;
                goto close;
            }
            goto member;
        case '[':
            pos++;
            if (!open_container(d, InArray, pos)) {
                return false;
            }
            pos = skip_ws(d, pos);
            if (pos < d->len && d->buf[pos] == ']') {
                pos++;
                goto close;
            }
            if (!d->build) {
                d->stack[d->depth - 1].count++;
                d->heap_words += CONS_SIZE;
            }
            goto value;
        case 't':
            if (!literal_at(d, pos, "true", 4)) {
                return fail(d, "unexpected character", pos);
            }
            pos += 4;
            t = TRUE_ATOM;
            break;
        case 'f':
            if (!literal_at(d, pos, "false", 5)) {
                return fail(d, "unexpected character", pos);
            }
            pos += 5;
            t = FALSE_ATOM;
            break;
        case 'n':
            if (!literal_at(d, pos, "null", 4)) {
                return fail(d, "unexpected character", pos);
            }
            pos += 4;
            t = d->nil;
            break;
        default:
            if (d->buf[pos] == '-' || is_digit(d->buf[pos])) {
                if (!number_value(d, &pos, &t)) {
                    return false;
                }
                break;
            }
            return fail(d, "unexpected character", pos);
    }
    goto after_value;

close:
    if (d->build) {
        t = close_container(d);
    } else {
        struct Container *top = &d->stack[d->depth - 1];
        d->heap_words += top->kind == InArray ? 0 : TERM_MAP_SIZE(top->count);
    }
    d->depth--;

after_value:
    if (!emit(d, t, result)) {
        return false;
    }
    if (d->depth == 0) {
        pos = skip_ws(d, pos);
        if (pos != d->len) {
            return fail(d, "unexpected data after the JSON value", pos);
        }
        return true;
    }
    pos = skip_ws(d, pos);
    if (d->stack[d->depth - 1].kind == InArray) {
        if (pos < d->len && d->buf[pos] == ',') {
            pos = skip_ws(d, pos + 1);
            if (!d->build) {
                d->stack[d->depth - 1].count++;
                d->heap_words += CONS_SIZE;
            }
            goto value;
        }
        if (pos < d->len && d->buf[pos] == ']') {
            pos++;
            goto close;
        }
        return fail(d, "expected ',' or ']' in array", pos);
    }
    if (pos < d->len && d->buf[pos] == ',') {
        pos = skip_ws(d, pos + 1);
        goto member;
    }
    if (pos < d->len && d->buf[pos] == '}') {
        pos++;
        goto close;
    }
    return fail(d, "expected ',' or '}' in object", pos);

member:
    if (pos >= d->len || d->buf[pos] != '"') {
        return fail(d, "expected a string key", pos);
    }
    {
        size_t key_pos = pos;
        term key = term_invalid_term();
        if (!string_value(d, &pos, &key)) {
            return false;
        }
        if (d->build) {
            if (!push_pair(d, key, key_pos)) {
                return false;
            }
        } else {
            d->stack[d->depth - 1].count++;
        }
    }
    pos = skip_ws(d, pos);
    if (pos >= d->len || d->buf[pos] != ':') {
        return fail(d, "expected ':' after object key", pos);
    }
    pos = skip_ws(d, pos + 1);
    goto value;
}

static term make_error(Context *ctx, const char *text, size_t text_len)
{
    if (UNLIKELY(memory_ensure_free_opt(ctx, TUPLE_SIZE(2) + term_binary_heap_size(text_len), MEMORY_CAN_SHRINK) != MEMORY_GC_OK)) {
        RAISE_ERROR(OUT_OF_MEMORY_ATOM);
    }
    term message = term_create_uninitialized_binary(text_len, &ctx->heap, ctx->global);
    if (UNLIKELY(term_is_invalid_term(message))) {
        RAISE_ERROR(OUT_OF_MEMORY_ATOM);
    }
    memcpy((void *) term_binary_data(message), text, text_len);
    term tuple = term_alloc_tuple(2, &ctx->heap);
    term_put_tuple_element(tuple, 0, ERROR_ATOM);
    term_put_tuple_element(tuple, 1, message);
    return tuple;
}

static void free_decoder(struct Decoder *d)
{
    free(d->stack);
    free(d->scratch);
    free(d->terms);
    free(d->pairs);
}

static term nif_json_decode(Context *ctx, int argc, term argv[])
{
    UNUSED(argc);
    VALIDATE_VALUE(argv[0], term_is_binary);
    VALIDATE_VALUE(argv[1], term_is_any_non_neg_integer);
    /* json.ex takes any non-negative integer; past 64 bits it is no limit
     * at all (every bracket is a byte of the input), so INT64_MAX will do. */
    avm_int64_t max_depth = term_is_int64(argv[1]) ? term_maybe_unbox_int64(argv[1]) : INT64_MAX;

    struct Decoder d;
    memset(&d, 0, sizeof(d));
    d.buf = (const uint8_t *) term_binary_data(argv[0]);
    d.len = term_binary_size(argv[0]);
    d.input = argv[0];
    /* Each open container holds at least one byte of the input. */
    d.max_depth = (uint64_t) max_depth < d.len ? (size_t) max_depth : d.len;
    size_t stack_len = d.max_depth + 1;
    d.stack = malloc(stack_len * sizeof(struct Container));
    if (IS_NULL_PTR(d.stack)) {
        RAISE_ERROR(OUT_OF_MEMORY_ATOM);
    }
    /* The real limit for the messages; d.max_depth only bounds the stack. */
    d.max_depth = (uint64_t) max_depth < SIZE_MAX ? (size_t) max_depth : SIZE_MAX;

    term result = term_invalid_term();
    if (!parse(&d, &result)) {
        free_decoder(&d);
        char text[96];
        int n;
        switch (d.status) {
            case DecodeError:
                n = snprintf(text, sizeof(text), "%s at byte %zu", d.message, d.offset);
                return make_error(ctx, text, (size_t) n);
            case DecodeDepth:
                n = snprintf(text, sizeof(text), "nesting deeper than %lld at byte %zu", (long long) max_depth, d.offset);
                return make_error(ctx, text, (size_t) n);
            case DecodeFallback:
                return fallback_atom(ctx->global);
            default:
                RAISE_ERROR(OUT_OF_MEMORY_ATOM);
        }
    }

    /* Pass 2: one allocation, then no GC until the result is complete. The
     * input is a root: a heap binary moves when the heap is collected. */
    size_t words = d.heap_words + TUPLE_SIZE(2);
    if (UNLIKELY(memory_ensure_free_with_roots(ctx, words, 1, argv, MEMORY_NO_SHRINK) != MEMORY_GC_OK)) {
        free_decoder(&d);
        RAISE_ERROR(OUT_OF_MEMORY_ATOM);
    }
    d.build = true;
    d.ctx = ctx;
    d.nil = nil_atom(ctx->global);
    d.input = argv[0];
    d.buf = (const uint8_t *) term_binary_data(argv[0]);
    d.scratch = malloc(d.len > 0 ? d.len : 1);
    if (IS_NULL_PTR(d.scratch)) {
        free_decoder(&d);
        RAISE_ERROR(OUT_OF_MEMORY_ATOM);
    }
    bool ok = parse(&d, &result);
    free_decoder(&d);
    if (UNLIKELY(!ok)) {
        /* Pass 1 accepted the document, so only memory can fail here. */
        RAISE_ERROR(OUT_OF_MEMORY_ATOM);
    }
    term tuple = term_alloc_tuple(2, &ctx->heap);
    term_put_tuple_element(tuple, 0, OK_ATOM);
    term_put_tuple_element(tuple, 1, result);
    return tuple;
}

const struct Nif json_decode_nif = { .base.type = NIFFunctionType, .nif_ptr = nif_json_decode };
