/*
 * elixir-workers: AtomVM platform adapter for WASI preview1.
 * SPDX-License-Identifier: Apache-2.0
 *
 * UTF-8 by the strict rules of `<<cp::utf8>>` matching, on which the BEAM
 * and AtomVM's decoder agree: no overlong forms, no surrogates, nothing past
 * U+10FFFF. Shared by the JSON decoder and encoder.
 */

#ifndef ELIXIR_WORKERS_UTF8_H
#define ELIXIR_WORKERS_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Length of the valid sequence starting at p (first byte >= 0x80), or 0. */
static inline size_t utf8_seq_len(const uint8_t *p, size_t avail)
{
    uint8_t c = p[0];
    uint8_t lo = 0x80;
    uint8_t hi = 0xBF;
    size_t n;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) {
            lo = 0xA0;
        } else if (c == 0xED) {
            hi = 0x9F;
        }
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) {
            lo = 0x90;
        } else if (c == 0xF4) {
            hi = 0x8F;
        }
    } else {
        return 0;
    }
    if (avail < n) {
        return 0;
    }
    if (p[1] < lo || p[1] > hi) {
        return 0;
    }
    for (size_t i = 2; i < n; i++) {
        if (p[i] < 0x80 || p[i] > 0xBF) {
            return 0;
        }
    }
    return n;
}

static inline size_t utf8_put(uint8_t *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (uint8_t) cp;
        return 1;
    } else if (cp < 0x800) {
        out[0] = (uint8_t) (0xC0 | (cp >> 6));
        out[1] = (uint8_t) (0x80 | (cp & 0x3F));
        return 2;
    } else if (cp < 0x10000) {
        out[0] = (uint8_t) (0xE0 | (cp >> 12));
        out[1] = (uint8_t) (0x80 | ((cp >> 6) & 0x3F));
        out[2] = (uint8_t) (0x80 | (cp & 0x3F));
        return 3;
    } else {
        out[0] = (uint8_t) (0xF0 | (cp >> 18));
        out[1] = (uint8_t) (0x80 | ((cp >> 12) & 0x3F));
        out[2] = (uint8_t) (0x80 | ((cp >> 6) & 0x3F));
        out[3] = (uint8_t) (0x80 | (cp & 0x3F));
        return 4;
    }
}

static inline size_t utf8_len_of(uint32_t cp)
{
    return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

#endif
