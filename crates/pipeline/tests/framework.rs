//! The framework's ExUnit suite on the real BEAM (Debian's elixir).

use std::process::Command;
use test_support::{elixirc, framework_dir, run, tempdir, tool};

#[test]
fn exunit_suite_passes_on_the_beam() {
    let dir = tempdir();
    let ebin = dir.path().join("ebin");
    let fw = framework_dir();
    elixirc(&[fw.join("lib"), fw.join("test/support")], &ebin).unwrap_or_else(|e| panic!("{e:#}"));

    // ExUnit.start() runs the suite at exit and sets a non-zero status on failure.
    let out = run(Command::new(tool("ELIXIR", "elixir"))
        .current_dir(&fw)
        .arg("-pa")
        .arg(&ebin)
        .arg("-r")
        .arg("test/test_helper.exs")
        .arg("-e")
        .arg(r#"for f <- Enum.sort(Path.wildcard("test/*_test.exs")), do: Code.require_file(f)"#))
    .ok();
    out.echo();
    assert!(
        out.stdout.contains(", 0 failures"),
        "unexpected ExUnit output:\n{}",
        out.stdout
    );
}

#[test]
fn framework_compiles_without_warnings() {
    let dir = tempdir();
    run(Command::new(tool("ELIXIRC", "elixirc"))
        .current_dir(framework_dir())
        .arg("--warnings-as-errors")
        .arg("-o")
        .arg(dir.path())
        .arg("lib"))
    .ok();
}
