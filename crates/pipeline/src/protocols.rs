//! Protocol consolidation at build time, as `mix compile` does: every
//! protocol on the app's, the framework's and Elixir's own code paths is
//! rebuilt with `Protocol.consolidate/2` so that it dispatches to its
//! implementations by direct clauses. On the runtime that saves the module
//! lookup of every unconsolidated dispatch (`Module.concat/2` and a load
//! attempt), and the implementations are named as atoms in the protocol, so
//! the tree-shake sees them.

use crate::process::{Cmd, ELIXIR};
use anyhow::{Context as _, Result};
use ew_runtime::digest::hex;
use sha2::{Digest as _, Sha256};
use std::path::{Path, PathBuf};

const SCRIPT: &str = include_str!("protocols.exs");

/// What consolidation depends on among the app's beams: the protocols it
/// defines (their code) and the names of its implementations (a protocol's
/// dispatch names them; their bodies do not matter). Editing a route
/// changes neither, so the previous consolidation is reused and `build`
/// starts no Elixir VM for it. `base` covers the framework and Elixir.
pub fn key(base: &str, app_beams: &[PathBuf]) -> Result<String> {
    let mut h = Sha256::new();
    h.update(base);
    for path in app_beams {
        let bytes =
            std::fs::read(path).with_context(|| format!("could not read {}", path.display()))?;
        let beam = avm::Beam::parse(&bytes).map_err(|e| e.with_file(path))?;
        if beam.exports_fun("__protocol__", 1) {
            h.update([1]);
            h.update(beam.module_name());
            h.update(Sha256::digest(&bytes));
        } else if beam.exports_fun("__impl__", 1) {
            h.update([2]);
            h.update(beam.module_name());
        }
    }
    Ok(hex(&h.finalize()))
}

/// Consolidates the protocols of `paths` into `out`, which is replaced
/// whole once consolidation succeeded.
pub fn consolidate(project_root: &Path, out: &Path, paths: &[&Path]) -> Result<()> {
    crate::atomic::write_dir(out, |beams| {
        // The script goes beside the output, not into it.
        let script = tempfile::Builder::new()
            .prefix(".protocols-")
            .suffix(".exs")
            .tempfile_in(beams.parent().unwrap_or(Path::new(".")))
            .context("could not create a file for the consolidation script")?;
        std::fs::write(script.path(), SCRIPT)
            .with_context(|| format!("could not write {}", script.path().display()))?;
        Cmd::tool(ELIXIR, project_root)?
            .arg(script.path())
            .arg(beams)
            .args(paths.iter().map(|p| p.as_os_str()))
            .capture()
            .context("consolidating protocols")?;
        Ok(())
    })
}
