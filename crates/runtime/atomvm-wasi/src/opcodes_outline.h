/*
 * Smaller operand decoding for AtomVM's interpreter loop.
 *
 * Included into a copy of upstream's opcodesswitch.h, right after the
 * decoding macros of the execute loop (the runtime build inserts the
 * #include; settings.rs, CORE_HEADER_PATCHES). Upstream's
 * DECODE_COMPACT_TERM, DECODE_VALUE and DECODE_DEST_REGISTER expand in
 * full at each of their several hundred uses, which made
 * scheduler_entry_point one wasm function of 245 KB; V8 compiles a function
 * the first time it runs, so a new isolate's first request paid for all of
 * it. Here each macro keeps the operand kinds that nearly every instruction
 * uses (x and y registers, small integers, one- and two-byte values) in
 * place and hands the rest to one out-of-line function: the loop is 111 KB,
 * and warm requests take the same time (measured in the README).
 *
 * The out-of-line functions cannot jump to the loop's labels, so they
 * return a status and the macro acts on it where upstream's code did.
 */

#ifdef IMPL_EXECUTE_LOOP

enum EwDecodeStatus
{
    EW_DECODE_OK = 0,
    /* HANDLE_ERROR(): the error is already set (a bad large integer). */
    EW_DECODE_ERROR,
    /* RAISE_ERROR(OUT_OF_MEMORY_ATOM) */
    EW_DECODE_OUT_OF_MEMORY,
    /* VM_ABORT() */
    EW_DECODE_ABORT,
};

/* Defined further down in opcodesswitch.h. */
static term large_integer_to_term(Context *ctx, int num_bytes, const uint8_t **encoded);

/* Upstream's DECODE_COMPACT_TERM, whole, with its jumps turned into
 * statuses. (The loop decodes one operand into an int: the macro below
 * decodes into a term and assigns, as upstream's does.) */
static __attribute__((noinline)) enum EwDecodeStatus ew_decode_compact_term_slow(
    Context *ctx, Module *mod, term *x_regs, const uint8_t **pcp, term *out)
{
#pragma push_macro("RAISE_ERROR")
#pragma push_macro("VM_ABORT")
#pragma push_macro("HANDLE_ERROR")
#undef RAISE_ERROR
#undef VM_ABORT
#undef HANDLE_ERROR
#define RAISE_ERROR(error_type_atom) return EW_DECODE_OUT_OF_MEMORY;
#define VM_ABORT() return EW_DECODE_ABORT;
#define HANDLE_ERROR() return EW_DECODE_ERROR;
    const uint8_t *pc = *pcp;
    term value;
    DECODE_COMPACT_TERM(value, pc)
    *pcp = pc;
    *out = value;
    return EW_DECODE_OK;
#pragma pop_macro("HANDLE_ERROR")
#pragma pop_macro("VM_ABORT")
#pragma pop_macro("RAISE_ERROR")
}

/* A value of 3 to 9 bytes (upstream's DECODE_VALUE, case 3). */
static __attribute__((noinline)) uint64_t ew_decode_value_large(const uint8_t **pcp, uint8_t first_byte)
{
    uint8_t size = (first_byte >> 5) + 2;
    uint64_t value = 0;
    for (uint8_t i = 0; i < size; i++) {
        value <<= 8;
        value |= *(*pcp)++;
    }
    return value;
}

/* Upstream's DECODE_DEST_REGISTER for the large register forms. */
static __attribute__((noinline)) enum EwDecodeStatus ew_decode_dest_register_slow(
    Context *ctx, const uint8_t **pcp, uint8_t first_byte, dreg_t *out)
{
    if ((first_byte & COMPACT_LARGE_IMM_MASK) != COMPACT_11BITS_VALUE) {
        return EW_DECODE_ABORT;
    }
    switch (first_byte & 0xF) {
        case COMPACT_LARGE_XREG: {
            unsigned int index = ((first_byte & 0xE0) << 3) | *(*pcp)++;
            dreg_t reg = extended_register_ptr(ctx, index);
            if (IS_NULL_PTR(reg)) {
                return EW_DECODE_OUT_OF_MEMORY;
            }
            *out = reg;
            return EW_DECODE_OK;
        }
        case COMPACT_LARGE_YREG:
            *out = ctx->e + (((first_byte & 0xE0) << 3) | *(*pcp)++);
            return EW_DECODE_OK;
        default:
            return EW_DECODE_ABORT;
    }
}

/* What a slow path's status means in the loop. */
#define EW_ACT_ON_DECODE_STATUS(status)                 \
    if (UNLIKELY((status) != EW_DECODE_OK)) {           \
        if ((status) == EW_DECODE_ERROR) {              \
            HANDLE_ERROR();                             \
        } else if ((status) == EW_DECODE_OUT_OF_MEMORY) { \
            RAISE_ERROR(OUT_OF_MEMORY_ATOM);            \
        } else {                                        \
            VM_ABORT();                                 \
        }                                               \
    }

#undef DECODE_COMPACT_TERM
#define DECODE_COMPACT_TERM(dest_term, decode_pc)                                     \
    {                                                                                 \
        uint8_t ew_first_ = *(decode_pc);                                             \
        switch (ew_first_ & 0xF) {                                                    \
            case COMPACT_INTEGER:                                                     \
                (decode_pc)++;                                                        \
                dest_term = term_from_int4(ew_first_ >> 4);                           \
                break;                                                                \
            case COMPACT_XREG:                                                        \
                (decode_pc)++;                                                        \
                dest_term = x_regs[ew_first_ >> 4];                                   \
                break;                                                                \
            case COMPACT_YREG:                                                        \
                (decode_pc)++;                                                        \
                dest_term = ctx->e[ew_first_ >> 4];                                   \
                break;                                                                \
            default: {                                                                \
                term ew_term_;                                                        \
                enum EwDecodeStatus ew_status_ = ew_decode_compact_term_slow(         \
                    ctx, mod, x_regs, &(decode_pc), &ew_term_);                       \
                EW_ACT_ON_DECODE_STATUS(ew_status_)                                   \
                dest_term = ew_term_;                                                 \
            }                                                                         \
        }                                                                             \
    }

#undef DECODE_VALUE
#define DECODE_VALUE(val, decode_pc)                                                  \
    {                                                                                 \
        uint8_t ew_first_ = *(decode_pc)++;                                           \
        switch ((ew_first_ >> 3) & 0x3) {                                             \
            case 0:                                                                   \
            case 2:                                                                   \
                val = ew_first_ >> 4;                                                 \
                break;                                                                \
            case 1:                                                                   \
                val = ((ew_first_ & 0xE0) << 3) | *(decode_pc)++;                     \
                break;                                                                \
            default:                                                                  \
                val = ew_decode_value_large(&(decode_pc), ew_first_);                 \
                break;                                                                \
        }                                                                             \
    }

#undef DECODE_DEST_REGISTER
#define DECODE_DEST_REGISTER(dreg, decode_pc)                                         \
    {                                                                                 \
        uint8_t ew_first_ = *(decode_pc)++;                                           \
        switch (ew_first_ & 0xF) {                                                    \
            case COMPACT_XREG:                                                        \
                (dreg) = x_regs + (ew_first_ >> 4);                                   \
                break;                                                                \
            case COMPACT_YREG:                                                        \
                (dreg) = ctx->e + (ew_first_ >> 4);                                   \
                break;                                                                \
            default: {                                                                \
                enum EwDecodeStatus ew_status_ = ew_decode_dest_register_slow(        \
                    ctx, &(decode_pc), ew_first_, &(dreg));                           \
                EW_ACT_ON_DECODE_STATUS(ew_status_)                                   \
            }                                                                         \
        }                                                                             \
    }

#endif
