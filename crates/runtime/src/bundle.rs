//! The prebuilt runtime as one archive: `pack` writes what a release job
//! publishes next to the binary (`elixir-workers-runtime-<id>.tar.gz` and its
//! `.sha256`), `install` checks one and puts it in the user cache.
//!
//! The archive is deterministic (entries sorted, zero timestamps and owners,
//! gzip without a name or time), so two packs of the same runtime are the
//! same bytes and a reproducible build gives a reproducible archive.

use crate::{identity, Progress, Reporter, Runtime};
use anyhow::{anyhow, bail, Context as _, Result};
use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write as _};
use std::path::{Path, PathBuf};

/// `elixir-workers-runtime-<id>.tar.gz`.
pub fn archive_name(id: &str) -> String {
    format!("elixir-workers-runtime-{id}.tar.gz")
}

/// Where the release of this version publishes the runtime archive.
pub fn release_url() -> String {
    format!(
        "{}/releases/download/v{}/{}",
        env!("CARGO_PKG_REPOSITORY").trim_end_matches('/'),
        env!("CARGO_PKG_VERSION"),
        archive_name(&identity::runtime_id())
    )
}

/// Names a lock file to use instead of the one built into the binary (a
/// mirror's own builds; tests of unreleased runtimes).
pub const LOCK_ENV: &str = "ELIXIR_WORKERS_RUNTIME_LOCK";

/// The sha256 recorded for `id` in `runtime.lock` (or in the file
/// `$ELIXIR_WORKERS_RUNTIME_LOCK` names).
pub fn locked_sha256(id: &str) -> Result<Option<String>> {
    match std::env::var_os(LOCK_ENV).filter(|v| !v.is_empty()) {
        Some(path) => {
            let text = fs::read_to_string(&path)
                .with_context(|| format!("reading {LOCK_ENV}={}", path.to_string_lossy()))?;
            Ok(parse_lock(&text, id).map(str::to_string))
        }
        None => Ok(parse_lock(include_str!("../runtime.lock"), id).map(str::to_string)),
    }
}

fn parse_lock<'l>(lock: &'l str, id: &str) -> Option<&'l str> {
    lock.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .find_map(|l| {
            let (lid, sha) = l.split_once(char::is_whitespace)?;
            (lid == id).then(|| sha.trim())
        })
}

/// What `pack` wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Packed {
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
    pub id: String,
}

/// Checks `runtime` against its manifest and writes it as one archive to
/// `out` (through a temp file), with `out.sha256` beside it.
pub fn pack(runtime: &Runtime, out: &Path) -> Result<Packed> {
    let files = verified_files(&runtime.dir)?;
    let id = runtime
        .id()
        .ok_or_else(|| anyhow!("{}: runtime.json has no id", runtime.dir.display()))?
        .to_string();
    write_tar_gz(out, &files)?;
    let bytes = fs::read(out).with_context(|| format!("reading {}", out.display()))?;
    let sha256 = crate::digest::sha256_hex(&bytes);
    let file_name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    crate::atomic::write(
        &sha_path(out),
        format!("{sha256}  {file_name}\n").as_bytes(),
    )?;
    Ok(Packed {
        path: out.to_path_buf(),
        size: bytes.len() as u64,
        sha256,
        id,
    })
}

/// Writes a gzipped tar of `entries` (name, bytes) with fixed metadata (mode
/// 0644, mtime 0, no owner, no gzip name or time), so the same entries give
/// the same bytes; the file appears only when whole. Also `package`'s.
pub fn write_tar_gz(output: &Path, entries: &[(String, Vec<u8>)]) -> Result<()> {
    let dir = output
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).with_context(|| format!("could not create {}", dir.display()))?;
    crate::atomic::write_with(output, |w| {
        let gz = flate2::write::GzEncoder::new(w, flate2::Compression::best());
        let mut tar = tar::Builder::new(gz);
        for (path, bytes) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_mtime(0);
            header.set_uid(0);
            header.set_gid(0);
            header.set_entry_type(tar::EntryType::Regular);
            tar.append_data(&mut header, path, bytes.as_slice())?;
        }
        tar.into_inner()?.finish()?;
        Ok(())
    })
}

fn sha_path(archive: &Path) -> PathBuf {
    let mut name = archive.as_os_str().to_owned();
    name.push(".sha256");
    PathBuf::from(name)
}

/// The runtime's files by archive name (`runtime.json` first, then the
/// artifacts in manifest order), each checked against `runtime.json`'s size
/// and sha256; a file the manifest does not list is an error too.
fn verified_files(dir: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    let manifest_bytes = fs::read(dir.join("runtime.json"))
        .with_context(|| format!("reading {}", dir.join("runtime.json").display()))?;
    let mut on_disk: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry?;
        if entry.file_type().is_file() {
            let rel = entry
                .path()
                .strip_prefix(dir)?
                .to_string_lossy()
                .replace('\\', "/");
            if rel != "runtime.json" {
                on_disk.insert(rel, fs::read(entry.path())?);
            }
        }
    }
    let listed = check_against_manifest(&manifest_bytes, &mut on_disk)
        .with_context(|| format!("checking {}", dir.display()))?;
    let mut files = vec![("runtime.json".to_string(), manifest_bytes)];
    files.extend(listed);
    Ok(files)
}

/// Takes every artifact `runtime.json` lists out of `files`, checking its
/// size and sha256; fails if one is missing or differs, or if `files` holds
/// anything else. Returns them in manifest order.
fn check_against_manifest(
    manifest: &[u8],
    files: &mut BTreeMap<String, Vec<u8>>,
) -> Result<Vec<(String, Vec<u8>)>> {
    let manifest: serde_json::Value =
        serde_json::from_slice(manifest).context("runtime.json is not valid JSON")?;
    let artifacts = manifest
        .get("artifacts")
        .and_then(|a| a.as_array())
        .ok_or_else(|| anyhow!("runtime.json lists no artifacts"))?;
    let mut out = Vec::new();
    for a in artifacts {
        let path = a.get("path").and_then(|p| p.as_str()).unwrap_or_default();
        let want = a.get("sha256").and_then(|p| p.as_str()).unwrap_or_default();
        let ok_name = path == "atomvm.wasm"
            || path
                .strip_prefix("stdlib/")
                .is_some_and(|n| n.ends_with(".beam") && !n.contains('/') && !n.starts_with('.'));
        if !ok_name {
            bail!("runtime.json lists {path:?}, which is not a runtime file");
        }
        let bytes = files
            .remove(path)
            .ok_or_else(|| anyhow!("{path} is listed in runtime.json but missing"))?;
        let got = crate::digest::sha256_hex(&bytes);
        if got != want {
            bail!("{path}: sha256 {got}, runtime.json says {want}");
        }
        out.push((path.to_string(), bytes));
    }
    if let Some(extra) = files.keys().next() {
        bail!("{extra} is not listed in runtime.json");
    }
    if !out.iter().any(|(p, _)| p == "atomvm.wasm") {
        bail!("runtime.json lists no atomvm.wasm");
    }
    Ok(out)
}

/// Installs a runtime archive (a file path or an `http(s)://` URL; `None`:
/// the release of this version) into the user cache, after checking its
/// sha256 (`runtime.lock` for this id, else the `.sha256` published beside
/// it), that it is the runtime this binary needs, and every file in it.
pub fn install(source: Option<&str>, progress: Reporter<'_>) -> Result<Runtime> {
    let id = identity::runtime_id();
    let source = source.map(str::to_string).unwrap_or_else(release_url);
    let is_url = source.starts_with("http://") || source.starts_with("https://");
    let bytes = if is_url {
        progress(Progress::Step {
            action: "Downloading",
            detail: source.clone(),
        });
        let mut buf = Vec::new();
        crate::source::download(&source, &mut buf, progress)?;
        buf
    } else {
        fs::read(&source).with_context(|| format!("reading {source}"))?
    };
    let got = crate::digest::sha256_hex(&bytes);
    let (want, from) = match locked_sha256(&id)? {
        Some(sha) => (sha, "runtime.lock".to_string()),
        None => {
            let sha_source = format!("{source}.sha256");
            let text = if is_url {
                let mut buf = Vec::new();
                crate::source::download(&sha_source, &mut buf, &|_| {}).with_context(|| {
                    format!("fetching the checksum {sha_source} (runtime.lock has none for {id})")
                })?;
                String::from_utf8_lossy(&buf).into_owned()
            } else {
                fs::read_to_string(&sha_source).with_context(|| {
                    format!(
                        "no checksum for {source}: runtime.lock has none for {id} and \
                         {sha_source} cannot be read"
                    )
                })?
            };
            let sha = text
                .split_whitespace()
                .next()
                .filter(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
                .ok_or_else(|| anyhow!("{sha_source} does not start with a sha256"))?
                .to_ascii_lowercase();
            (sha, sha_source)
        }
    };
    if got != want {
        bail!("{source}: sha256 is {got}, {from} says {want}; nothing was installed");
    }
    progress(Progress::Step {
        action: "Checking",
        detail: format!("{source} (sha256 {})", &got[..16]),
    });
    let files = read_archive(&bytes).with_context(|| format!("reading {source}"))?;
    install_files(&id, files).with_context(|| format!("installing {source}"))
}

fn read_archive(bytes: &[u8]) -> Result<BTreeMap<String, Vec<u8>>> {
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let mut files = BTreeMap::new();
    for entry in tar.entries().context("not a tar.gz archive")? {
        let mut entry = entry.context("a damaged archive entry")?;
        let kind = entry.header().entry_type();
        let name = entry.path()?.to_string_lossy().into_owned();
        if kind.is_dir() {
            continue;
        }
        if !kind.is_file() {
            bail!("entry {name} is a {kind:?}; a runtime archive holds only files");
        }
        let mut buf = Vec::with_capacity(entry.size() as usize);
        entry.read_to_end(&mut buf)?;
        if files.insert(name.clone(), buf).is_some() {
            bail!("entry {name} appears twice");
        }
    }
    Ok(files)
}

fn install_files(id: &str, mut files: BTreeMap<String, Vec<u8>>) -> Result<Runtime> {
    let manifest = files
        .remove("runtime.json")
        .ok_or_else(|| anyhow!("the archive has no runtime.json"))?;
    let info: serde_json::Value = serde_json::from_slice(&manifest)?;
    let found = info.get("id").and_then(|v| v.as_str()).unwrap_or("(none)");
    if found != id {
        bail!("the archive holds runtime {found}; this binary needs {id}");
    }
    let listed = check_against_manifest(&manifest, &mut files)?;
    let wasm = &listed
        .iter()
        .find(|(p, _)| p == "atomvm.wasm")
        .expect("checked above")
        .1;
    crate::abi::check_module(wasm)?;

    let out = crate::cache::runtime_dir(id)?;
    crate::atomic::write_dir(&out, |staging| {
        fs::create_dir_all(staging.join("stdlib"))?;
        for (path, bytes) in &listed {
            fs::write(staging.join(path), bytes)?;
        }
        let mut f = fs::File::create(staging.join("runtime.json"))?;
        f.write_all(&manifest)?;
        f.sync_all()?;
        Ok(())
    })?;
    Runtime::open(&out, crate::Origin::Installed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_lock_holds_well_formed_lines() {
        let lock = include_str!("../runtime.lock");
        for line in lock
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let (id, sha) = line.split_once(' ').expect("id and sha256");
            assert!(id.starts_with("atomvm-") && id.len() == 32, "{line}");
            assert!(
                sha.trim().len() == 64 && sha.trim().bytes().all(|b| b.is_ascii_hexdigit()),
                "{line}"
            );
        }
    }

    #[test]
    fn the_lock_is_read_by_id() {
        let lock = "# comment\n\natomvm-a-1 aaaa\natomvm-b-2   bbbb  \n";
        assert_eq!(parse_lock(lock, "atomvm-b-2"), Some("bbbb"));
        assert_eq!(parse_lock(lock, "atomvm-c"), None);
    }

    #[test]
    fn a_manifest_must_list_exactly_the_files() {
        let wasm = b"\0asm".to_vec();
        let manifest = serde_json::to_vec(&serde_json::json!({"artifacts": [
            {"path": "atomvm.wasm", "size": 4, "sha256": crate::digest::sha256_hex(&wasm)}
        ]}))
        .unwrap();
        let mut ok = BTreeMap::from([("atomvm.wasm".to_string(), wasm.clone())]);
        assert_eq!(check_against_manifest(&manifest, &mut ok).unwrap().len(), 1);

        let mut extra = BTreeMap::from([
            ("atomvm.wasm".to_string(), wasm.clone()),
            ("stdlib/x.beam".to_string(), vec![1]),
        ]);
        let err = check_against_manifest(&manifest, &mut extra).unwrap_err();
        assert_eq!(
            err.to_string(),
            "stdlib/x.beam is not listed in runtime.json"
        );

        let mut changed = BTreeMap::from([("atomvm.wasm".to_string(), b"\0asn".to_vec())]);
        let err = check_against_manifest(&manifest, &mut changed).unwrap_err();
        assert!(err.to_string().starts_with("atomvm.wasm: sha256 "), "{err}");

        let evil = serde_json::to_vec(&serde_json::json!({"artifacts": [
            {"path": "../x", "size": 1, "sha256": "00"}
        ]}))
        .unwrap();
        let err = check_against_manifest(&evil, &mut BTreeMap::new()).unwrap_err();
        assert!(err.to_string().contains("not a runtime file"), "{err}");
    }
}
