//! The worker shim's own tests under Node: the WASI layer against a WASI
//! program compiled from C in the test setup (clang-16, wasm32-wasi), and
//! the request path with that program standing in for the VM.

use std::process::Command;
use test_support::{run, tool, worker_dir};

#[test]
fn node_tests_of_the_shim_pass() {
    let dir = worker_dir();
    let mut files: Vec<_> = std::fs::read_dir(dir.join("test"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".test.mjs"))
        // The end-to-end file needs the runtime; tests/worker.rs runs it.
        .filter(|p| !p.to_string_lossy().ends_with("e2e.test.mjs"))
        .collect();
    files.sort();
    assert!(files.len() >= 2, "shim test files missing: {files:?}");

    let out = run(Command::new(tool("NODE", "node"))
        .current_dir(&dir)
        .arg("--test")
        .args(&files))
    .ok();
    out.echo();
    assert!(
        out.stdout.contains("# fail 0"),
        "unexpected node output:\n{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("# pass 0"),
        "no node test ran:\n{}",
        out.stdout
    );
}
