//! The float code of the runtime's NIFs against the real BEAM, each C file
//! built with the host's C compiler next to a test program that reads a
//! golden file of BEAM results and exits 1 on any mismatch:
//! `float_format.c` (the text of `float_to_list/2` and `float_to_binary/2`)
//! against 9,419 outputs of OTP (`float_format_golden.escript`), and
//! `float_round.c` (`Float.round/2`, `ceil/2`, `floor/2`) against 13,026 of
//! Elixir (`float_round_golden.exs`). glibc's and wasi-libc's printf and
//! strtod are both correctly rounded, so the host build stands for the wasm
//! one.

use std::path::Path;
use std::process::Command;

/// Builds `test/<name>_test.c` with `src/<name>.c` and runs it on
/// `test/<name>_golden.txt`; returns what it printed.
fn golden(name: &str) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("atomvm-wasi");
    let out = tempfile::tempdir().unwrap();
    let exe = out.path().join(name);
    // A C compiler is needed to build the runtime anyway.
    test_support::run(
        Command::new(test_support::tool("CC", "cc"))
            .args(["-O2", "-std=c11", "-Wall", "-Werror", "-o"])
            .arg(&exe)
            .arg(dir.join(format!("test/{name}_test.c")))
            .arg(dir.join(format!("src/{name}.c")))
            .arg("-lm"),
    )
    .ok();
    let ran =
        test_support::run(Command::new(&exe).arg(dir.join(format!("test/{name}_golden.txt")))).ok();
    ran.stdout + &ran.stderr
}

#[test]
fn float_format_writes_what_otp_writes() {
    let report = golden("float_format");
    assert!(report.contains("9419 cases, 0 failures"), "{report}");
}

#[test]
fn float_round_rounds_as_elixir_does() {
    let report = golden("float_round");
    assert!(report.contains("13026 cases, 0 failures"), "{report}");
}
