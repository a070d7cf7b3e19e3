//! Writing a file so that readers see either the old contents or the whole
//! new contents: a temporary file in the same directory, renamed over the
//! target. Used for every output of the toolchain (archives, the worker
//! layout, packages, state), so a failed or interrupted run loses nothing.

use anyhow::{Context as _, Result};
use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path`, creating its directory first.
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = parent(path);
    std::fs::create_dir_all(dir).with_context(|| format!("could not create {}", dir.display()))?;
    write_with(path, |w| w.write_all(bytes))
}

/// Writes what `produce` writes (through a buffer) to `path`, whose directory
/// must exist. On any error the temporary file is removed and `path` is left
/// as it was.
pub fn write_with(
    path: &Path,
    produce: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let dir = parent(path);
    let mut tmp = tempfile::Builder::new()
        .prefix(".elixir-workers-")
        .tempfile_in(dir)
        .with_context(|| format!("could not create a temporary file in {}", dir.display()))?;
    {
        let mut w = std::io::BufWriter::with_capacity(256 << 10, tmp.as_file_mut());
        produce(&mut w)
            .and_then(|()| w.flush())
            .with_context(|| format!("could not write {}", path.display()))?;
    }
    // Temporary files are created 0600; outputs are ordinary files.
    use std::os::unix::fs::PermissionsExt as _;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))
        .with_context(|| format!("could not set permissions on {}", tmp.path().display()))?;
    tmp.persist(path)
        .with_context(|| format!("could not replace {}", path.display()))?;
    Ok(())
}

fn parent(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}
