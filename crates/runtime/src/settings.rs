//! The settings the runtime is built with: which of AtomVM's sources and
//! ours are compiled, with which flags, linked how, and how the stdlib's
//! beams are stripped. Every one of them is part of the runtime's id
//! ([`identity::runtime_id`](crate::identity::runtime_id)), so changing any
//! of them makes a new runtime; [`build`](crate::build) builds with them.

/// AtomVM's core: `SOURCE_FILES` of `src/libAtomVM/CMakeLists.txt` at
/// the pin, minus `jit.c` (this build interprets). The socket, net,
/// crypto and ssl sources live in the platform libraries upstream and are
/// left out here.
pub const CORE_SOURCES: &[&str] = &[
    "atom",
    "atom_table",
    "avmpack",
    "bif",
    "bitstring",
    "context",
    "debug",
    "defaultatoms",
    "dictionary",
    "dist_nifs",
    "ets",
    "ets_hashtable",
    "externalterm",
    "globalcontext",
    "iff",
    "interop",
    "intn",
    "mailbox",
    "memory",
    "module",
    "nifs",
    "port",
    "posix_nifs",
    "refc_binary",
    "resources",
    "scheduler",
    "stacktrace",
    "term",
    "timer_list",
    "unicode",
    "utils",
    "valueshashtable",
];

/// Our adapter, embedded from `atomvm-wasi/src/`.
pub const ADAPTER_SOURCES: &[&str] = &[
    "main",
    "sys",
    "platform_nifs",
    "platform_defaultatoms",
    "tz",
    "atom_table_presize",
    "literal_cache",
    "heap_mark",
    "budget",
    "json_decode",
    "json_encode",
    "html_escape",
    "stdlib_nifs",
    "float_format",
    "float_round",
    "sys_hooks",
];

/// Per-file defines for the core. `atom_table.c`'s constructor is
/// renamed so that `atom_table_presize.c` can wrap it and load the
/// default atoms in one batch (that file says why). `module.c`'s literal
/// loader is renamed so that `literal_cache.c` can decode each literal
/// once per instance instead of into a heap fragment on every use.
pub const CORE_FILE_DEFINES: &[(&str, &str)] = &[
    ("atom_table", "-Datom_table_new=avm_upstream_atom_table_new"),
    (
        "module",
        "-Dmodule_load_literal=avm_upstream_module_load_literal",
    ),
];

/// Upstream headers a core file is compiled against in a copy that
/// includes one of our headers before an anchor line: (core file, upstream
/// header, the line to insert before, our header). `context.c` runs the
/// interpreter loop of `opcodesswitch.h`; `opcodes_outline.h` replaces its
/// three operand-decoding macros, right after their definitions, with ones
/// whose rare cases are a call (that file says why). The build refuses a
/// header where the anchor is not exactly one line.
pub const CORE_HEADER_PATCHES: &[(&str, &str, &str, &str)] = &[(
    "context",
    "opcodesswitch.h",
    "#define IS_EXTENDED_ALLOCATOR(decode_pc) \\",
    "opcodes_outline.h",
)];

/// How a 32-bit return address is split. Upstream AtomVM makes a
/// continuation pointer `module_index << 24 | code_offset << 2` and a catch
/// term `module_index << 24 | label << 6 | tag`: on wasm32 that leaves the
/// module index 8 bits, and a return into module 256 or later lands in
/// module `index - 256`. [`CORE_SOURCE_EDITS`] moves the split to
/// `CP_MODULE_BITS` bits of module index, which leaves a module's
/// instructions 2^20 bytes and its labels 2^16 (the largest module of
/// Elixir's and OTP's stdlib, `unicode_util`, has 175,239 bytes of code and
/// 7,973 labels). The build refuses an app past any of the three limits.
pub const CP_MODULE_BITS: u32 = 10;
/// Modules an archive may hold.
pub const MAX_MODULES: usize = 1 << CP_MODULE_BITS;
/// Bytes of instructions a module may have (the offset in a return address).
pub const MAX_CODE_BYTES: usize = 1 << (30 - CP_MODULE_BITS);
/// Labels a module may have (the label in a catch term).
pub const MAX_LABELS: usize = 1 << (26 - CP_MODULE_BITS);

/// Edits to AtomVM's own sources, made in the copy every core file is
/// compiled from: (file, text, replacement, how many times the text must be
/// there; anything else stops the build). They are the encoders and
/// decoders of return addresses and catch terms, moved to
/// [`CP_MODULE_BITS`] (a unit test holds the two together).
pub const CORE_SOURCE_EDITS: &[(&str, &str, &str, usize)] = &[
    (
        "module.h",
        "(module_index << 24) | (instruction_index << 2)",
        "(module_index << 22) | (instruction_index << 2)",
        1,
    ),
    (
        "module.c",
        "((uintptr_t) cp) >> 24)",
        "((uintptr_t) cp) >> 22)",
        1,
    ),
    (
        "module.c",
        "(cp & 0xFFFFFF) >> 2",
        "(cp & 0x3FFFFF) >> 2",
        1,
    ),
    (
        "opcodesswitch.h",
        "((uintptr_t) ctx->cp) >> 24",
        "((uintptr_t) ctx->cp) >> 22",
        2,
    ),
    (
        "opcodesswitch.h",
        "((uintptr_t) ctx->cp) & 0xFFFFFF)",
        "((uintptr_t) ctx->cp) & 0x3FFFFF)",
        2,
    ),
    (
        "opcodesswitch.h",
        "(ctx->cp & 0xFFFFFF)",
        "(ctx->cp & 0x3FFFFF)",
        1,
    ),
    (
        "term.h",
        "*module_index = t >> 24;",
        "*module_index = t >> 22;",
        1,
    ),
    ("term.h", "(t >> 6) & 0x3FFFF;", "(t >> 6) & 0xFFFF;", 1),
    (
        "term.h",
        "((module_index << 24) | (label << 6) | TERM_IMMED2_CATCH)",
        "((module_index << 22) | (label << 6) | TERM_IMMED2_CATCH)",
        1,
    ),
];

/// exavmlib modules left out of the stdlib: they drive hardware (GPIO,
/// I2C, LEDC) or talk to port drivers (AVMPort), none of which exist
/// under WASI; `Base` is one of ours (`atomvm-wasi/lib/Elixir.Base.erl`).
pub const EXAVMLIB_EXCLUDED: &[&str] = &["GPIO", "I2C", "LEDC", "AVMPort", "Base"];

/// estdlib modules left out of the stdlib because one of ours replaces
/// them (`atomvm-wasi/lib/<name>.erl`): AtomVM's `application` has only
/// `get_env/2,3`, where Elixir's `Exception` and `Application` ask for more;
/// its `inet` is sockets, which a worker has none of, where `uri_string`
/// needs only the address parsers.
pub const ESTDLIB_EXCLUDED: &[&str] = &["application", "inet"];

/// Flags for every C file. The defines are AtomVM's CMake options for
/// this platform: no SMP and no task driver (one thread), no JIT, stack
/// traces and crash dumps on (upstream's defaults). Deliberately absent:
/// HAVE_OPEN & co. (apps read nothing from disk), WITH_ZLIB (the packer
/// stores literals uncompressed), MINIMUM_OTP_COMPILER_VERSION
/// (upstream's default accepts OTP 21+).
pub const COMMON_CFLAGS: &[&str] = &[
    "--target=wasm32-wasi",
    "-std=gnu11",
    "-Oz",
    "-flto=thin",
    "-g0",
    "-DNDEBUG",
    "-DAVM_NO_SMP",
    "-DAVM_NO_JIT",
    "-DAVM_CREATE_STACKTRACES",
    "-DAVM_PRINT_PROCESS_CRASH_DUMPS",
];

/// A reactor (`_initialize`, then the adapter's `ew_boot` and `ew_run`)
/// whose memory is imported as `elixir_workers.memory` and exported
/// again: the worker boots once, snapshots the memory, and hands each
/// request's fresh instance a memory reset to that snapshot. 512 KiB of
/// stack placed first, so an overflow traps instead of overwriting data.
///
/// ThinLTO rather than full LTO: both spend minutes on the interpreter's
/// one huge function and end within 1 KB of each other after wasm-opt,
/// but ThinLTO keeps a per-module cache, so a change to the adapter
/// relinks in seconds.
pub const LDFLAGS: &[&str] = &[
    "--target=wasm32-wasi",
    "-mexec-model=reactor",
    "-Oz",
    "-flto=thin",
    // -Xlinker: -Wl would split the argument at its comma.
    "-Xlinker",
    "--import-memory=elixir_workers,memory",
    "-Wl,--export-memory",
    // heap_mark.c sees every allocation (it exports the heap's
    // high-water mark, which bounds what a run can have written).
    "-Wl,--wrap=malloc",
    "-Wl,--wrap=calloc",
    "-Wl,--wrap=realloc",
    "-Wl,--wrap=aligned_alloc",
    "-Wl,--wrap=posix_memalign",
    // The worker's copy of the module replaces this function's body
    // (pipeline/src/boot.rs), so it must stay one function, found by name.
    "-Wl,--export=module_new_from_iff_binary",
    // The instance's only mutable global: the worker runs request after
    // request on one instance, putting this back before each run
    // (worker/src/runtime.js), as a new instance would have it.
    "-Wl,--export=__stack_pointer",
    "-Wl,--gc-sections",
    "-Wl,--strip-debug",
    "-Wl,-z,stack-size=524288",
    "-Wl,--stack-first",
];

/// AtomVM NIFs our adapter answers instead (`stdlib_nifs.c`): they are
/// left out of the NIF table generated from `nifs.gperf`, so the lookup
/// falls through to the platform's NIFs. AtomVM's `binary:split` takes
/// one pattern and none of `trim`/`trim_all`, which `String.split`
/// needs; its `float_to_list/2` and `float_to_binary/2` lack `short`,
/// which `Float.to_string/1` needs; its `binary_to_float/1` and
/// `list_to_float/1` give infinity past the double range, where OTP's
/// (and so `Float.parse/1`) refuse; its `binary:at/2`, `first/1` and
/// `last/1` give bytes of 128 and up as negative numbers.
pub const NIFS_REPLACED: &[&str] = &[
    "binary:at/2",
    "binary:first/1",
    "binary:last/1",
    "binary:split/2",
    "binary:split/3",
    "erlang:binary_to_float/1",
    "erlang:float_to_binary/2",
    "erlang:float_to_list/2",
    "erlang:list_to_float/1",
];

/// binaryen's pass over the linked module.
pub const WASM_OPT_FLAGS: &[&str] = &["-Oz", "--strip-producers"];

/// The Erlang program `compile` runs over the stdlib's beams (it fills in
/// `FILES` and `RENAMES`). `beam_lib:strip/2` on every beam: only the
/// chunks a loader uses stay (no debug info, docs or compile info, which hold paths), plus
/// `LocT`, which OTP's loader does without but AtomVM's stack traces read
/// (a module without one crashed the VM when a stack trace passed through
/// it: `__STACKTRACE__` after `Map.replace!/3` of a missing key), and the
/// source paths of the line table become relative to the AtomVM tree, so a
/// build in another directory gives the same bytes.
///
/// beam_lib writes stripped modules gzip-compressed; AtomVM and the packer
/// read plain IFF, so each one is written back uncompressed.
pub const STRIP_SCRIPT: &str = "
    Renames = [RENAMES],
    Rel = fun(Line) ->
        lists:foldl(fun({A, R}, Acc) ->
            binary:replace(Acc, <<(byte_size(list_to_binary(A))):16, (list_to_binary(A))/binary>>,
                           <<(byte_size(list_to_binary(R))):16, (list_to_binary(R))/binary>>, [global])
        end, Line, Renames)
    end,
    lists:foreach(fun(F) ->
        {ok, Raw} = file:read_file(F),
        {ok, {_, S}} = beam_lib:strip(Raw, [\"LocT\"]),
        P = case S of <<31, 139, _/binary>> -> zlib:gunzip(S); _ -> S end,
        {ok, _, Chunks} = beam_lib:all_chunks(P),
        Chunks2 = [case Id of \"Line\" -> {Id, Rel(D)}; _ -> {Id, D} end || {Id, D} <- Chunks],
        {ok, Out} = beam_lib:build_module(Chunks2),
        ok = file:write_file(F, Out)
    end, [FILES]),
    halt(0).";

#[cfg(test)]
mod tests {
    use super::*;

    /// Each edit is upstream's text with its 8-bit module index turned into
    /// [`CP_MODULE_BITS`] bits: the shift, the offset mask and the label
    /// mask the limits promise.
    #[test]
    fn the_source_edits_give_the_module_bits() {
        let shift = 32 - CP_MODULE_BITS;
        let offset_mask = format!("0x{:X}", (1u32 << shift) - 1);
        let label_mask = format!("0x{:X};", MAX_LABELS - 1);
        assert_eq!(MAX_CODE_BYTES, 1 << (shift - 2));
        assert_eq!(MAX_LABELS, 1 << (shift - 6));
        for (file, from, to, _) in CORE_SOURCE_EDITS {
            let expected = from
                .replace("24", &shift.to_string())
                .replace("0xFFFFFF", &offset_mask)
                .replace("0x3FFFF;", &label_mask);
            assert_eq!(*to, expected, "{file}");
        }
    }
}
