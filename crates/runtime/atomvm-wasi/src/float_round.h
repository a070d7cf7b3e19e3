/*
 * elixir-workers: AtomVM platform adapter for WASI preview1.
 * SPDX-License-Identifier: Apache-2.0
 *
 * float_round(): Elixir's Float.round/2, Float.ceil/2 and Float.floor/2 (as
 * of Elixir 1.14) without their bitstring code, which AtomVM cannot run (it
 * has no bitstrings that are not whole bytes). Pure C and libc; tested
 * against the real BEAM by test/float_round_test.c.
 *
 * What Elixir computes, and so what this does:
 *   - precision 0: round is erlang:round/1 made a float (halves away from
 *     zero; a zero result is +0.0), ceil and floor are C's ceil and floor;
 *   - otherwise a zero input comes back as it is (-0.0 included); an input
 *     with no more fractional decimal digits than the precision comes back
 *     as it is; else the exact decimal value of |x| is cut after
 *     precision + 1 fractional digits, rounded at the precision (half_up:
 *     on the first cut digit; ceil of a positive or floor of a negative:
 *     one up, since a nonzero digit was cut; otherwise down), and the
 *     result is the double nearest to it with x's sign (+0.0 when it is 0).
 */

#ifndef ELIXIR_WORKERS_FLOAT_ROUND_H
#define ELIXIR_WORKERS_FLOAT_ROUND_H

enum FloatRoundMode { FLOAT_ROUND_HALF_UP, FLOAT_ROUND_CEIL, FLOAT_ROUND_FLOOR };

/* x rounded to `precision` (0..15) fractional decimal digits; x finite. */
double float_round(double x, int precision, enum FloatRoundMode mode);

#endif
