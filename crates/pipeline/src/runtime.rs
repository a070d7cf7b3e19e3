//! Locating the AtomVM runtime directory: `atomvm.wasm`, `stdlib/*.beam`,
//! `runtime.json`.

use anyhow::{Context as _, Result};
use std::path::{Path, PathBuf};

/// The environment variable that points at a runtime directory.
pub const RUNTIME_ENV: &str = "ELIXIR_WORKERS_RUNTIME";

/// `<workspace>/priv` of the source tree this binary was built from; works
/// for `cargo install --path crates/cli` and `cargo run`.
const BUILT_IN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../priv");

/// A runtime directory that has the files a build needs.
#[derive(Debug, Clone)]
pub struct Runtime {
    pub dir: PathBuf,
    /// `runtime.json` as written by `cargo xtask runtime`, when present.
    pub info: Option<serde_json::Value>,
}

impl Runtime {
    /// `$ELIXIR_WORKERS_RUNTIME`, else the source tree's `priv/`.
    pub fn locate() -> Result<Runtime> {
        let (dir, origin) = match std::env::var_os(RUNTIME_ENV).filter(|v| !v.is_empty()) {
            Some(dir) => (PathBuf::from(dir), RUNTIME_ENV.to_string()),
            None => (PathBuf::from(BUILT_IN), "the built-in location".to_string()),
        };
        let dir = dir.canonicalize().unwrap_or(dir);
        Runtime::open(&dir).with_context(|| {
            format!(
                "no AtomVM runtime at {} ({origin}); build one with \
                 `cargo xtask runtime --atomvm-src DIR` in the elixir-workers repository, \
                 or set {RUNTIME_ENV} to a directory holding atomvm.wasm and stdlib/",
                dir.display()
            )
        })
    }

    /// Checks that `dir` holds `atomvm.wasm` and `stdlib/`.
    pub fn open(dir: &Path) -> Result<Runtime> {
        let wasm = dir.join("atomvm.wasm");
        anyhow::ensure!(wasm.is_file(), "{} is missing", wasm.display());
        let stdlib = dir.join("stdlib");
        anyhow::ensure!(stdlib.is_dir(), "{} is missing", stdlib.display());
        let json = dir.join("runtime.json");
        let info = if json.is_file() {
            let text = std::fs::read_to_string(&json)
                .with_context(|| format!("could not read {}", json.display()))?;
            Some(
                serde_json::from_str(&text)
                    .with_context(|| format!("{} is not valid JSON", json.display()))?,
            )
        } else {
            None
        };
        Ok(Runtime {
            dir: dir.to_path_buf(),
            info,
        })
    }

    pub fn wasm(&self) -> PathBuf {
        self.dir.join("atomvm.wasm")
    }

    pub fn stdlib_dir(&self) -> PathBuf {
        self.dir.join("stdlib")
    }

    /// The stdlib's `.beam` files, sorted.
    pub fn stdlib_beams(&self) -> Result<Vec<PathBuf>> {
        crate::framework::beams_in(&self.stdlib_dir())
    }
}
