//! Runs the ExUnit suite of `integrations/vordr` (`mix test`) against the
//! NIF that cargo built for this test run, so `cargo test --workspace`
//! covers the Elixir side too. Fails when `mix test` fails.

use std::path::PathBuf;
use std::process::Command;

#[test]
fn mix_test_in_integrations_vordr() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let project = root.join("integrations/vordr");
    if Command::new("mix").arg("--version").output().is_err() {
        return test_support::skip(
            "mix test in integrations/vordr",
            "mix not found; install elixir",
        );
    }
    // This test binary lives in <target>/<profile>/deps/, next to the NIF
    // cargo built for the same run (it is copied up to <profile>/ only when
    // the library itself is a build target).
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap().to_path_buf();
    let profile_dir = deps.parent().unwrap().to_path_buf();
    let nif = [
        deps.join("libselur_nif.so"),
        profile_dir.join("libselur_nif.so"),
    ]
    .into_iter()
    .find(|p| p.is_file())
    .unwrap_or_else(|| {
        panic!(
            "libselur_nif.so is in neither {} nor its parent",
            deps.display()
        )
    });

    let out = Command::new("mix")
        .arg("test")
        .current_dir(&project)
        .env("MIX_ENV", "test")
        .env("SELUR_NIF_PATH", &nif)
        // Keep compiled Elixir out of the source tree.
        .env("MIX_BUILD_ROOT", profile_dir.join("vordr-mix-build"))
        .output()
        .expect("running mix test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(out.status.success(), "mix test failed ({})", out.status);
    assert!(
        stdout.contains(" 0 failures"),
        "no ExUnit summary in the output"
    );
    assert!(
        !stdout.contains(", 0 tests,") && !stdout.contains("\n0 tests"),
        "ExUnit ran no tests"
    );
}
