/*
 * elixir-workers: AtomVM platform adapter for WASI preview1.
 * SPDX-License-Identifier: Apache-2.0
 *
 * wasi:html_escape/1  Bin -> Bin itself when clean | escaped Binary
 *
 * The fast path of ElixirWorkers.HTML.escape/1 on AtomVM: `& < > " '` as
 * the Elixir code writes them. One pass counts what the entities add, and
 * a clean input is returned as it is, with no allocation.
 */

#include <stdint.h>
#include <string.h>

#include <defaultatoms.h>
#include <globalcontext.h>
#include <memory.h>
#include <nifs.h>
#include <term.h>
#include <utils.h>

#include "json_nif.h"

static term nif_html_escape(Context *ctx, int argc, term argv[])
{
    UNUSED(argc);
    VALIDATE_VALUE(argv[0], term_is_binary);
    const uint8_t *s = (const uint8_t *) term_binary_data(argv[0]);
    size_t n = term_binary_size(argv[0]);

    size_t extra = 0;
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
            case '&':
                extra += 4; /* &amp; */
                break;
            case '<':
            case '>':
                extra += 3; /* &lt; &gt; */
                break;
            case '"':
                extra += 5; /* &quot; */
                break;
            case '\'':
                extra += 4; /* &#39; */
                break;
            default:
                break;
        }
    }
    if (extra == 0) {
        return argv[0];
    }

    if (UNLIKELY(memory_ensure_free_with_roots(ctx, term_binary_heap_size(n + extra), 1, argv, MEMORY_CAN_SHRINK) != MEMORY_GC_OK)) {
        RAISE_ERROR(OUT_OF_MEMORY_ATOM);
    }
    term bin = term_create_uninitialized_binary(n + extra, &ctx->heap, ctx->global);
    if (UNLIKELY(term_is_invalid_term(bin))) {
        RAISE_ERROR(OUT_OF_MEMORY_ATOM);
    }
    s = (const uint8_t *) term_binary_data(argv[0]);
    uint8_t *out = (uint8_t *) term_binary_data(bin);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        const char *entity;
        switch (s[i]) {
            case '&':
                entity = "&amp;";
                break;
            case '<':
                entity = "&lt;";
                break;
            case '>':
                entity = "&gt;";
                break;
            case '"':
                entity = "&quot;";
                break;
            case '\'':
                entity = "&#39;";
                break;
            default:
                out[o++] = s[i];
                continue;
        }
        size_t k = strlen(entity);
        memcpy(out + o, entity, k);
        o += k;
    }
    return bin;
}

const struct Nif html_escape_nif = { .base.type = NIFFunctionType, .nif_ptr = nif_html_escape };
