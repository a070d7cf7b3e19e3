/*
 * elixir-workers: AtomVM platform adapter for WASI preview1.
 * SPDX-License-Identifier: Apache-2.0
 *
 * float_format(): the text of erlang:float_to_list/2 and float_to_binary/2
 * exactly as Erlang/OTP 25 writes it, for every option, including `short`,
 * which AtomVM lacks and which Elixir's Float.to_string/1, string
 * interpolation and inspect/1 of floats all use (io_lib_format:fwrite_g/1).
 * Pure C11 and libc (snprintf, strtod, floor, round); no AtomVM header, no
 * allocation. Tested against the real BEAM by test/float_format_test.c.
 *
 * Parsing the option list stays with the caller; OTP 25 does it so:
 *   - the options are read left to right; the last of `short`,
 *     {decimals, N}, {scientific, N} wins; `compact` anywhere sets the flag,
 *     which only {decimals, N} uses; anything else (or an improper list) is
 *     badarg; [] and float_to_list/1 mean {scientific, 20};
 *   - N must be a small integer; it is then truncated to a C int (so
 *     {scientific, 4294967297} is {scientific, 1}); {scientific, N} with that
 *     int > 249 and {decimals, N} outside 0..253 are badarg (float_format
 *     checks both), and {scientific, N} with N < 0 writes 6 digits (C's
 *     printf with a negative precision).
 */

#ifndef ELIXIR_WORKERS_FLOAT_FORMAT_H
#define ELIXIR_WORKERS_FLOAT_FORMAT_H

#include <stdbool.h>
#include <stddef.h>

/* The smallest buf_size float_format accepts: OTP formats into a 256-byte
 * buffer and raises badarg when the text (plus its NUL) does not fit, so no
 * successful result is longer than 255 characters. */
#define FLOAT_FORMAT_MIN_BUF 256

/* Options of float_to_list/2 after parsing. */
enum FloatFormatKind { FLOAT_FORMAT_SCIENTIFIC, FLOAT_FORMAT_DECIMALS, FLOAT_FORMAT_SHORT };

struct FloatFormat
{
    enum FloatFormatKind kind;
    int digits; /* decimals or scientific digits; unused by SHORT */
    bool compact; /* only DECIMALS uses it */
};

/* Writes the text into buf (NUL-terminated) and returns its length, or -1
 * when OTP raises badarg: {decimals, N} outside 0..253, {scientific, N} above
 * 249, a text of 256 characters or more (e.g. {decimals, 2} of 1.0e300,
 * {scientific, 249} of -7.0), and a NaN or an infinity (no Erlang float is
 * one). Returns -2, writing nothing, when buf_size < FLOAT_FORMAT_MIN_BUF. */
int float_format(double value, const struct FloatFormat *fmt, char *buf, size_t buf_size);

#endif
