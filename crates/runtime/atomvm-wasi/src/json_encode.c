/*
 * elixir-workers: AtomVM platform adapter for WASI preview1.
 * SPDX-License-Identifier: Apache-2.0
 *
 * wasi:json_encode/1  Term -> Binary | fallback
 *
 * The fast path of ElixirWorkers.JSON.encode on AtomVM (json_nif.h says
 * why). The term is walked twice: once to measure the output, once to write
 * it into a binary made that size. What the Elixir encoder would raise on,
 * or would write by way of a conversion C cannot copy exactly (a bignum, a
 * non-ASCII atom, nesting past ENCODE_MAX_DEPTH), is `fallback`.
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

/* Deeper terms are left to the Elixir encoder: the C stack is bounded. */
#define ENCODE_MAX_DEPTH 512

struct Encoder
{
    uint8_t *out; /* NULL while measuring */
    size_t len;
    GlobalContext *glb;
    term nil;
};

static inline void put(struct Encoder *e, const void *bytes, size_t n)
{
    if (e->out) {
        memcpy(e->out + e->len, bytes, n);
    }
    e->len += n;
}

static inline void put_byte(struct Encoder *e, uint8_t c)
{
    if (e->out) {
        e->out[e->len] = c;
    }
    e->len++;
}

static const char hex_digits[] = "0123456789abcdef";

/* A JSON string with quotes; escape_onto's rules. False on invalid UTF-8,
 * where the Elixir code raises. */
static bool put_string(struct Encoder *e, const uint8_t *s, size_t n)
{
    put_byte(e, '"');
    size_t i = 0;
    while (i < n) {
        /* Runs of bytes that need no escape, copied at once. */
        size_t run = i;
        while (run < n && s[run] >= 0x20 && s[run] < 0x80 && s[run] != '"' && s[run] != '\\') {
            run++;
        }
        if (run > i) {
            put(e, s + i, run - i);
            i = run;
            if (i == n) {
                break;
            }
        }
        uint8_t c = s[i];
        if (c >= 0x80) {
            size_t k = utf8_seq_len(s + i, n - i);
            if (k == 0) {
                return false;
            }
            put(e, s + i, k);
            i += k;
            continue;
        }
        switch (c) {
            case '"':
                put(e, "\\\"", 2);
                break;
            case '\\':
                put(e, "\\\\", 2);
                break;
            case '\n':
                put(e, "\\n", 2);
                break;
            case '\r':
                put(e, "\\r", 2);
                break;
            case '\t':
                put(e, "\\t", 2);
                break;
            default: {
                uint8_t u[6] = { '\\', 'u', '0', '0', (uint8_t) hex_digits[c >> 4], (uint8_t) hex_digits[c & 15] };
                put(e, u, 6);
            }
        }
        i++;
    }
    put_byte(e, '"');
    return true;
}

static bool put_atom_text(struct Encoder *e, term atom)
{
    size_t n;
    const uint8_t *s = atom_table_get_atom_string(e->glb->atom_table, term_to_atom_index(atom), &n);
    /* Non-ASCII atom names: leave the text conversion to the VM. */
    for (size_t i = 0; i < n; i++) {
        if (s[i] >= 0x80) {
            return false;
        }
    }
    return put_string(e, s, n);
}

static bool put_integer(struct Encoder *e, term t)
{
    if (!term_is_int64(t)) {
        return false; /* a bignum: integer_to_binary in Elixir */
    }
    char text[24];
    int n = snprintf(text, sizeof(text), "%lld", (long long) term_maybe_unbox_int64(t));
    put(e, text, (size_t) n);
    return true;
}

/* shortest_float/2 of json.ex on AtomVM: the fewest significant digits
 * (1..16) whose "%.*e" text reads back as the same double. AtomVM's
 * float_to_binary(F, [{scientific, D}]) is snprintf("%.*e") and its
 * binary_to_float is sscanf("%lf"), i.e. the same libc as here. */
static bool put_float(struct Encoder *e, term t)
{
    double f = term_to_float(t);
    if (!isfinite(f)) {
        return false;
    }
    char text[64];
    int n = 0;
    for (int digits = 1; digits <= 16; digits++) {
        n = snprintf(text, sizeof(text), "%.*e", digits, f);
        if (digits >= 16 || strtod(text, NULL) == f) {
            break;
        }
    }
    put(e, text, (size_t) n);
    return true;
}

static bool encode_value(struct Encoder *e, term t, int depth);

static bool encode_key(struct Encoder *e, term k)
{
    if (term_is_binary(k)) {
        return put_string(e, (const uint8_t *) term_binary_data(k), term_binary_size(k));
    } else if (term_is_atom(k)) {
        return put_atom_text(e, k);
    } else if (term_is_any_integer(k)) {
        put_byte(e, '"');
        if (!put_integer(e, k)) {
            return false;
        }
        put_byte(e, '"');
        return true;
    }
    return false;
}

static bool encode_value(struct Encoder *e, term t, int depth)
{
    if (depth > ENCODE_MAX_DEPTH) {
        return false;
    }
    if (term_is_binary(t)) {
        return put_string(e, (const uint8_t *) term_binary_data(t), term_binary_size(t));
    } else if (term_is_any_integer(t)) {
        return put_integer(e, t);
    } else if (term_is_float(t)) {
        return put_float(e, t);
    } else if (term_is_atom(t)) {
        if (t == e->nil) {
            put(e, "null", 4);
        } else if (t == TRUE_ATOM) {
            put(e, "true", 4);
        } else if (t == FALSE_ATOM) {
            put(e, "false", 5);
        } else {
            return put_atom_text(e, t);
        }
        return true;
    } else if (term_is_nil(t)) {
        put(e, "[]", 2);
        return true;
    } else if (term_is_nonempty_list(t)) {
        put_byte(e, '[');
        bool first = true;
        while (term_is_nonempty_list(t)) {
            if (!first) {
                put_byte(e, ',');
            }
            first = false;
            if (!encode_value(e, term_get_list_head(t), depth + 1)) {
                return false;
            }
            t = term_get_list_tail(t);
        }
        if (!term_is_nil(t)) {
            return false; /* improper list: the Elixir code raises */
        }
        put_byte(e, ']');
        return true;
    } else if (term_is_map(t)) {
        /* :maps.to_list on AtomVM walks the flat map by position. */
        int n = term_get_map_size(t);
        put_byte(e, '{');
        for (int i = 0; i < n; i++) {
            if (i > 0) {
                put_byte(e, ',');
            }
            if (!encode_key(e, term_get_map_key(t, i))) {
                return false;
            }
            put_byte(e, ':');
            if (!encode_value(e, term_get_map_value(t, i), depth + 1)) {
                return false;
            }
        }
        put_byte(e, '}');
        return true;
    }
    return false;
}

static term nif_json_encode(Context *ctx, int argc, term argv[])
{
    UNUSED(argc);
    struct Encoder e = { .out = NULL, .len = 0, .glb = ctx->global, .nil = nil_atom(ctx->global) };
    if (!encode_value(&e, argv[0], 0)) {
        return fallback_atom(ctx->global);
    }
    size_t len = e.len;
    if (UNLIKELY(memory_ensure_free_with_roots(ctx, term_binary_heap_size(len), 1, argv, MEMORY_CAN_SHRINK) != MEMORY_GC_OK)) {
        RAISE_ERROR(OUT_OF_MEMORY_ATOM);
    }
    term bin = term_create_uninitialized_binary(len, &ctx->heap, ctx->global);
    if (UNLIKELY(term_is_invalid_term(bin))) {
        RAISE_ERROR(OUT_OF_MEMORY_ATOM);
    }
    e.out = (uint8_t *) term_binary_data(bin);
    e.len = 0;
    if (UNLIKELY(!encode_value(&e, argv[0], 0) || e.len != len)) {
        /* The same walk over the same term cannot disagree with itself. */
        RAISE_ERROR(BADARG_ATOM);
    }
    return bin;
}

const struct Nif json_encode_nif = { .base.type = NIFFunctionType, .nif_ptr = nif_json_encode };
