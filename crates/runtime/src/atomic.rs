//! Writing a file so that readers see either the old contents or the whole
//! new contents: a temporary file in the same directory, renamed over the
//! target. Used for every output of the toolchain (archives, the worker
//! layout, packages, state), so a failed or interrupted run loses nothing.
//! Directories (a runtime, compiled beams, extracted sources) are built the
//! same way: in a fresh directory beside the target, renamed into place only
//! once they are whole.

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
    persist(tmp, path)
}

/// Writes `path` through `produce`, which gets the temporary file itself (for
/// positional writes, from several threads if it likes) rather than a
/// buffered stream. Its errors are returned as they are; on any error the
/// temporary file is removed and `path` is left as it was.
pub fn write_file_with<T>(
    path: &Path,
    produce: impl FnOnce(&std::fs::File) -> Result<T>,
) -> Result<T> {
    let dir = parent(path);
    let tmp = tempfile::Builder::new()
        .prefix(".elixir-workers-")
        .tempfile_in(dir)
        .with_context(|| format!("could not create a temporary file in {}", dir.display()))?;
    let value = produce(tmp.as_file())?;
    persist(tmp, path)?;
    Ok(value)
}

/// Gives the finished temporary file an ordinary file's permissions and
/// renames it over `path`.
fn persist(tmp: tempfile::NamedTempFile, path: &Path) -> Result<()> {
    // Temporary files are created 0600; outputs are ordinary files.
    use std::os::unix::fs::PermissionsExt as _;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))
        .with_context(|| format!("could not set permissions on {}", tmp.path().display()))?;
    tmp.persist(path)
        .with_context(|| format!("could not replace {}", path.display()))?;
    Ok(())
}

/// Builds the directory `dest`: `fill` writes into a fresh directory beside
/// it, and only when `fill` succeeds does that directory take `dest`'s place.
/// A `dest` already there is moved aside first and removed after; if the new
/// one cannot be put in its place, the old one is put back. On any error the
/// new directory is removed and `dest` is left as it was.
///
/// A directory cannot be renamed over another, so for an instant between
/// the two renames there is no `dest`; a reader never sees a partial one.
pub fn write_dir<T>(dest: &Path, fill: impl FnOnce(&Path) -> Result<T>) -> Result<T> {
    let dir = parent(dest);
    std::fs::create_dir_all(dir).with_context(|| format!("could not create {}", dir.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(".elixir-workers-")
        .tempdir_in(dir)
        .with_context(|| format!("could not create a directory in {}", dir.display()))?;
    let value = fill(staging.path())?;
    // Temporary directories are created 0700; outputs are ordinary ones.
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(staging.path(), std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("could not set permissions on {}", staging.path().display()))?;
    // Removed, with what was at `dest`, when dropped.
    let mut old = None;
    if dest.exists() {
        let aside = tempfile::Builder::new()
            .prefix(".elixir-workers-old-")
            .tempdir_in(dir)
            .with_context(|| format!("could not create a directory in {}", dir.display()))?;
        let parked = aside.path().join("previous");
        std::fs::rename(dest, &parked)
            .with_context(|| format!("could not move {} aside", dest.display()))?;
        old = Some((aside, parked));
    }
    if let Err(e) = std::fs::rename(staging.path(), dest) {
        if let Some((_, parked)) = &old {
            let _ = std::fs::rename(parked, dest);
        }
        return Err(e)
            .with_context(|| format!("could not move the new {} into place", dest.display()));
    }
    // The staging path is now `dest`: nothing is left for it to remove.
    let _ = staging.keep();
    drop(old);
    Ok(value)
}

fn parent(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_replaced_whole() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("f");
        write(&p, b"one").unwrap();
        write(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_file_written_through_its_handle_is_replaced_whole_or_not_at_all() {
        use std::os::unix::fs::{FileExt as _, PermissionsExt as _};
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("f");
        write(&p, b"old").unwrap();
        let n = write_file_with(&p, |f| {
            f.write_all_at(b"!", 3)?;
            f.write_all_at(b"new", 0)?;
            Ok(4)
        })
        .unwrap();
        assert_eq!(n, 4);
        assert_eq!(std::fs::read(&p).unwrap(), b"new!");
        let mode = std::fs::metadata(&p).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
        let e = write_file_with(&p, |f| -> Result<()> {
            f.write_all_at(b"partial", 0)?;
            anyhow::bail!("stopped")
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "stopped");
        assert_eq!(std::fs::read(&p).unwrap(), b"new!");
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_directory_is_replaced_whole_or_not_at_all() {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("out");
        let n = write_dir(&dest, |d| {
            std::fs::write(d.join("a"), "1")?;
            Ok(1)
        })
        .unwrap();
        assert_eq!(n, 1);
        write_dir(&dest, |d| Ok(std::fs::write(d.join("b"), "2")?)).unwrap();
        assert!(
            !dest.join("a").exists(),
            "the old directory's files are gone"
        );
        assert_eq!(std::fs::read_to_string(dest.join("b")).unwrap(), "2");

        let failed = write_dir(&dest, |d| -> Result<()> {
            std::fs::write(d.join("c"), "3")?;
            anyhow::bail!("the fill failed")
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read_to_string(dest.join("b")).unwrap(), "2");
        assert!(!dest.join("c").exists());
        // Neither a staging directory nor a parked one is left behind.
        let names: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["out"]);
    }
}
