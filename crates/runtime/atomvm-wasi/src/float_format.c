/*
 * elixir-workers: AtomVM platform adapter for WASI preview1.
 * SPDX-License-Identifier: Apache-2.0
 *
 * erlang:float_to_list/2 and float_to_binary/2 text, byte for byte as
 * Erlang/OTP 25 writes it (see float_format.h for the interface). AtomVM's
 * own float_to_list/2 has no `short` option, which every Elixir float
 * printing path needs (Float.to_string/1, interpolation, inspect/1).
 *
 * The three options, as OTP 25 behaves (found by testing the real BEAM; the
 * cases are in test/float_format_golden.txt):
 *
 *   {scientific, N}  C's "%.*e" with precision N: "7.000e+00".
 *
 *   {decimals, N}    two ways, chosen like OTP:
 *     - |v| <= 2^53 and N <= 18: the integer part is floor(|v|) and the N
 *       decimals are round((|v| - floor(|v|)) * 10^N), computed in doubles,
 *       halves rounded away from zero (so 0.125 with 2 decimals is "0.13",
 *       but 2.675 is "2.67" since 0.675 * 100 < 67.5); N = 0 is round(|v|);
 *       a '-' is written whenever the sign bit is set ("-0.00", "-0");
 *     - otherwise C's "%.*f" (exact digits, halves to even).
 *     `compact` then drops trailing zeros but keeps one digit after the
 *     point; the printf way does it even with N = 0, where it eats the
 *     integer's own zeros ({decimals, 0}, compact of 1.0e16 is "1" in OTP 25).
 *
 *   short            the fewest significant digits that read back as the
 *     same double (the closest to it when several do), laid out both as
 *     "D.DDDeX" (at least one digit after the point, exponent without '+'
 *     or leading zeros: "1.0e-5", "1.2345e17") and as plain decimal
 *     ("0.0001", "1234567.0", "100.0"), whichever is shorter, the decimal
 *     one on a tie; but always the former from 2^53 up (9007199254740991.0,
 *     9.007199254740992e15).
 *
 * Any text of 256 characters or more is badarg (OTP's buffer), so one of
 * FLOAT_FORMAT_MIN_BUF bytes always suffices; the long printf texts are
 * truncated by snprintf there and refused by their length.
 */

#include "float_format.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* OTP's limits: the text plus its NUL must fit in 256 bytes. */
#define OTP_TEXT_MAX 255
#define DECIMALS_MAX 253
#define SCIENTIFIC_MAX 249

/* Decimals up to this use OTP's double-arithmetic rounding, above it printf. */
#define FAST_DECIMALS_MAX 18
/* 2^53: {decimals, N} of larger magnitudes goes through printf; `short`
 * writes them in scientific notation from this one up. */
#define FAST_MAGNITUDE_MAX 9007199254740992.0

static const double POW10[FAST_DECIMALS_MAX + 1] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
    1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18
};

/* OTP's `compact`: drops the trailing '0's of text[0..len), then gives one
 * back if that bared the decimal point. Returns the new length. */
static int drop_trailing_zeros(const char *text, int len)
{
    while (len > 1 && text[len - 1] == '0') {
        len--;
    }
    if (len > 0 && text[len - 1] == '.') {
        len++;
    }
    return len;
}

/* Writes value in decimal (no sign) at out; returns the digit count. */
static int put_uint(char *out, uint64_t value)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char) ('0' + value % 10);
        value /= 10;
    } while (value != 0);
    for (int i = 0; i < n; i++) {
        out[i] = tmp[n - 1 - i];
    }
    return n;
}

/* {decimals, N} for |v| <= 2^53 and N <= 18, OTP's rounding in doubles. */
static int format_decimals_fast(double value, int decimals, bool compact, char *buf)
{
    double mag = fabs(value);
    int len = 0;
    if (signbit(value)) {
        buf[len++] = '-';
    }
    if (decimals == 0) {
        /* round(): halves away from zero, like OTP's lround */
        len += put_uint(buf + len, (uint64_t) round(mag));
        buf[len] = '\0';
        return len; /* compact keeps the integer's zeros on this path */
    }
    double whole = floor(mag);
    double scaled = round((mag - whole) * POW10[decimals]);
    uint64_t int_part = (uint64_t) whole;
    uint64_t frac_part = (uint64_t) scaled;
    if (scaled >= POW10[decimals]) { /* 0.999 rounded up to the next unit */
        int_part++;
        frac_part = 0;
    }
    len += put_uint(buf + len, int_part);
    buf[len++] = '.';
    for (int i = decimals - 1; i >= 0; i--) { /* zero-padded, right to left */
        buf[len + i] = (char) ('0' + frac_part % 10);
        frac_part /= 10;
    }
    len += decimals;
    if (compact) {
        len = drop_trailing_zeros(buf, len);
    }
    buf[len] = '\0';
    return len;
}

/* {decimals, N}: OTP's fast path or printf, then its length limit. */
static int format_decimals(double value, int decimals, bool compact, char *buf)
{
    if (decimals < 0 || decimals > DECIMALS_MAX) {
        return -1;
    }
    if (fabs(value) <= FAST_MAGNITUDE_MAX && decimals <= FAST_DECIMALS_MAX) {
        return format_decimals_fast(value, decimals, compact, buf);
    }
    int len = snprintf(buf, OTP_TEXT_MAX + 1, "%.*f", decimals, value);
    if (len < 0 || len > OTP_TEXT_MAX) {
        return -1;
    }
    if (compact) {
        len = drop_trailing_zeros(buf, len);
        buf[len] = '\0';
    }
    return len;
}

/* {scientific, N}: printf's "%.*e"; a negative N means printf's default 6. */
static int format_scientific(double value, int digits, char *buf)
{
    if (digits > SCIENTIFIC_MAX) {
        return -1;
    }
    if (digits < 0) {
        digits = 6;
    }
    int len = snprintf(buf, OTP_TEXT_MAX + 1, "%.*e", digits, value);
    if (len < 0 || len > OTP_TEXT_MAX) {
        return -1;
    }
    return len;
}

/* Splits printf's "%.*e" text of a positive double ("d.ddde+xx") into its
 * significant digits (NUL-terminated) and decimal exponent; returns the
 * digit count. */
static int split_e(const char *text, char *digits, int *exponent)
{
    int n = 0;
    const char *p = text;
    for (; *p != 'e'; p++) {
        if (*p != '.') {
            digits[n++] = *p;
        }
    }
    digits[n] = '\0';
    *exponent = (int) strtol(p + 1, NULL, 10);
    return n;
}

/* Reads digits[0..n) x 10^exponent (the first digit before the point) back
 * as a double. */
static double read_back(const char *digits, int n, int exponent)
{
    char text[40];
    int len = 0;
    text[len++] = digits[0];
    text[len++] = '.';
    memcpy(text + len, digits + 1, (size_t) (n - 1));
    len += n - 1;
    snprintf(text + len, sizeof(text) - (size_t) len, "e%d", exponent);
    return strtod(text, NULL);
}

/* Steps digits[0..n) x 10^exponent to the next n-digit decimal above
 * (up) or below (!up): 9.99e1 up is 1.00e2, 1.00e2 down is 9.99e1. */
static void step(char *digits, int n, int *exponent, bool up)
{
    int i = n - 1;
    if (up) {
        while (i >= 0 && digits[i] == '9') {
            digits[i--] = '0';
        }
        if (i >= 0) {
            digits[i]++;
        } else {
            digits[0] = '1';
            ++*exponent;
        }
    } else {
        while (i > 0 && digits[i] == '0') { /* digits[0] is never '0' */
            digits[i--] = '9';
        }
        digits[i]--;
        if (i == 0 && digits[0] == '0') {
            digits[0] = '9'; /* 1.00eX - 0.01eX = 9.99e(X-1) */
            --*exponent;
        }
    }
}

/* The shortest digits that read back as mag (positive, finite), the closest
 * to it among equally short ones: for each length, the correctly rounded
 * digits (printf), else the neighbour on the other side of mag, which can
 * be the only one inside the rounding interval when that is lopsided (at
 * powers of two). Writes at most 17 digits and a NUL; returns the count. */
static int shortest_digits(double mag, char *digits, int *exponent)
{
    char text[40];
    int n = 0;
    for (int precision = 0; precision < 17; precision++) {
        snprintf(text, sizeof(text), "%.*e", precision, mag);
        n = split_e(text, digits, exponent);
        double back = strtod(text, NULL);
        if (back == mag) {
            break;
        }
        char other[20];
        int other_exponent = *exponent;
        memcpy(other, digits, (size_t) n + 1);
        step(other, n, &other_exponent, back < mag);
        if (read_back(other, n, other_exponent) == mag) {
            memcpy(digits, other, (size_t) n + 1);
            *exponent = other_exponent;
            break;
        }
    }
    while (n > 1 && digits[n - 1] == '0') {
        n--;
    }
    digits[n] = '\0';
    return n;
}

/* Decimal digit count of |x|. */
static int int_width(int x)
{
    int width = 1;
    for (x = x < 0 ? -x : x; x >= 10; x /= 10) {
        width++;
    }
    return width;
}

/* `short`: the shortest digits laid out as OTP does (see the top). */
static int format_short(double value, char *buf)
{
    int len = 0;
    if (signbit(value)) {
        buf[len++] = '-';
    }
    double mag = fabs(value);
    if (mag == 0.0) {
        memcpy(buf + len, "0.0", 4);
        return len + 3;
    }
    char digits[20];
    int exponent;
    int n = shortest_digits(mag, digits, &exponent);

    /* "D.DDDeX" against the plain decimal text, signs aside */
    int sci_len = 2 + (n > 1 ? n - 1 : 1) + 1 + (exponent < 0) + int_width(exponent);
    int dec_len;
    if (exponent >= n - 1) {
        dec_len = exponent + 1 + 2; /* digits, zeros, ".0" */
    } else if (exponent >= 0) {
        dec_len = n + 1; /* digits with the point inside */
    } else {
        dec_len = 2 + (-exponent - 1) + n; /* "0.", zeros, digits */
    }

    char *p = buf + len;
    if (dec_len <= sci_len && mag < FAST_MAGNITUDE_MAX) {
        if (exponent >= n - 1) {
            memcpy(p, digits, (size_t) n);
            memset(p + n, '0', (size_t) (exponent + 1 - n));
            memcpy(p + exponent + 1, ".0", 2);
        } else if (exponent >= 0) {
            memcpy(p, digits, (size_t) exponent + 1);
            p[exponent + 1] = '.';
            memcpy(p + exponent + 2, digits + exponent + 1, (size_t) (n - exponent - 1));
        } else {
            memcpy(p, "0.", 2);
            memset(p + 2, '0', (size_t) (-exponent - 1));
            memcpy(p + 2 + (-exponent - 1), digits, (size_t) n);
        }
        len += dec_len;
    } else {
        p[0] = digits[0];
        p[1] = '.';
        if (n > 1) {
            memcpy(p + 2, digits + 1, (size_t) (n - 1));
        } else {
            p[2] = '0';
        }
        int at = 2 + (n > 1 ? n - 1 : 1);
        snprintf(p + at, 8, "e%d", exponent);
        len += sci_len;
    }
    buf[len] = '\0';
    return len;
}

int float_format(double value, const struct FloatFormat *fmt, char *buf, size_t buf_size)
{
    if (buf_size < FLOAT_FORMAT_MIN_BUF) {
        return -2;
    }
    if (!isfinite(value)) {
        return -1;
    }
    switch (fmt->kind) {
        case FLOAT_FORMAT_SCIENTIFIC:
            return format_scientific(value, fmt->digits, buf);
        case FLOAT_FORMAT_DECIMALS:
            return format_decimals(value, fmt->digits, fmt->compact, buf);
        case FLOAT_FORMAT_SHORT:
            return format_short(value, buf);
    }
    return -1;
}
