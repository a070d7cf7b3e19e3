//! The Elixir framework (`ElixirWorkers.*`): its sources are embedded in the
//! binary and compiled once per (toolchain version, Elixir/OTP version,
//! source hash) into a cache directory shared by every project.

use crate::process::Cmd;
use crate::toolchain::Toolchain;
use anyhow::{Context as _, Result};
use ew_runtime::digest::hex;
use sha2::{Digest as _, Sha256};
use std::path::{Path, PathBuf};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

pub use ew_runtime::cache::CACHE_ENV;

/// The framework's `.ex` sources, relative to `crates/pipeline/framework/lib/`.
pub fn sources() -> &'static [(&'static str, &'static [u8])] {
    embedded::FRAMEWORK
}

/// The worker shim files, relative to `crates/pipeline/worker/src/`.
pub fn worker_files() -> &'static [(&'static str, &'static [u8])] {
    embedded::WORKER
}

pub use ew_runtime::cache::root as cache_root;

/// The cache key: this binary's version, the Elixir/OTP versions and the
/// hash of every embedded source.
pub fn key(toolchain: &Toolchain) -> String {
    let mut h = Sha256::new();
    h.update(env!("CARGO_PKG_VERSION"));
    h.update([0]);
    h.update(toolchain.key());
    for (path, bytes) in sources() {
        h.update([0]);
        h.update(path);
        h.update([0]);
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    let digest = h.finalize();
    format!("{}-{}", toolchain.key(), hex(&digest[..8]))
}

/// The compiled framework.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub key: String,
    pub ebin: PathBuf,
    /// True when this call ran elixirc (the cache was cold).
    pub compiled_now: bool,
}

/// Returns the cached framework beams, compiling them first when the cache
/// has none for this key. The compile happens in a private directory that is
/// renamed into place, so a concurrent or interrupted build never sees half
/// a cache entry.
pub fn ensure_compiled(toolchain: &Toolchain) -> Result<Compiled> {
    anyhow::ensure!(
        !sources().is_empty(),
        "this elixir-workers binary was built without the framework sources \
         (crates/pipeline/framework/lib/ was empty when it was compiled); rebuild it from a complete checkout"
    );
    let key = key(toolchain);
    let root = cache_root()?.join("framework");
    let ebin = root.join(&key);
    if ebin.is_dir() {
        return Ok(Compiled {
            key,
            ebin,
            compiled_now: false,
        });
    }
    std::fs::create_dir_all(&root)
        .with_context(|| format!("could not create {}", root.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".compiling-")
        .tempdir_in(&root)
        .with_context(|| format!("could not create a directory in {}", root.display()))?;
    let src = staging.path().join("src");
    let mut files = Vec::new();
    for (rel, bytes) in sources() {
        let path = src.join(rel);
        let dir = path.parent().expect("a file has a parent");
        std::fs::create_dir_all(dir)
            .with_context(|| format!("could not create {}", dir.display()))?;
        std::fs::write(&path, bytes)
            .with_context(|| format!("could not write {}", path.display()))?;
        files.push(path);
    }
    let out = staging.path().join("ebin");
    std::fs::create_dir(&out).with_context(|| format!("could not create {}", out.display()))?;
    Cmd::new(&toolchain.elixirc, staging.path())
        .arg("-o")
        .arg(&out)
        .args(&files)
        .capture()
        .context("compiling the elixir-workers framework failed")?;
    match std::fs::rename(&out, &ebin) {
        Ok(()) => {}
        // Another build filled the same entry first: theirs is as good.
        Err(_) if ebin.is_dir() => {}
        Err(e) => {
            return Err(e)
                .with_context(|| format!("could not move the framework into {}", ebin.display()))
        }
    }
    Ok(Compiled {
        key,
        ebin,
        compiled_now: true,
    })
}

/// The `.beam` files in a directory, sorted.
pub fn beams_in(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in
        std::fs::read_dir(dir).with_context(|| format!("could not list {}", dir.display()))?
    {
        let path = entry
            .with_context(|| format!("could not list {}", dir.display()))?
            .path();
        if path.extension().is_some_and(|e| e == "beam") {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}
