//! The user cache that every project shares: the compiled framework, the
//! runtime (`runtime/<id>/`) and the runtime build's objects.

use anyhow::{Context as _, Result};
use std::path::PathBuf;

/// Overrides the cache directory (tests point it into a temp dir).
pub const CACHE_ENV: &str = "ELIXIR_WORKERS_CACHE";

/// `$ELIXIR_WORKERS_CACHE`, else `$XDG_CACHE_HOME/elixir-workers`, else
/// `~/.cache/elixir-workers`.
pub fn root() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os(CACHE_ENV).filter(|v| !v.is_empty()) {
        // Tools run with other working directories: a relative cache path
        // would resolve differently there.
        return std::path::absolute(PathBuf::from(&dir))
            .with_context(|| format!("{CACHE_ENV}={} cannot be resolved", dir.to_string_lossy()));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(dir).join("elixir-workers"));
    }
    let home = std::env::var_os("HOME").filter(|v| !v.is_empty()).context(
        "neither ELIXIR_WORKERS_CACHE, XDG_CACHE_HOME nor HOME is set: no place for the cache",
    )?;
    Ok(PathBuf::from(home).join(".cache/elixir-workers"))
}

/// Where the runtime with this id is installed: `<cache>/runtime/<id>/`.
pub fn runtime_dir(id: &str) -> Result<PathBuf> {
    Ok(root()?.join("runtime").join(id))
}

/// The runtime build's working directory: extracted AtomVM sources,
/// generated headers, objects keyed by their inputs, the link cache.
pub fn build_dir() -> Result<PathBuf> {
    Ok(root()?.join("runtime-build"))
}
