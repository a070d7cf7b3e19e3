/*
 * elixir-workers: checks src/float_round.c against Elixir's own results.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Build and run (from the repository root):
 *   cc -O2 -std=c11 -o /tmp/frt crates/runtime/atomvm-wasi/test/float_round_test.c crates/runtime/atomvm-wasi/src/float_round.c -lm && /tmp/frt crates/runtime/atomvm-wasi/test/float_round_golden.txt
 *
 * Reads the golden file written by float_round_golden.exs (input bits,
 * precision, mode, Elixir's result bits), rounds every case with
 * float_round and compares the bits. Exits 1 on any mismatch or unreadable
 * line, 0 otherwise.
 */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../src/float_round.h"

static double from_bits(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

static uint64_t to_bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return b;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s GOLDEN\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "r");
    if (f == NULL) {
        perror(argv[1]);
        return 2;
    }
    char line[256];
    long cases = 0, failures = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        uint64_t in, want;
        int precision;
        char mode[16];
        if (sscanf(line, "%" SCNx64 " %d %15s %" SCNx64, &in, &precision, mode, &want) != 4) {
            fprintf(stderr, "unreadable line: %s", line);
            return 1;
        }
        enum FloatRoundMode m = strcmp(mode, "ceil") == 0 ? FLOAT_ROUND_CEIL
            : strcmp(mode, "floor") == 0                  ? FLOAT_ROUND_FLOOR
                                                          : FLOAT_ROUND_HALF_UP;
        uint64_t got = to_bits(float_round(from_bits(in), precision, m));
        cases++;
        if (got != want) {
            failures++;
            if (failures <= 20) {
                printf("%.17g %s %d: want %.17g, got %.17g\n", from_bits(in), mode, precision,
                    from_bits(want), from_bits(got));
            }
        }
    }
    fclose(f);
    printf("%ld cases, %ld failures\n", cases, failures);
    return failures == 0 ? 0 : 1;
}
