//! Protocol consolidation at build time, as `mix compile` does: every
//! protocol on the app's, the framework's and Elixir's own code paths is
//! rebuilt with `Protocol.consolidate/2` so that it dispatches to its
//! implementations by direct clauses. On the runtime that saves the module
//! lookup of every unconsolidated dispatch (`Module.concat/2` and a load
//! attempt), and the implementations are named as atoms in the protocol, so
//! the tree-shake sees them.

use crate::process::{Cmd, ELIXIR};
use anyhow::{Context as _, Result};
use std::path::Path;

const SCRIPT: &str = include_str!("protocols.exs");

/// Consolidates the protocols of `paths` into `out` (replaced whole, through
/// a staging directory next to it).
pub fn consolidate(project_root: &Path, out: &Path, paths: &[&Path]) -> Result<()> {
    let parent = out
        .parent()
        .context("no parent for the consolidated directory")?;
    std::fs::create_dir_all(parent)
        .with_context(|| format!("could not create {}", parent.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".consolidated-")
        .tempdir_in(parent)
        .with_context(|| format!("could not create a directory in {}", parent.display()))?;
    let script = staging.path().join("protocols.exs");
    std::fs::write(&script, SCRIPT)
        .with_context(|| format!("could not write {}", script.display()))?;
    let beams = staging.path().join("ebin");
    std::fs::create_dir_all(&beams)?;
    Cmd::tool(ELIXIR, project_root)?
        .arg(&script)
        .arg(&beams)
        .args(paths.iter().map(|p| p.as_os_str()))
        .capture()
        .context("consolidating protocols")?;
    if out.exists() {
        std::fs::remove_dir_all(out)
            .with_context(|| format!("could not remove {}", out.display()))?;
    }
    std::fs::rename(&beams, out).with_context(|| format!("could not create {}", out.display()))?;
    Ok(())
}
