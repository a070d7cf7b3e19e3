//! The framework's ExUnit suite on the real BEAM (Debian's elixir).

use std::process::Command;
use worker_tests::{echo_output, elixirc, framework_dir, run, tool};

#[test]
fn exunit_suite_passes_on_the_beam() {
    let dir = tempfile::tempdir().unwrap();
    let ebin = dir.path().join("ebin");
    let fw = framework_dir();
    elixirc(&[fw.join("lib"), fw.join("test/support")], &ebin).unwrap();

    let mut cmd = Command::new(tool("ELIXIR", "elixir"));
    cmd.current_dir(&fw)
        .arg("-pa")
        .arg(&ebin)
        .arg("-r")
        .arg("test/test_helper.exs")
        .arg("-e")
        .arg(r#"for f <- Enum.sort(Path.wildcard("test/*_test.exs")), do: Code.require_file(f)"#);
    // ExUnit.start() runs the suite at exit and sets a non-zero status on failure.
    let out = run(&mut cmd).unwrap_or_else(|e| panic!("ExUnit failed:\n{e:#}"));
    echo_output(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(", 0 failures"),
        "unexpected ExUnit output:\n{text}"
    );
}

#[test]
fn framework_compiles_without_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(tool("ELIXIRC", "elixirc"));
    cmd.current_dir(framework_dir())
        .arg("--warnings-as-errors")
        .arg("-o")
        .arg(dir.path())
        .arg("lib");
    run(&mut cmd).unwrap_or_else(|e| panic!("{e:#}"));
}
