//! AtomVM's source: a directory, an archive of it, or the pinned commit's
//! archive downloaded from GitHub. An archive is verified by the digest of
//! the file tree inside it, so GitHub's tarball and a `git archive` of the
//! same commit verify alike whatever their compression and timestamps.

use crate::identity::{self, ATOMVM_PIN, ATOMVM_TREE_DIGEST};
use crate::{Progress, Reporter};
use anyhow::{anyhow, bail, Context as _, Result};
use sha2::{Digest as _, Sha256};
use std::fs;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// The digest of a file tree: every regular file by its path relative to the
/// tree's root, whether it is executable, and the SHA-256 of its contents,
/// sorted by path. Directories count only through the files in them.
#[derive(Debug, Default)]
pub struct TreeDigest {
    files: Vec<(String, bool, [u8; 32])>,
}

impl TreeDigest {
    pub fn add(&mut self, path: &str, executable: bool, contents: &[u8]) {
        self.files.push((
            path.to_string(),
            executable,
            Sha256::digest(contents).into(),
        ));
    }

    pub fn finish(mut self) -> String {
        self.files.sort();
        let mut h = Sha256::new();
        for (path, exec, digest) in &self.files {
            h.update(path.as_bytes());
            h.update([0, u8::from(*exec)]);
            h.update(digest);
        }
        crate::digest::hex(&h.finalize())
    }

    /// The digest of the files under `root` (a `.git` directory and our
    /// `.verified` marker at the top are skipped: a checkout, an archive and
    /// an extracted archive of one commit compare equal).
    pub fn of_dir(root: &Path) -> Result<String> {
        use std::os::unix::fs::PermissionsExt as _;
        let mut digest = TreeDigest::default();
        let walk = walkdir::WalkDir::new(root)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| {
                !(e.depth() == 1 && (e.file_name() == ".git" || e.file_name() == VERIFIED))
            });
        for entry in walk {
            let entry = entry.with_context(|| format!("walking {}", root.display()))?;
            if !entry.file_type().is_file() {
                continue;
            }
            let rel = relative_name(entry.path().strip_prefix(root)?)?;
            let bytes = fs::read(entry.path())
                .with_context(|| format!("reading {}", entry.path().display()))?;
            let exec = entry.metadata()?.permissions().mode() & 0o111 != 0;
            digest.add(&rel, exec, &bytes);
        }
        Ok(digest.finish())
    }
}

fn relative_name(rel: &Path) -> Result<String> {
    let parts: Option<Vec<&str>> = rel
        .components()
        .map(|c| match c {
            Component::Normal(s) => s.to_str(),
            _ => None,
        })
        .collect();
    parts
        .map(|p| p.join("/"))
        .ok_or_else(|| anyhow!("{} is not a plain relative UTF-8 path", rel.display()))
}

/// An AtomVM source tree ready to build from.
#[derive(Debug, Clone)]
pub struct AtomVmSource {
    pub root: PathBuf,
    /// The commit, when known (an archive's `git archive` header, or `git`
    /// in a checkout).
    pub commit: Option<String>,
    /// `ATOMVM_BASE_VERSION` from `version.cmake`, `+git.<commit>` for a
    /// development version.
    pub version: String,
    pub tree_digest: String,
}

impl AtomVmSource {
    /// A source directory; its tree digest is computed here.
    pub fn open(root: &Path) -> Result<AtomVmSource> {
        let marker = root.join("src/libAtomVM/globalcontext.c");
        if !marker.is_file() {
            bail!(
                "{} is not an AtomVM source tree (no src/libAtomVM/globalcontext.c)",
                root.display()
            );
        }
        let tree_digest = TreeDigest::of_dir(root)?;
        Self::with_digest(root, tree_digest, git_head)
    }

    /// A tree this crate extracted and verified: the digest is the one its
    /// `.verified` marker recorded, so the tree is not read again.
    fn open_verified(root: &Path) -> Result<AtomVmSource> {
        let marker = root.join(VERIFIED);
        let tree_digest = fs::read_to_string(&marker)
            .with_context(|| format!("reading {}", marker.display()))?
            .trim()
            .to_string();
        Self::with_digest(root, tree_digest, |_| None)
    }

    /// The tree at `root` with its digest: the pinned commit when the digest
    /// is the pin's, else what `commit_of` finds.
    fn with_digest(
        root: &Path,
        tree_digest: String,
        commit_of: impl FnOnce(&Path) -> Option<String>,
    ) -> Result<AtomVmSource> {
        let commit = if tree_digest == ATOMVM_TREE_DIGEST {
            Some(ATOMVM_PIN.to_string())
        } else {
            commit_of(root)
        };
        let version = version_of(root, commit.as_deref())?;
        Ok(AtomVmSource {
            root: root.to_path_buf(),
            commit,
            version,
            tree_digest,
        })
    }

    /// Whether this is exactly the pinned commit's tree.
    pub fn is_pinned(&self) -> bool {
        self.tree_digest == ATOMVM_TREE_DIGEST
    }

    pub fn lib(&self) -> PathBuf {
        self.root.join("src/libAtomVM")
    }
}

fn git_head(root: &Path) -> Option<String> {
    let git = crate::process::find("GIT", &["git"])?;
    let out = crate::process::Cmd::new(git)
        .arg("-C")
        .arg(root)
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn version_of(root: &Path, commit: Option<&str>) -> Result<String> {
    let version_file = root.join("version.cmake");
    let cmake = fs::read_to_string(&version_file)
        .with_context(|| format!("reading {}", version_file.display()))?;
    let base = cmake
        .lines()
        .find_map(|l| {
            let rest = l.trim().strip_prefix("set(ATOMVM_BASE_VERSION")?;
            Some(
                rest.trim()
                    .trim_end_matches(')')
                    .trim()
                    .trim_matches('"')
                    .to_string(),
            )
        })
        .ok_or_else(|| anyhow!("{}: no ATOMVM_BASE_VERSION", version_file.display()))?;
    // Upstream marks development builds with the short commit, as its CMake
    // does when ATOMVM_DEV is set.
    let dev = cmake.contains("set(ATOMVM_DEV TRUE)");
    Ok(match (commit, dev) {
        (Some(c), true) => format!("{base}+git.{}", &c[..c.len().min(7)]),
        _ => base,
    })
}

/// The marker an extracted and verified tree carries (with its digest).
const VERIFIED: &str = ".verified";

/// Where the pinned source is kept once extracted and verified.
fn pinned_dir(build_dir: &Path) -> PathBuf {
    build_dir.join(format!("src/AtomVM-{ATOMVM_PIN}"))
}

/// The source to build from: `spec` as a directory or an archive, or (no
/// spec) the pinned commit, downloaded unless already extracted. An archive
/// must hold exactly the pinned tree; a directory that does not is refused
/// unless `allow_modified`.
pub fn obtain(
    spec: Option<&Path>,
    allow_modified: bool,
    build_dir: &Path,
    progress: Reporter<'_>,
) -> Result<AtomVmSource> {
    let pinned = pinned_dir(build_dir);
    match spec {
        Some(dir) if dir.is_dir() => {
            let src = AtomVmSource::open(dir)?;
            if !src.is_pinned() {
                if !allow_modified {
                    bail!(
                        "{} is not AtomVM at the pinned commit {ATOMVM_PIN}: its file tree's digest \
                         is {}, expected {ATOMVM_TREE_DIGEST}; pass --allow-modified-source to \
                         build from it anyway (the runtime is then marked modified)",
                        dir.display(),
                        src.tree_digest
                    );
                }
                progress(Progress::Note(format!(
                    "{} differs from AtomVM {ATOMVM_PIN}; building it as a modified runtime",
                    dir.display()
                )));
            }
            Ok(src)
        }
        Some(archive) if archive.is_file() => {
            if !pinned.join(VERIFIED).is_file() {
                let file = fs::File::open(archive)
                    .with_context(|| format!("opening {}", archive.display()))?;
                extract_verified(file, &archive.display().to_string(), &pinned, progress)?;
            }
            AtomVmSource::open_verified(&pinned)
        }
        Some(other) => bail!("{}: no such file or directory", other.display()),
        None => {
            if !pinned.join(VERIFIED).is_file() {
                let url = std::env::var(identity::ATOMVM_URL_ENV)
                    .ok()
                    .filter(|v| !v.is_empty())
                    .unwrap_or_else(identity::atomvm_archive_url);
                progress(Progress::Step {
                    action: "Downloading",
                    detail: format!("AtomVM {} from {url}", &ATOMVM_PIN[..12]),
                });
                let downloads = build_dir.join("downloads");
                fs::create_dir_all(&downloads)
                    .with_context(|| format!("creating {}", downloads.display()))?;
                let mut tmp = tempfile::tempfile_in(&downloads)
                    .with_context(|| format!("creating a temp file in {}", downloads.display()))?;
                download(&url, &mut tmp, progress).with_context(|| {
                    format!(
                        "downloading AtomVM's source (no network? pass --atomvm-src with a \
                         checkout or an archive of {ATOMVM_PIN})"
                    )
                })?;
                use std::io::Seek as _;
                tmp.rewind()?;
                extract_verified(tmp, &url, &pinned, progress)?;
            }
            AtomVmSource::open_verified(&pinned)
        }
    }
}

/// Extracts a `.tar.gz` of one top-level directory into `dest`, verifying
/// the tree's digest before anything lands there: the files go to a staging
/// directory that is renamed into place only when the digest matches the pin.
pub fn extract_verified(
    archive: impl Read,
    name: &str,
    dest: &Path,
    progress: Reporter<'_>,
) -> Result<()> {
    crate::atomic::write_dir(dest, |staging| {
        progress(Progress::Step {
            action: "Verifying",
            detail: format!("{name} against the pinned tree digest"),
        });
        let digest = extract_tree(archive, staging).with_context(|| format!("reading {name}"))?;
        if digest != ATOMVM_TREE_DIGEST {
            bail!(
                "{name} is not AtomVM at {ATOMVM_PIN}: the digest of its file tree is {digest}, \
                 expected {ATOMVM_TREE_DIGEST}; nothing was extracted"
            );
        }
        fs::write(staging.join(VERIFIED), format!("{digest}\n"))?;
        Ok(())
    })?;
    Ok(())
}

/// Writes the archive's files under `out` (its one top-level directory
/// stripped) and returns their tree digest. Only directories and regular
/// files are accepted; every path must be plain and relative.
pub fn extract_tree(archive: impl Read, out: &Path) -> Result<String> {
    use std::os::unix::fs::PermissionsExt as _;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    let mut top: Option<String> = None;
    let mut digest = TreeDigest::default();
    for entry in tar.entries().context("not a tar.gz archive")? {
        let mut entry = entry.context("a damaged archive entry")?;
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        }
        let path = entry
            .path()
            .context("an entry with a bad path")?
            .into_owned();
        let name = relative_name(&path).with_context(|| format!("entry {}", path.display()))?;
        let (first, rest) = name.split_once('/').unwrap_or((name.as_str(), ""));
        match &top {
            None => top = Some(first.to_string()),
            Some(t) if t == first => {}
            Some(t) => bail!("entry {name} is outside the archive's top directory {t}/"),
        }
        if rest.is_empty() {
            continue;
        }
        let target = out.join(rest);
        if kind.is_dir() {
            fs::create_dir_all(&target)?;
        } else if kind.is_file() {
            let mut bytes = Vec::with_capacity(entry.size() as usize);
            entry.read_to_end(&mut bytes)?;
            let exec = entry.header().mode()? & 0o111 != 0;
            digest.add(rest, exec, &bytes);
            if let Some(dir) = target.parent() {
                fs::create_dir_all(dir)?;
            }
            fs::write(&target, &bytes).with_context(|| format!("writing {}", target.display()))?;
            if exec {
                fs::set_permissions(&target, fs::Permissions::from_mode(0o755))?;
            }
        } else {
            bail!("entry {name} is a {kind:?}; only files and directories are expected");
        }
    }
    if top.is_none() {
        bail!("the archive is empty");
    }
    Ok(digest.finish())
}

/// Fetches `url` into `out`, reporting bytes as they arrive.
pub fn download(url: &str, out: &mut impl std::io::Write, progress: Reporter<'_>) -> Result<u64> {
    let response = ureq::get(url)
        .call()
        .map_err(|e| anyhow!("GET {url}: {e}"))?;
    let total = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    progress(Progress::Start {
        what: "download",
        total,
        bytes: true,
    });
    let mut body = response.into_body().into_reader();
    let mut buf = vec![0u8; 64 << 10];
    let mut done = 0u64;
    loop {
        let n = body
            .read(&mut buf)
            .with_context(|| format!("reading {url}"))?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n])?;
        done += n as u64;
        progress(Progress::Advance(done));
    }
    progress(Progress::Finish);
    if let Some(total) = total {
        if done != total {
            bail!("{url}: the server announced {total} bytes and sent {done}");
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targz(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
            Vec::new(),
            flate2::Compression::fast(),
        ));
        for (path, bytes) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append_data(&mut header, path, *bytes).unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn the_digest_ignores_order_and_the_top_directory() {
        let a = targz(&[("top/a.c", b"a"), ("top/src/b.c", b"b")]);
        let b = targz(&[("other/src/b.c", b"b"), ("other/a.c", b"a")]);
        let (x, y) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let da = extract_tree(&a[..], x.path()).unwrap();
        assert_eq!(da, extract_tree(&b[..], y.path()).unwrap());
        assert_eq!(da, TreeDigest::of_dir(x.path()).unwrap());
        let c = targz(&[("top/a.c", b"A"), ("top/src/b.c", b"b")]);
        assert_ne!(
            da,
            extract_tree(&c[..], tempfile::tempdir().unwrap().path()).unwrap()
        );
    }

    #[test]
    fn entries_outside_one_top_directory_are_refused() {
        let a = targz(&[("top/a.c", b"a"), ("elsewhere/b.c", b"b")]);
        let err = extract_tree(&a[..], tempfile::tempdir().unwrap().path()).unwrap_err();
        assert!(
            format!("{err:#}").contains("outside the archive's top directory"),
            "{err:#}"
        );
    }

    #[test]
    fn a_wrong_tree_is_never_extracted() {
        let out = tempfile::tempdir().unwrap();
        let dest = out.path().join("AtomVM");
        let a = targz(&[("top/a.c", b"a")]);
        let err = extract_verified(&a[..], "test.tar.gz", &dest, &|_| {}).unwrap_err();
        assert!(format!("{err:#}").contains("is not AtomVM at"), "{err:#}");
        assert!(!dest.exists());
    }
}
