//! Replays every input of `runtime/atomvm-wasi/fuzz/regressions/` (each one
//! a bug the fuzzer found in json_nif.c) and `fuzz/seeds/` through the
//! native ASan + UBSan build of the JSON/HTML NIFs, with the harness's
//! round-trip and HTML checks: `cargo xtask fuzz-nif --replay`. Any
//! sanitizer report or broken property fails the test.
//!
//! Needs an AtomVM checkout ($ATOMVM_SRC, else /work/atomvm-src) and the
//! host's clang-16 with its sanitizer runtimes; without the checkout it is
//! skipped, loudly. The first run compiles AtomVM's core with ASan (a few
//! minutes on two cores); later runs reuse the objects in target/fuzz-nif/.

use std::path::PathBuf;
use std::process::Command;

fn atomvm_src() -> Option<PathBuf> {
    let dir = std::env::var_os("ATOMVM_SRC")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/atomvm-src"));
    dir.join("src/libAtomVM/globalcontext.c")
        .is_file()
        .then_some(dir)
}

#[test]
fn json_nif_regressions_and_seeds_replay_clean() {
    let Some(src) = atomvm_src() else {
        // Straight to stderr: libtest hides what eprintln! writes in a
        // passing test, and a skip must be seen.
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: json_nif_regressions_and_seeds_replay_clean (no AtomVM source; set ATOMVM_SRC)"
        );
        return;
    };
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["fuzz-nif", "--replay", "--atomvm-src"])
        .arg(&src)
        .output()
        .expect("running cargo xtask fuzz-nif");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "fuzz-nif --replay failed ({}):\n{stderr}",
        out.status
    );
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
