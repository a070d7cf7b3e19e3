//! Replays every input of `crates/runtime/atomvm-wasi/fuzz/regressions/` (each one
//! a bug the fuzzer found in the JSON/HTML NIFs) and `fuzz/seeds/` through the
//! native ASan + UBSan build of the JSON/HTML NIFs, with the harness's
//! round-trip and HTML checks: `cargo xtask fuzz-nif --replay`. Any
//! sanitizer report or broken property fails the test.
//!
//! Needs AtomVM's source ($ATOMVM_SRC, a checkout or an archive, else the
//! pinned archive in ../shared/third_party/) and the host's clang-16 with
//! its sanitizer runtimes; without the source it is skipped, loudly (and
//! fails under CI). The first run compiles AtomVM's core with ASan (a few
//! minutes on two cores); later runs reuse the objects in the user cache's fuzz-nif/.

use std::process::Command;

use test_support::{atomvm_src, output, run, skip, tool};

#[test]
fn json_nif_regressions_and_seeds_replay_clean() {
    let test = "json_nif_regressions_and_seeds_replay_clean";
    let Some(src) = atomvm_src() else {
        return skip(
            test,
            "no AtomVM source: set ATOMVM_SRC to a checkout or archive of the pin",
        );
    };
    replay(&src, &[]);
}

/// The same on 32-bit x86: wasm32's word size, where small integers, boxed
/// integers and every heap size differ from a 64-bit host.
#[test]
fn json_nif_regressions_and_seeds_replay_clean_32_bit() {
    let test = "json_nif_regressions_and_seeds_replay_clean_32_bit";
    let Some(src) = atomvm_src() else {
        return skip(
            test,
            "no AtomVM source: set ATOMVM_SRC to a checkout or archive of the pin",
        );
    };
    if !can_build_32_bit() {
        return skip(
            test,
            "clang-16 -m32 cannot link a fuzzer; install gcc-multilib and lib32stdc++-12-dev",
        );
    }
    replay(&src, &["--m32"]);
}

/// Tries it: links an empty libFuzzer target with -m32 that includes what
/// AtomVM's core includes from the kernel headers.
fn can_build_32_bit() -> bool {
    let dir = tempfile::tempdir().expect("creating a temp dir");
    let src = dir.path().join("probe.c");
    std::fs::write(
        &src,
        // errno.h: the kernel's asm headers come for -m32 with gcc-multilib.
        "#include <errno.h>\n#include <stddef.h>\n#include <stdint.h>\n\
         int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void) d; (void) n; return 0; }\n",
    )
    .expect("writing the probe");
    output(
        Command::new(tool("CLANG", "clang-16"))
            .arg("-m32")
            .arg("-fsanitize=fuzzer,address,undefined")
            .arg(&src)
            .arg("-o")
            .arg(dir.path().join("probe")),
    )
    .is_ok_and(|o| o.success())
}

fn replay(src: &std::path::Path, extra: &[&str]) {
    let out = run(Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["fuzz-nif", "--replay", "--atomvm-src"])
        .arg(src)
        .args(extra))
    .ok();
    let stderr = out.stderr;
    // The replay names what it ran; a run that replayed nothing proves nothing.
    let summary = stderr
        .lines()
        .find(|l| l.starts_with("replayed "))
        .unwrap_or_else(|| panic!("no replay summary in:\n{stderr}"));
    assert!(
        !summary.starts_with("replayed 0 regression inputs"),
        "{summary}"
    );
}
