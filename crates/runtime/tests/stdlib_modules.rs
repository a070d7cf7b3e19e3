//! The runtime's own Erlang modules (`atomvm-wasi/lib/`) against the real
//! thing on the BEAM: each test script compiles a renamed copy of the module
//! and compares it, case by case, with OTP's or Elixir's original, exiting 1
//! on any difference. (On the runtime itself they are exercised by
//! `cargo xtask conformance` and the ordinary-Elixir test.)

use std::path::Path;
use std::process::Command;

fn lib() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("atomvm-wasi/lib")
}

/// Runs `program args` from the repository root; returns what it printed.
fn run(program: &str, args: &[&Path]) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = test_support::run(Command::new(program).args(args).current_dir(root)).ok();
    out.stdout + &out.stderr
}

#[test]
fn re_matches_otp_re() {
    let report = run("escript", &[&lib().join("test/re_diff.escript")]);
    assert!(
        report.contains("0 failed") || report.contains("failed: 0"),
        "{report}"
    );
}

#[test]
fn base_matches_elixir_base() {
    let report = run("elixir", &[&lib().join("test/base_diff.exs")]);
    assert!(
        report.contains(" 0 failed") || report.contains("failed: 0"),
        "{report}"
    );
}
