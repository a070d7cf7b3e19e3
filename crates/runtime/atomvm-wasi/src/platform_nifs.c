/*
 * elixir-workers: AtomVM platform adapter for WASI preview1.
 * SPDX-License-Identifier: Apache-2.0
 *
 * NIFs this platform adds to AtomVM's core. The contract with the framework
 * and the JS shim (docs: crates/runtime/atomvm-wasi/README.md):
 *
 *   wasi:read_stdin/0      -> binary, everything left on stdin (<<>> at EOF)
 *   wasi:respond/1         iodata -> ok, passed to the host import
 *                          elixir_workers.respond; the host keeps the last one
 *   wasi:write_stdout/1    iodata -> ok (logs; never the response)
 *   wasi:write_stderr/1    iodata -> ok
 *   atomvm:platform/0      -> wasi
 *   atomvm:rand_bytes/1, crypto:strong_rand_bytes/1
 *                          N -> N random bytes from WASI random_get
 *   wasi:json_decode/2     (bin, max_depth) -> {ok, term} | {error, message}
 *                          | fallback (json_decode.c; ElixirWorkers.JSON)
 *   wasi:json_encode/1     term -> JSON binary | fallback (json_encode.c)
 *   wasi:html_escape/1     bin -> bin itself when clean | escaped binary
 *                          (html_escape.c)
 *   binary:split/2,3 (in place of AtomVM's), binary:matches/2,3,
 *   binary:compile_pattern/1, maps:take/2, erlang:append_element/2,
 *   erlang:float_to_list/2, float_to_binary/2, binary_to_float/1,
 *   list_to_float/1, binary:at/2, first/1, last/1 (in place of AtomVM's),
 *   'Elixir.Float':round/1,2, ceil/1,2, floor/1,2 (in place of Elixir's),
 *   persistent_term:get/1,2, put/2, erase/1
 *                          OTP's, which AtomVM's core lacks (stdlib_nifs.c)
 *
 * `fallback` means "run the framework's Elixir code instead": the NIFs
 * answer only where they give exactly what that code gives.
 *
 * No `wasi` module exists: AtomVM resolves a remote call to a NIF before it
 * looks for a module, so `:wasi.respond(json)` lands here directly.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <defaultatoms.h>
#include <interop.h>
#include <memory.h>
#include <nifs.h>
#include <platform_nifs.h>
#include <term.h>
#include <utils.h>

#include "json_nif.h"
#include "stdlib_nifs.h"
#include "wasi_platform.h"

/* getentropy is limited to 256 bytes per call by POSIX and by wasi-libc. */
#define ENTROPY_CHUNK 256

/* Bytes of an iodata term, borrowed when the term is a single binary and
 * gathered into a fresh buffer otherwise. */
struct IodataBytes
{
    const char *data;
    size_t len;
    char *owned;
};

static InteropFunctionResult iodata_bytes(term t, struct IodataBytes *out)
{
    out->owned = NULL;
    if (term_is_binary(t)) {
        out->data = term_binary_data(t);
        out->len = term_binary_size(t);
        return InteropOk;
    }
    size_t len;
    InteropFunctionResult r = interop_iolist_size(t, &len);
    if (r != InteropOk) {
        return r;
    }
    // malloc(0) may return NULL; keep one byte so NULL always means failure.
    char *buf = malloc(len > 0 ? len : 1);
    if (IS_NULL_PTR(buf)) {
        return InteropMemoryAllocFail;
    }
    r = interop_write_iolist(t, buf);
    if (r != InteropOk) {
        free(buf);
        return r;
    }
    out->data = buf;
    out->len = len;
    out->owned = buf;
    return InteropOk;
}

/* iodata_bytes for a NIF's argument: OK_ATOM, or the error raised
 * (badarg when it is not iodata). */
static term iodata_arg(Context *ctx, term data, struct IodataBytes *out)
{
    switch (iodata_bytes(data, out)) {
        case InteropOk:
            return OK_ATOM;
        case InteropMemoryAllocFail:
            RAISE_ERROR(OUT_OF_MEMORY_ATOM);
        default:
            RAISE_ERROR(BADARG_ATOM);
    }
}

static term write_iodata_to(Context *ctx, term data, FILE *stream)
{
    struct IodataBytes bytes;
    term r = iodata_arg(ctx, data, &bytes);
    if (term_is_invalid_term(r)) {
        return r;
    }
    // Through stdio, like the core's own console output (IO.puts,
    // erlang:display), so the two stay in order; main.c line-buffers stdout.
    bool ok = fwrite(bytes.data, 1, bytes.len, stream) == bytes.len;
    free(bytes.owned);
    return ok ? OK_ATOM : ERROR_ATOM;
}

static term nif_wasi_write_stdout(Context *ctx, int argc, term argv[])
{
    UNUSED(argc);
    return write_iodata_to(ctx, argv[0], stdout);
}

static term nif_wasi_write_stderr(Context *ctx, int argc, term argv[])
{
    UNUSED(argc);
    return write_iodata_to(ctx, argv[0], stderr);
}

static term nif_wasi_respond(Context *ctx, int argc, term argv[])
{
    UNUSED(argc);
    struct IodataBytes bytes;
    term r = iodata_arg(ctx, argv[0], &bytes);
    if (term_is_invalid_term(r)) {
        return r;
    }
    wasi_host_respond((const uint8_t *) bytes.data, (uint32_t) bytes.len);
    free(bytes.owned);
    return OK_ATOM;
}

static term nif_wasi_read_stdin(Context *ctx, int argc, term argv[])
{
    UNUSED(argc);
    UNUSED(argv);

    // Requests are usually small; grow by doubling for the large ones.
    size_t cap = 16 * 1024;
    size_t len = 0;
    char *buf = malloc(cap);
    if (IS_NULL_PTR(buf)) {
        RAISE_ERROR(OUT_OF_MEMORY_ATOM);
    }
    for (;;) {
        if (len == cap) {
            char *bigger = realloc(buf, cap * 2);
            if (IS_NULL_PTR(bigger)) {
                free(buf);
                RAISE_ERROR(OUT_OF_MEMORY_ATOM);
            }
            buf = bigger;
            cap *= 2;
        }
        ssize_t n = read(STDIN_FILENO, buf + len, cap - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            free(buf);
            RAISE_ERROR(ERROR_ATOM);
        }
        if (n == 0) {
            break;
        }
        len += (size_t) n;
    }

    if (UNLIKELY(memory_ensure_free(ctx, term_binary_heap_size(len)) != MEMORY_GC_OK)) {
        free(buf);
        RAISE_ERROR(OUT_OF_MEMORY_ATOM);
    }
    /* A refc binary's payload is malloc'd apart from the heap; when that
     * fails the constructor returns an invalid term rather than stopping,
     * and wasm has no unmapped page 0 to trap a write through it. */
    term result = term_create_uninitialized_binary(len, &ctx->heap, ctx->global);
    if (UNLIKELY(term_is_invalid_term(result))) {
        free(buf);
        RAISE_ERROR(OUT_OF_MEMORY_ATOM);
    }
    memcpy((void *) term_binary_data(result), buf, len);
    free(buf);
    return result;
}

static term nif_rand_bytes(Context *ctx, int argc, term argv[])
{
    UNUSED(argc);
    VALIDATE_VALUE(argv[0], term_is_integer);
    avm_int_t n = term_to_int(argv[0]);
    if (n < 0) {
        RAISE_ERROR(BADARG_ATOM);
    }
    size_t len = (size_t) n;
    if (UNLIKELY(memory_ensure_free(ctx, term_binary_heap_size(len)) != MEMORY_GC_OK)) {
        RAISE_ERROR(OUT_OF_MEMORY_ATOM);
    }
    term result = term_create_uninitialized_binary(len, &ctx->heap, ctx->global);
    if (UNLIKELY(term_is_invalid_term(result))) {
        RAISE_ERROR(OUT_OF_MEMORY_ATOM);
    }
    uint8_t *p = (uint8_t *) term_binary_data(result);
    for (size_t done = 0; done < len; done += ENTROPY_CHUNK) {
        size_t chunk = len - done < ENTROPY_CHUNK ? len - done : ENTROPY_CHUNK;
        if (getentropy(p + done, chunk) != 0) {
            RAISE_ERROR(ERROR_ATOM);
        }
    }
    return result;
}

static term nif_atomvm_platform(Context *ctx, int argc, term argv[])
{
    UNUSED(ctx);
    UNUSED(argc);
    UNUSED(argv);
    return WASI_ATOM;
}

#define DEFINE_NIF(var, fun) static const struct Nif var = ADAPTER_NIF(fun)

DEFINE_NIF(read_stdin_nif, nif_wasi_read_stdin);
DEFINE_NIF(respond_nif, nif_wasi_respond);
DEFINE_NIF(write_stdout_nif, nif_wasi_write_stdout);
DEFINE_NIF(write_stderr_nif, nif_wasi_write_stderr);
DEFINE_NIF(rand_bytes_nif, nif_rand_bytes);
DEFINE_NIF(platform_nif, nif_atomvm_platform);

static const struct
{
    const char *name;
    const struct Nif *nif;
} platform_nif_table[] = {
    { "wasi:read_stdin/0", &read_stdin_nif },
    { "wasi:respond/1", &respond_nif },
    { "wasi:write_stdout/1", &write_stdout_nif },
    { "wasi:write_stderr/1", &write_stderr_nif },
    { "atomvm:platform/0", &platform_nif },
    { "atomvm:rand_bytes/1", &rand_bytes_nif },
    { "crypto:strong_rand_bytes/1", &rand_bytes_nif },
    { "wasi:json_decode/2", &json_decode_nif },
    { "wasi:json_encode/1", &json_encode_nif },
    { "wasi:html_escape/1", &html_escape_nif },
    { "binary:split/2", &binary_split_nif_ew },
    { "binary:split/3", &binary_split_nif_ew },
    { "binary:matches/2", &binary_matches_nif },
    { "binary:matches/3", &binary_matches_nif },
    { "binary:compile_pattern/1", &binary_compile_pattern_nif },
    { "maps:take/2", &maps_take_nif },
    { "erlang:append_element/2", &erlang_append_element_nif },
    { "erlang:float_to_list/2", &erlang_float_to_list_nif_ew },
    { "erlang:float_to_binary/2", &erlang_float_to_binary_nif_ew },
    { "binary:at/2", &binary_at_nif_ew },
    { "binary:first/1", &binary_first_nif_ew },
    { "binary:last/1", &binary_last_nif_ew },
    { "erlang:binary_to_float/1", &erlang_binary_to_float_nif_ew },
    { "erlang:list_to_float/1", &erlang_list_to_float_nif_ew },
    { "Elixir.Float:round/1", &elixir_float_round_nif },
    { "Elixir.Float:round/2", &elixir_float_round_nif },
    { "Elixir.Float:ceil/1", &elixir_float_ceil_nif },
    { "Elixir.Float:ceil/2", &elixir_float_ceil_nif },
    { "Elixir.Float:floor/1", &elixir_float_floor_nif },
    { "Elixir.Float:floor/2", &elixir_float_floor_nif },
    { "persistent_term:get/1", &persistent_term_get_nif },
    { "persistent_term:get/2", &persistent_term_get_nif },
    { "persistent_term:put/2", &persistent_term_put_nif },
    { "persistent_term:erase/1", &persistent_term_erase_nif },
};

const struct Nif *platform_nifs_get_nif(const char *nifname)
{
    for (size_t i = 0; i < sizeof(platform_nif_table) / sizeof(platform_nif_table[0]); i++) {
        if (strcmp(platform_nif_table[i].name, nifname) == 0) {
            return platform_nif_table[i].nif;
        }
    }
    return NULL;
}
