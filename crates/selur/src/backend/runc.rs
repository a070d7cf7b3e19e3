//! The real OCI backend: bundles on disk and an OCI runtime binary (`runc`
//! by default) driven through its command line.
//!
//! Images come from a local [`ImageStore`] (there is no registry access):
//! an image `name[:tag]` is either a directory `<store>/<name>/<tag>/rootfs`
//! (used read-only in place) or a tarball `<store>/<name>/<tag>.tar[.gz]`
//! (unpacked into the bundle), each with an optional `config.json` /
//! `<tag>.json` holding `{"cmd": [...], "env": [...]}`. An image that is not
//! there answers `network_error`: it could not be obtained.
//!
//! Every bundle and the runtime's state (`runc --root`) live under one state
//! directory, a temp dir by default; dropping the backend kills and deletes
//! every container it made and removes that directory.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::Backend;
use crate::error::{Error, ErrorKind, Result};

/// How the backend runs containers.
#[derive(Debug, Clone)]
pub struct RuncConfig {
    /// The OCI runtime binary.
    pub runtime: PathBuf,
    /// Root of the image store.
    pub images: PathBuf,
    /// Where bundles and runtime state go; `None` = a fresh temp dir that
    /// is removed on drop.
    pub state_dir: Option<PathBuf>,
    /// Time between SIGTERM and SIGKILL on stop.
    pub stop_grace: Duration,
    /// Most time one runtime command may take; a runtime that hangs past
    /// it is killed and the operation fails with `io_error`.
    pub command_timeout: Duration,
}

impl RuncConfig {
    pub fn new(images: impl Into<PathBuf>) -> Self {
        RuncConfig {
            runtime: PathBuf::from("runc"),
            images: images.into(),
            state_dir: None,
            stop_grace: Duration::from_secs(5),
            command_timeout: Duration::from_secs(30),
        }
    }
}

/// A local image store (see the module docs for its layout).
#[derive(Debug, Clone)]
pub struct ImageStore {
    root: PathBuf,
}

/// A resolved image.
#[derive(Debug, Clone)]
struct Image {
    reference: String,
    rootfs: Rootfs,
    cmd: Vec<String>,
    env: Vec<String>,
}

#[derive(Debug, Clone)]
enum Rootfs {
    Dir(PathBuf),
    Tar { path: PathBuf, gzip: bool },
}

/// Splits `name[:tag]` and checks both against path tricks.
fn parse_reference(image: &str) -> Result<(String, String)> {
    let bad = |why: &str| {
        Error::new(
            ErrorKind::InvalidRequest,
            format!("image reference {image:?} is not valid: {why}"),
        )
    };
    let (name, tag) = match image.rfind(':') {
        Some(i) if !image[i..].contains('/') => (&image[..i], &image[i + 1..]),
        _ => (image, "latest"),
    };
    if name.is_empty() || name.len() > 200 {
        return Err(bad("the name must be 1-200 characters"));
    }
    for seg in name.split('/') {
        let ok = !seg.is_empty()
            && !seg.starts_with('.')
            && seg
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
        if !ok {
            return Err(bad(
                "name segments are [a-z0-9._-] and do not start with '.'",
            ));
        }
    }
    let tag_ok = !tag.is_empty()
        && tag.len() <= 128
        && !tag.starts_with('.')
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if !tag_ok {
        return Err(bad(
            "the tag is 1-128 of [A-Za-z0-9._-] and does not start with '.'",
        ));
    }
    Ok((name.to_string(), tag.to_string()))
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::new(ErrorKind::Io, format!("{what}: {e}")).with_path(path)
}

impl ImageStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        ImageStore { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn resolve(&self, image: &str) -> Result<Image> {
        let (name, tag) = parse_reference(image)?;
        let reference = format!("{name}:{tag}");
        let base = self.root.join(&name);
        let dir = base.join(&tag);
        let (rootfs, config) = if dir.join("rootfs").is_dir() {
            (Rootfs::Dir(dir.join("rootfs")), dir.join("config.json"))
        } else if let Some((path, gzip)) = [("tar", false), ("tar.gz", true), ("tgz", true)]
            .iter()
            .map(|(ext, gz)| (base.join(format!("{tag}.{ext}")), *gz))
            .find(|(p, _)| p.is_file())
        {
            (Rootfs::Tar { path, gzip }, base.join(format!("{tag}.json")))
        } else {
            return Err(Error::new(
                ErrorKind::NetworkError,
                format!(
                    "image {reference} could not be obtained: it is not in the image store {} (no registry access)",
                    self.root.display()
                ),
            ));
        };
        let mut cmd = vec!["sh".to_string()];
        let mut env = Vec::new();
        if config.is_file() {
            let text =
                fs::read(&config).map_err(|e| io_err("reading the image config", &config, e))?;
            let v: Value = serde_json::from_slice(&text).map_err(|e| {
                Error::new(
                    ErrorKind::InternalError,
                    format!("image config is not valid JSON: {e}"),
                )
                .with_path(&config)
            })?;
            let strings = |key: &str| -> Result<Option<Vec<String>>> {
                match v.get(key) {
                    None => Ok(None),
                    Some(Value::Array(items)) => items
                        .iter()
                        .map(|i| {
                            i.as_str().map(str::to_owned).ok_or_else(|| {
                                Error::new(
                                    ErrorKind::InternalError,
                                    format!("image config `{key}` must hold strings"),
                                )
                                .with_path(&config)
                            })
                        })
                        .collect::<Result<Vec<_>>>()
                        .map(Some),
                    Some(_) => Err(Error::new(
                        ErrorKind::InternalError,
                        format!("image config `{key}` must be an array"),
                    )
                    .with_path(&config)),
                }
            };
            if let Some(c) = strings("cmd")?.filter(|c| !c.is_empty()) {
                cmd = c;
            }
            env = strings("env")?.unwrap_or_default();
        }
        Ok(Image {
            reference,
            rootfs,
            cmd,
            env,
        })
    }

    /// Adds a directory image `image` whose rootfs holds the static
    /// `busybox` binary and its applets as symlinks, running `cmd`.
    /// Used by tests and the demo to build an image without a registry.
    pub fn add_busybox(&self, image: &str, busybox: &Path, cmd: &[&str]) -> Result<()> {
        let (name, tag) = parse_reference(image)?;
        let dir = self.root.join(name).join(tag);
        let bin = dir.join("rootfs/bin");
        fs::create_dir_all(&bin).map_err(|e| io_err("creating the image rootfs", &bin, e))?;
        for d in ["proc", "dev", "sys", "tmp", "etc"] {
            let p = dir.join("rootfs").join(d);
            fs::create_dir_all(&p).map_err(|e| io_err("creating the image rootfs", &p, e))?;
        }
        let target = bin.join("busybox");
        fs::copy(busybox, &target)
            .map_err(|e| io_err("copying busybox into the image", busybox, e))?;
        for applet in ["sh", "sleep", "ls", "cat", "echo", "ps", "true", "false"] {
            let link = bin.join(applet);
            if !link.exists() {
                std::os::unix::fs::symlink("busybox", &link)
                    .map_err(|e| io_err("linking a busybox applet", &link, e))?;
            }
        }
        let config = json!({"cmd": cmd, "env": ["PATH=/bin"]});
        let path = dir.join("config.json");
        write_atomic(&path, config.to_string().as_bytes())
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp =
        tempfile::NamedTempFile::new_in(dir).map_err(|e| io_err("creating a temp file", dir, e))?;
    std::io::Write::write_all(&mut tmp, bytes).map_err(|e| io_err("writing", path, e))?;
    tmp.persist(path)
        .map_err(|e| io_err("renaming into place", path, e.error))?;
    Ok(())
}

/// Drives an OCI runtime binary. See the module docs.
pub struct RuncBackend {
    config: RuncConfig,
    store: ImageStore,
    /// Holds the state dir when it is a temp dir of ours.
    _temp: Option<tempfile::TempDir>,
    state_dir: PathBuf,
    /// Container id → image, for every container this backend made.
    containers: BTreeMap<String, Image>,
}

impl std::fmt::Debug for RuncBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuncBackend")
            .field("runtime", &self.config.runtime)
            .field("state_dir", &self.state_dir)
            .field("containers", &self.containers.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// A process that ignores SIGCHLD has its children reaped by the kernel,
/// so `wait` finds nothing (ECHILD) and no runtime exit status can be read.
/// The BEAM ignores SIGCHLD (its ports' children belong to erl_child_setup,
/// not to the VM), so the backend restores the default disposition; that
/// only means the children this process forks itself must be waited for,
/// which `std::process` always does.
fn restore_sigchld() {
    // SAFETY: sigaction with a null new action only reads the disposition;
    // setting SIG_DFL installs no handler code. Both are async-signal-safe
    // and touch no Rust-visible memory except the out-parameter.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(libc::SIGCHLD, std::ptr::null(), &mut old) == 0
            && old.sa_sigaction == libc::SIG_IGN
        {
            libc::signal(libc::SIGCHLD, libc::SIG_DFL);
        }
    }
}

impl RuncBackend {
    pub fn new(config: RuncConfig) -> Result<RuncBackend> {
        restore_sigchld();
        let (temp, state_dir) = match &config.state_dir {
            Some(d) => {
                fs::create_dir_all(d).map_err(|e| io_err("creating the state dir", d, e))?;
                (None, d.clone())
            }
            None => {
                let t = tempfile::Builder::new()
                    .prefix("selur-")
                    .tempdir()
                    .map_err(|e| {
                        Error::new(ErrorKind::Io, format!("creating a temp state dir: {e}"))
                    })?;
                let p = t.path().to_path_buf();
                (Some(t), p)
            }
        };
        for sub in ["bundles", "runc"] {
            let p = state_dir.join(sub);
            fs::create_dir_all(&p).map_err(|e| io_err("creating the state dir", &p, e))?;
        }
        Ok(RuncBackend {
            store: ImageStore::new(&config.images),
            config,
            _temp: temp,
            state_dir,
            containers: BTreeMap::new(),
        })
    }

    /// Where bundles and `runc --root` state live.
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// The `--root` passed to the runtime.
    pub fn runtime_root(&self) -> PathBuf {
        self.state_dir.join("runc")
    }

    pub fn bundle_dir(&self, id: &str) -> PathBuf {
        self.state_dir.join("bundles").join(id)
    }

    fn runtime(&self) -> Command {
        let mut c = Command::new(&self.config.runtime);
        c.arg("--root")
            .arg(self.runtime_root())
            .current_dir(&self.state_dir);
        c
    }

    /// Runs `cmd` (a runtime command named `what`) within the configured
    /// command timeout; a runtime that hangs is killed and reaped.
    fn wait_bounded(&self, mut cmd: Command, what: &str) -> Result<ExitStatus> {
        let runtime = self.config.runtime.display();
        let mut child = cmd.spawn().map_err(|e| {
            Error::new(
                ErrorKind::Io,
                format!("running {runtime} {what}: {e} (is the OCI runtime installed?)"),
            )
        })?;
        let until = Instant::now() + self.config.command_timeout;
        // Polls with a growing pause: runc commands take milliseconds, so
        // the first checks come quickly.
        let mut pause = Duration::from_millis(1);
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return Ok(status),
                Ok(None) => {}
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(Error::new(
                        ErrorKind::Io,
                        format!("waiting for {runtime} {what}: {e}"),
                    ));
                }
            }
            let now = Instant::now();
            if now >= until {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::new(
                    ErrorKind::Io,
                    format!(
                        "{runtime} {what} did not finish within {:?}; killed it",
                        self.config.command_timeout
                    ),
                ));
            }
            std::thread::sleep(pause.min(until - now));
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }

    /// Runs the runtime to completion and returns its stdout.
    fn run(&self, args: &[&str]) -> Result<String> {
        // Output goes to anonymous temp files, not pipes: nothing has to
        // drain them while the wait is bounded, and a process the runtime
        // leaves behind holding them cannot stall the read.
        let what = args.join(" ");
        let capture = || {
            tempfile::tempfile().map_err(|e| {
                Error::new(
                    ErrorKind::Io,
                    format!("creating a temp file for {what}'s output: {e}"),
                )
            })
        };
        let (mut out, mut err) = (capture()?, capture()?);
        let mut cmd = self.runtime();
        cmd.args(args).stdin(Stdio::null());
        cmd.stdout(clone_file(&out, &what)?)
            .stderr(clone_file(&err, &what)?);
        let status = self.wait_bounded(cmd, &what)?;
        let stdout = read_back(&mut out, &what)?;
        if !status.success() {
            let stderr = read_back(&mut err, &what)?;
            let kind = if stderr.contains("does not exist") || stderr.contains("not exist") {
                ErrorKind::ContainerNotFound
            } else {
                ErrorKind::InternalError
            };
            return Err(Error::new(
                kind,
                format!(
                    "{} {what} failed ({status}): {}",
                    self.config.runtime.display(),
                    stderr.trim()
                ),
            ));
        }
        Ok(stdout)
    }

    /// `runc state` as JSON.
    fn state(&self, id: &str) -> Result<Value> {
        let out = self.run(&["state", id])?;
        serde_json::from_str(&out).map_err(|e| {
            Error::new(
                ErrorKind::InternalError,
                format!("runtime state of {id} is not JSON: {e}"),
            )
        })
    }

    fn status(&self, id: &str) -> Result<String> {
        Ok(self
            .state(id)?
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("unknown")
            .to_string())
    }

    fn known(&self, id: &str) -> Result<&Image> {
        self.containers.get(id).ok_or_else(|| {
            Error::new(
                ErrorKind::ContainerNotFound,
                format!("runc backend has no container {id}"),
            )
        })
    }

    /// Writes the bundle's config.json from the runtime's own template.
    fn write_bundle(&self, id: &str, image: &Image) -> Result<()> {
        let bundle = self.bundle_dir(id);
        fs::create_dir_all(&bundle).map_err(|e| io_err("creating the bundle", &bundle, e))?;
        let rootfs = match &image.rootfs {
            Rootfs::Dir(d) => d
                .canonicalize()
                .map_err(|e| io_err("resolving the image rootfs", d, e))?,
            Rootfs::Tar { path, gzip } => {
                let dest = bundle.join("rootfs");
                if !dest.is_dir() {
                    unpack(path, *gzip, &dest)?;
                }
                dest
            }
        };
        let spec = bundle.join("config.json");
        if spec.exists() {
            fs::remove_file(&spec).map_err(|e| io_err("replacing the bundle config", &spec, e))?;
        }
        let b = bundle.to_string_lossy().into_owned();
        self.run(&["spec", "--bundle", &b])?;
        let text =
            fs::read(&spec).map_err(|e| io_err("reading the runtime's spec template", &spec, e))?;
        let mut v: Value = serde_json::from_slice(&text).map_err(|e| {
            Error::new(
                ErrorKind::InternalError,
                format!("runtime spec template is not JSON: {e}"),
            )
            .with_path(&spec)
        })?;
        v["root"] = json!({"path": rootfs, "readonly": true});
        v["hostname"] = json!(id);
        let process = &mut v["process"];
        process["terminal"] = json!(false);
        process["args"] = json!(image.cmd);
        let mut env: Vec<String> = process["env"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        env.extend(image.env.iter().cloned());
        process["env"] = json!(env);
        write_atomic(
            &spec,
            serde_json::to_vec_pretty(&v)
                .expect("a Value always serializes")
                .as_slice(),
        )
    }

    /// `runc create` with the container's stdio on a log file: the runtime
    /// hands its own stdio to the container, so a pipe here would never
    /// reach end-of-file while the container lives.
    fn runtime_create(&self, id: &str) -> Result<()> {
        let bundle = self.bundle_dir(id);
        let log = bundle.join("output.log");
        let file = File::create(&log).map_err(|e| io_err("creating the container log", &log, e))?;
        let file2 = file
            .try_clone()
            .map_err(|e| io_err("creating the container log", &log, e))?;
        let mut cmd = self.runtime();
        cmd.arg("create").arg("--bundle").arg(&bundle).arg(id);
        cmd.stdin(Stdio::null()).stdout(file).stderr(file2);
        let status = self.wait_bounded(cmd, &format!("create {id}"))?;
        if !status.success() {
            let text = fs::read_to_string(&log).unwrap_or_default();
            return Err(Error::new(
                ErrorKind::InternalError,
                format!(
                    "{} create {id} failed ({status}): {}",
                    self.config.runtime.display(),
                    text.trim()
                ),
            ));
        }
        Ok(())
    }

    fn wait_stopped(&self, id: &str, within: Duration) -> Result<bool> {
        let until = Instant::now() + within;
        loop {
            if self.status(id)? == "stopped" {
                return Ok(true);
            }
            if Instant::now() >= until {
                return Ok(false);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills, deletes and removes the bundle, ignoring what is already gone.
    fn teardown(&self, id: &str) {
        let _ = self.run(&["kill", id, "KILL"]);
        let _ = self.wait_stopped(id, Duration::from_secs(2));
        let _ = self.run(&["delete", "--force", id]);
        let _ = fs::remove_dir_all(self.bundle_dir(id));
    }
}

fn clone_file(f: &File, what: &str) -> Result<File> {
    f.try_clone().map_err(|e| {
        Error::new(
            ErrorKind::Io,
            format!("sharing a temp file with {what}: {e}"),
        )
    })
}

/// The whole of a capture file, from its start.
fn read_back(f: &mut File, what: &str) -> Result<String> {
    use std::io::{Read, Seek};
    let mut bytes = Vec::new();
    f.rewind()
        .and_then(|_| f.read_to_end(&mut bytes))
        .map_err(|e| Error::new(ErrorKind::Io, format!("reading {what}'s output: {e}")))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn unpack(tarball: &Path, gzip: bool, dest: &Path) -> Result<()> {
    let file = File::open(tarball).map_err(|e| io_err("opening the image tarball", tarball, e))?;
    let reader: Box<dyn std::io::Read> = if gzip {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    // Unpack beside the destination and rename, so a failed unpack leaves
    // nothing that a later create would take for a complete rootfs.
    let parent = dest.parent().unwrap_or(Path::new("."));
    let tmp = tempfile::Builder::new()
        .prefix(".rootfs-")
        .tempdir_in(parent)
        .map_err(|e| io_err("creating a temp dir", parent, e))?;
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    archive
        .unpack(tmp.path())
        .map_err(|e| io_err("unpacking the image tarball", tarball, e))?;
    // The TempDir stays armed until the rename succeeds, so a failed
    // rename removes the half-placed `.rootfs-*` directory.
    fs::rename(tmp.path(), dest).map_err(|e| io_err("renaming the unpacked rootfs", dest, e))?;
    // Renamed away: nothing is left at the temp path to remove.
    let _ = tmp.keep();
    Ok(())
}

fn check_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::InvalidRequest,
            format!("container id {id:?} is not valid for the runtime"),
        ))
    }
}

impl Backend for RuncBackend {
    fn create(&mut self, id: &str, image: &str) -> Result<()> {
        check_id(id)?;
        let resolved = self.store.resolve(image)?;
        let made = self
            .write_bundle(id, &resolved)
            .and_then(|()| self.runtime_create(id));
        if let Err(e) = made {
            let _ = self.run(&["delete", "--force", id]);
            let _ = fs::remove_dir_all(self.bundle_dir(id));
            return Err(e);
        }
        self.containers.insert(id.to_string(), resolved);
        Ok(())
    }

    fn start(&mut self, id: &str) -> Result<()> {
        self.known(id)?;
        if self.status(id)? == "stopped" {
            // A stopped runc container cannot start again: recreate it from
            // the same bundle (a restart).
            self.run(&["delete", id])?;
            self.runtime_create(id)?;
        }
        self.run(&["start", id]).map(drop)
    }

    fn stop(&mut self, id: &str) -> Result<()> {
        self.known(id)?;
        if self.status(id)? == "stopped" {
            return Ok(());
        }
        // Racing with the container's own exit is fine: a kill that finds
        // it gone fails, and the state check below settles it.
        let _ = self.run(&["kill", id, "TERM"]);
        if self.wait_stopped(id, self.config.stop_grace)? {
            return Ok(());
        }
        let _ = self.run(&["kill", id, "KILL"]);
        if self.wait_stopped(id, Duration::from_secs(5))? {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::InternalError,
            format!("container {id} did not stop after SIGKILL"),
        ))
    }

    fn delete(&mut self, id: &str) -> Result<()> {
        self.known(id)?;
        match self.run(&["delete", "--force", id]) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::ContainerNotFound => {}
            Err(e) => return Err(e),
        }
        let bundle = self.bundle_dir(id);
        fs::remove_dir_all(&bundle).map_err(|e| io_err("removing the bundle", &bundle, e))?;
        self.containers.remove(id);
        Ok(())
    }

    fn inspect(&mut self, id: &str) -> Result<Value> {
        let image = self.known(id)?.reference.clone();
        let state = self.state(id)?;
        Ok(json!({
            "backend": "runc",
            "image": image,
            "status": state.get("status"),
            "pid": state.get("pid"),
            "bundle": state.get("bundle"),
            "created": state.get("created"),
        }))
    }

    fn reset(&mut self) {
        let ids: Vec<String> = self.containers.keys().cloned().collect();
        for id in ids {
            self.teardown(&id);
        }
        self.containers.clear();
    }

    fn is_blocking(&self) -> bool {
        true
    }
}

impl Drop for RuncBackend {
    fn drop(&mut self) {
        self.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_and_reject_path_tricks() {
        assert_eq!(
            parse_reference("busybox").unwrap(),
            ("busybox".into(), "latest".into())
        );
        assert_eq!(
            parse_reference("org/app:v1.0").unwrap(),
            ("org/app".into(), "v1.0".into())
        );
        // A registry host with a port is not a local store name.
        for bad in [
            "../x",
            "a/../b",
            "A",
            "a//b",
            "a:",
            "a:../x",
            "a:.hidden",
            "/abs",
            "localhost:5000/app",
        ] {
            let e = parse_reference(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidRequest, "{bad}");
        }
    }

    #[test]
    fn unknown_image_could_not_be_obtained() {
        let dir = tempfile::tempdir().unwrap();
        let e = ImageStore::new(dir.path())
            .resolve("nginx:latest")
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NetworkError);
        assert!(e.message().contains("could not be obtained"), "{e}");
    }
}
