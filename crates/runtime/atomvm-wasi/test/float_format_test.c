/*
 * elixir-workers: checks src/float_format.c against OTP's own output.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Build and run (from the repository root):
 *   cc -O2 -std=c11 -o /tmp/fft crates/runtime/atomvm-wasi/test/float_format_test.c crates/runtime/atomvm-wasi/src/float_format.c -lm && /tmp/fft crates/runtime/atomvm-wasi/test/float_format_golden.txt
 *
 * Reads the golden file written by float_format_golden.escript (one case a
 * line: the double's 16-hex-digit bit pattern, the option spec, OTP's text
 * or "badarg"), formats every case with float_format and prints each
 * mismatch. Exits 1 on any mismatch or unreadable line, 0 otherwise.
 */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/float_format.h"

/* Parses "short", "default", "sci:N[:compact]" or "dec:N[:compact]". */
static int parse_spec(const char *spec, struct FloatFormat *fmt)
{
    fmt->digits = 0;
    fmt->compact = false;
    if (strcmp(spec, "short") == 0) {
        fmt->kind = FLOAT_FORMAT_SHORT;
        return 0;
    }
    if (strcmp(spec, "default") == 0) { /* [] is {scientific, 20} */
        fmt->kind = FLOAT_FORMAT_SCIENTIFIC;
        fmt->digits = 20;
        return 0;
    }
    if (strncmp(spec, "sci:", 4) == 0) {
        fmt->kind = FLOAT_FORMAT_SCIENTIFIC;
    } else if (strncmp(spec, "dec:", 4) == 0) {
        fmt->kind = FLOAT_FORMAT_DECIMALS;
    } else {
        return -1;
    }
    char *end;
    fmt->digits = (int) strtol(spec + 4, &end, 10);
    if (end == spec + 4) {
        return -1;
    }
    if (strcmp(end, ":compact") == 0) {
        fmt->compact = true;
    } else if (*end != '\0') {
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s float_format_golden.txt\n", argv[0]);
        return 2;
    }
    FILE *in = fopen(argv[1], "r");
    if (in == NULL) {
        fprintf(stderr, "%s: %s\n", argv[1], strerror(errno));
        return 2;
    }

    /* the longest line: 16 + spec + 255-character text */
    static char line[1024];
    char out[FLOAT_FORMAT_MIN_BUF];
    long line_no = 0, cases = 0, failures = 0;
    while (fgets(line, sizeof(line), in) != NULL) {
        line_no++;
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0') {
            continue;
        }
        char *hex = strtok(line, " ");
        char *spec = strtok(NULL, " ");
        char *expected = strtok(NULL, " ");
        struct FloatFormat fmt;
        if (hex == NULL || spec == NULL || expected == NULL || strlen(hex) != 16
            || parse_spec(spec, &fmt) != 0) {
            fprintf(stderr, "line %ld: unreadable\n", line_no);
            failures++;
            continue;
        }
        uint64_t bits = strtoull(hex, NULL, 16);
        double value;
        memcpy(&value, &bits, sizeof(value));

        cases++;
        int len = float_format(value, &fmt, out, sizeof(out));
        const char *got = len < 0 ? "badarg" : out;
        if (strcmp(got, expected) != 0 || (len >= 0 && (size_t) len != strlen(out))) {
            failures++;
            if (failures <= 50) {
                printf("line %ld: %s %s (%.17g): expected %s, got %s (len %d)\n",
                    line_no, hex, spec, value, expected, got, len);
            }
        }
    }
    fclose(in);

    /* a buffer below the documented minimum is refused */
    struct FloatFormat short_fmt = { FLOAT_FORMAT_SHORT, 0, false };
    char small[FLOAT_FORMAT_MIN_BUF - 1];
    if (float_format(1.0, &short_fmt, small, sizeof(small)) != -2) {
        printf("a %zu-byte buffer was not refused\n", sizeof(small));
        failures++;
    }

    printf("%ld cases, %ld failures\n", cases, failures);
    return failures == 0 ? 0 : 1;
}
