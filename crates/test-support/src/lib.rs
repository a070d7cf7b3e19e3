//! What the tests of the workspace share, in one place (cargo's
//! `cargo-test-support` is the model): running a command and checking its
//! status with its output captured ([`run`], [`checked`]), finding a tool
//! (its environment override, then `PATH`: [`tool`], [`find_tool`]),
//! finding the runtime ([`runtime_dir`]), the one rule for a test that
//! cannot run here ([`skip`]), ports, a small HTTP client and polling
//! ([`free_port`], [`http`], [`wait_for`]), the test app built and booted
//! as `build` does it ([`build_test_app`], [`boot_test_app`]), a real
//! `wrangler dev` ([`wrangler`]) and temporary projects driven through the
//! real `elixir-workers` binary ([`cli`]).
//!
//! The skip rule: a test skips only when what it needs cannot exist on
//! this machine (no runtime has been built or installed, no such tool), and
//! then says `SKIPPED` on stderr; under `CI` it never skips, and the same
//! missing prerequisite fails the test with a message that names it.
//!
//! Only tests and `xtask` depend on this crate; no crate of the binary may.
//! It spawns processes freely: it is not part of what ships.

pub mod cli;
pub mod wrangler;

mod app;
mod net;
mod process;
mod runtime;
mod skip;

pub use app::{boot_test_app, build_test_app, elixirc};
pub use net::{free_port, http, http_text, read_headers, serve_dir, wait_for, FileServer, Reply};
pub use process::{checked, find_tool, output, run, tool, Run};
pub use runtime::{atomvm_src, require_runtime, runtime_dir};
pub use skip::{require_tool, skip};
pub use tempfile::TempDir;

use std::path::{Path, PathBuf};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/test-support is two levels below the workspace root")
        .to_path_buf()
}

/// The framework's sources (`crates/pipeline/framework`).
pub fn framework_dir() -> PathBuf {
    workspace_root().join("crates/pipeline/framework")
}

/// The worker shim's sources (`crates/pipeline/worker`).
pub fn worker_dir() -> PathBuf {
    workspace_root().join("crates/pipeline/worker")
}

/// The profile directory the running test was built into
/// (`<target>/debug`): a test binary lives in its `deps/`, and the
/// workspace's binaries beside it.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary knows its path");
    let dir = exe.parent().expect("a test binary lives in a directory");
    let dir = if dir.file_name().is_some_and(|n| n == "deps") {
        dir.parent().expect("deps/ has a parent")
    } else {
        dir
    };
    dir.to_path_buf()
}

/// Scratch space under the target directory (`<target>/tmp`, where cargo
/// points `CARGO_TARGET_TMPDIR`), kept out of /tmp so that what a failed
/// test left can be looked at.
pub fn scratch() -> PathBuf {
    let dir = profile_dir()
        .parent()
        .map(|target| target.join("tmp"))
        .expect("the profile directory has a parent");
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

/// Fails, showing `text`, unless it holds every one of `needles`.
#[track_caller]
pub fn assert_contains(text: &str, needles: &[&str]) {
    for needle in needles {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
}

/// A fresh temporary directory under [`scratch`], removed when the value
/// drops.
pub fn tempdir() -> tempfile::TempDir {
    let root = scratch().join("e2e-work");
    std::fs::create_dir_all(&root).unwrap();
    tempfile::Builder::new()
        .prefix("t-")
        .tempdir_in(root)
        .unwrap()
}
