/*
 * elixir-workers: AtomVM platform adapter for WASI preview1.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Elixir's decimal rounding of floats (float_round.h says what it computes).
 * The exact decimal value of a double comes from printf: with enough
 * fractional digits (a double has at most 1074) C's %f prints it exactly,
 * and strtod reads the rounded decimal back to the nearest double, ties to
 * even, which is what Elixir's own conversion does.
 */

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "float_round.h"

/* Fractional digits that hold any double exactly. */
#define EXACT_DECIMALS 1074
/* 309 integer digits, the point, the fraction, the NUL. */
#define EXACT_BUF (309 + 1 + EXACT_DECIMALS + 1)

/* Adds one to the decimal integer in digits[0..len), growing it to the left
 * into the byte before it when it carries out (the caller leaves room). */
static char *increment(char *digits, int len)
{
    for (int i = len - 1; i >= 0; i--) {
        if (digits[i] != '9') {
            digits[i]++;
            return digits;
        }
        digits[i] = '0';
    }
    digits--;
    digits[0] = '1';
    return digits;
}

double float_round(double x, int precision, enum FloatRoundMode mode)
{
    if (precision == 0) {
        switch (mode) {
            case FLOAT_ROUND_CEIL:
                return ceil(x);
            case FLOAT_ROUND_FLOOR:
                return floor(x);
            case FLOAT_ROUND_HALF_UP: {
                double r = round(x);
                return r == 0.0 ? 0.0 : r;
            }
        }
    }
    if (x == 0.0) {
        return x;
    }
    bool negative = signbit(x);
    char exact[EXACT_BUF + 1];
    // exact[0] is room for a carry out of the integer part.
    char *text = exact + 1;
    int len = snprintf(text, EXACT_BUF, "%.*f", EXACT_DECIMALS, fabs(x));
    char *point = strchr(text, '.');
    if (len <= 0 || point == NULL) {
        return x;
    }
    // No nonzero digit past the precision: nothing to round.
    const char *cut = point + 1 + precision;
    const char *last = text + len - 1;
    while (last >= cut && *last == '0') {
        last--;
    }
    if (last < cut) {
        return x;
    }
    // The integer N = |x| * 10^precision, truncated, as digits: the integer
    // part and the kept fractional digits side by side.
    int int_len = (int) (point - text);
    memmove(point, point + 1, (size_t) precision);
    int n_len = int_len + precision;
    bool up;
    switch (mode) {
        case FLOAT_ROUND_HALF_UP:
            up = *cut >= '5';
            break;
        case FLOAT_ROUND_CEIL:
            up = !negative;
            break;
        case FLOAT_ROUND_FLOOR:
            up = negative;
            break;
        default:
            up = false;
    }
    char *n = text;
    if (up) {
        char *grown = increment(n, n_len);
        n_len += (int) (n - grown);
        n = grown;
    }
    bool zero = true;
    for (int i = 0; i < n_len; i++) {
        if (n[i] != '0') {
            zero = false;
            break;
        }
    }
    if (zero) {
        return 0.0;
    }
    // N / 10^precision, written back as a decimal for strtod.
    char result[EXACT_BUF];
    int r = 0;
    if (negative) {
        result[r++] = '-';
    }
    memcpy(result + r, n, (size_t) n_len);
    r += n_len;
    snprintf(result + r, sizeof(result) - (size_t) r, "e-%d", precision);
    return strtod(result, NULL);
}
