//! Finding the AtomVM runtime, and AtomVM's source, for tests.

use crate::skip::skip;
use crate::workspace_root;
use std::path::PathBuf;
use std::sync::OnceLock;

/// The runtime directory (`atomvm.wasm`, `stdlib/`, `runtime.json`), found
/// the way the binary finds it (`ew_runtime::Runtime::locate`:
/// `$ELIXIR_WORKERS_RUNTIME`, else the user cache under the binary's
/// runtime id), and not the stand-in [`crate::cli::test_runtime`] makes.
/// Looked up once per test process, before any test points the process's
/// cache elsewhere. `None` when there is none.
pub fn runtime_dir() -> Option<PathBuf> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        ew_runtime::Runtime::locate()
            .ok()
            .map(|rt| rt.dir)
            .filter(|dir| !is_test_runtime(dir))
    })
    .clone()
}

/// [`runtime_dir`], or the [`skip`] notice for `test` (a failure under `CI`).
#[track_caller]
pub fn require_runtime(test: &str) -> Option<PathBuf> {
    let dir = runtime_dir();
    if dir.is_none() {
        skip(
            test,
            "no AtomVM runtime; run `elixir-workers runtime build` (or `runtime install`), \
             or set ELIXIR_WORKERS_RUNTIME",
        );
    }
    dir
}

/// AtomVM's source for tests that build from it: `$ATOMVM_SRC` (a checkout
/// or an archive; a relative path is taken from the workspace root, where
/// the test command is typed), else the pinned archive beside the workspace
/// (`../shared/third_party/`), else `None`.
pub fn atomvm_src() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("ATOMVM_SRC").filter(|v| !v.is_empty()) {
        return Some(workspace_root().join(dir));
    }
    let shared = workspace_root().join("../shared/third_party/AtomVM-aa7ac0f8.tar.gz");
    shared.is_file().then_some(shared)
}

/// Whether `dir` is the stand-in runtime of [`crate::cli::test_runtime`]
/// (its `runtime.json` says so).
pub(crate) fn is_test_runtime(dir: &std::path::Path) -> bool {
    std::fs::read_to_string(dir.join("runtime.json")).is_ok_and(|t| t.contains("\"test_runtime\""))
}
