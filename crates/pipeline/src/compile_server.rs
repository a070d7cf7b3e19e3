//! A warm Elixir compiler per project (`compile_server.exs`), so a rebuild
//! after an edit does not pay for booting the VM and loading the compiler
//! again (~0.4 s of CPU per elixirc run; a warm compile of a small app takes
//! tens of milliseconds).
//!
//! The server is started on demand by a build, in its own process group with
//! no stdio, listens on 127.0.0.1 on a port it picks, writes port, a random
//! token, its key and its pid to `_build/.elixir-workers/compiler` (mode
//! 0600), serves one request at a time and exits after being idle
//! (`ELIXIR_WORKERS_COMPILER_IDLE_SECS`, default 900) or within seconds of its
//! info file going away (`rm -rf _build`) or naming another server.
//!
//! A build never waits on it for long: a compile may take
//! `ELIXIR_WORKERS_COMPILER_TIMEOUT_SECS` (default 30 s + 2 s per file), the
//! server gives up on its own at that deadline and the client a little later.
//! A server that overran, closed the connection, answered garbage or
//! answered another request id is killed and forgotten, and the build falls
//! back to elixirc (the next build starts a fresh server); one that is simply
//! gone (killed, exited idle) is replaced at once. Builds of one project take
//! turns through a lock file, so a build's deadline never includes another
//! build's compile.
//! It is not used when `ELIXIRC` names a compiler (the user chose one) or
//! when `ELIXIR_WORKERS_COMPILE_SERVER=0`.

use crate::process::{self, Cmd, ToolFailed};
use crate::project::Project;
use anyhow::{Context as _, Result};
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const SCRIPT: &str = include_str!("compile_server.exs");
const INFO_FILE: &str = "compiler";
const LOCK_FILE: &str = "compiler.lock";
const IDLE_ENV: &str = "ELIXIR_WORKERS_COMPILER_IDLE_SECS";
const TIMEOUT_ENV: &str = "ELIXIR_WORKERS_COMPILER_TIMEOUT_SECS";
const ENABLE_ENV: &str = "ELIXIR_WORKERS_COMPILE_SERVER";
/// How long a new server may take to announce itself.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How much longer than the server's own deadline the client waits, so the
/// server's `timeout` answer normally arrives before the client gives up.
const GRACE: Duration = Duration::from_secs(2);

/// Whether builds may use the compile server.
pub fn enabled() -> bool {
    let user_compiler = std::env::var_os(process::ELIXIRC.env).is_some_and(|v| !v.is_empty());
    let disabled = std::env::var(ENABLE_ENV).is_ok_and(|v| v == "0");
    !user_compiler && !disabled
}

/// How long a server may sit idle and a compile may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A server started by this call exits after this long without a request.
    pub idle: Duration,
    /// A compile that takes longer is abandoned: the server is replaced and
    /// the build falls back to elixirc.
    pub compile: Duration,
}

impl Limits {
    /// `ELIXIR_WORKERS_COMPILER_IDLE_SECS` (default 900) and
    /// `ELIXIR_WORKERS_COMPILER_TIMEOUT_SECS` (default 30 s + 2 s per file:
    /// a warm compile of a small app takes well under a second, a cold
    /// elixirc a few).
    pub fn from_env(n_files: usize) -> Limits {
        let secs = |var: &str| {
            std::env::var(var)
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
                .filter(|&s| s > 0)
        };
        Limits {
            idle: Duration::from_secs(secs(IDLE_ENV).unwrap_or(900)),
            compile: Duration::from_secs(secs(TIMEOUT_ENV).unwrap_or(30 + 2 * n_files as u64)),
        }
    }
}

struct Info {
    port: u16,
    token: String,
    key: String,
    pid: Option<u32>,
}

fn read_info(path: &Path) -> Option<Info> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut lines = text.lines();
    Some(Info {
        port: lines.next()?.parse().ok()?,
        token: lines.next()?.to_string(),
        key: lines.next()?.to_string(),
        pid: lines.next().and_then(|p| p.parse().ok()),
    })
}

/// What a compile through the server gave.
pub enum Outcome {
    /// Compiled; what the compiler printed (warnings).
    Compiled(String),
    /// The server could not be used; compile with elixirc instead. The text
    /// is one line saying what happened.
    Unavailable(String),
}

/// Compiles `files` (relative to the project root) into `outdir` with the
/// limits from the environment. A compile error is returned as a
/// [`ToolFailed`] with exit code 1, like elixirc's.
pub fn compile(
    project: &Project,
    fw_ebin: &Path,
    key: &str,
    files: &[PathBuf],
    outdir: &Path,
) -> Result<Outcome> {
    let limits = Limits::from_env(files.len());
    compile_with(project, fw_ebin, key, files, outdir, &limits)
}

/// [`compile`] with explicit limits.
pub fn compile_with(
    project: &Project,
    fw_ebin: &Path,
    key: &str,
    files: &[PathBuf],
    outdir: &Path,
    limits: &Limits,
) -> Result<Outcome> {
    let state = project.state_dir();
    std::fs::create_dir_all(&state)
        .with_context(|| format!("could not create {}", state.display()))?;
    let info_path = state.join(INFO_FILE);
    // A server running an older script speaks an older protocol: the
    // script's digest is part of the key, so such a server is replaced.
    let key = format!(
        "{key}-{}",
        &ew_runtime::digest::sha256_hex(SCRIPT.as_bytes())[..16]
    );

    // One build at a time per project: the server serves one request at a
    // time anyway, and a build queued behind another's compile must not
    // count that compile against its own deadline (nor take the other's
    // slow compile for a stuck server). The holder is itself bounded.
    let wait = 2 * START_TIMEOUT + limits.compile + GRACE + Duration::from_secs(5);
    let Some(_lock) = lock(&state.join(LOCK_FILE), wait)? else {
        return Ok(Outcome::Unavailable(format!(
            "another build of this project kept the compile server busy for {} s",
            wait.as_secs()
        )));
    };

    let mut body = format!("{}\n{}", limits.compile.as_millis(), outdir.display());
    for f in files {
        body.push('\n');
        body.push_str(&f.display().to_string());
    }
    let mut replaced = false;
    loop {
        let info = match read_info(&info_path) {
            Some(info) if info.key == key => info,
            other => {
                if let Some(stale) = other {
                    // A server for another framework/toolchain/script: ask
                    // it to stop (it also stops within seconds of its info
                    // file naming another server).
                    let _ = request(&stale, &info_path, "stop", Duration::from_secs(2));
                    forget(&stale, &info_path);
                }
                match start(project, fw_ebin, &key, &info_path, limits) {
                    Ok(info) => info,
                    Err(e) => return Ok(Outcome::Unavailable(format!("{e:#}"))),
                }
            }
        };
        let id = request_id();
        let failure = match request(
            &info,
            &info_path,
            &format!("{id}\n{body}"),
            limits.compile + GRACE,
        ) {
            Ok(reply) => match answer(&reply, &id, limits) {
                Ok(Answer::Compiled(printed)) => return Ok(Outcome::Compiled(printed)),
                Ok(Answer::Failed(printed)) => {
                    return Err(compile_error(project, files, info.port, printed))
                }
                Err(why) => Failure::Broken(why),
            },
            Err(failure) => failure,
        };
        match failure {
            // The server died (nothing of it is left running): a fresh one
            // can take the same request, once; it compiles into the same
            // directory afresh.
            Failure::Gone(why) => {
                forget(&info, &info_path);
                if replaced {
                    return Ok(Outcome::Unavailable(why));
                }
                replaced = true;
            }
            Failure::Broken(why) => {
                forget(&info, &info_path);
                return Ok(Outcome::Unavailable(format!(
                    "{why}; stopped the compile server, the next build starts a fresh one"
                )));
            }
        }
    }
}

enum Answer {
    Compiled(String),
    Failed(String),
}

/// Reads a reply. Only an answer carrying this request's id is taken: each
/// request has its own connection, so another id means something other than
/// our server is answering on its port, or the server mixed up requests.
fn answer(reply: &str, id: &str, limits: &Limits) -> Result<Answer, String> {
    let garbage = || {
        let start: String = reply.chars().take(60).collect();
        format!("unexpected reply from the compile server: {start:?}")
    };
    let (reply_id, rest) = reply.split_once('\n').ok_or_else(garbage)?;
    if reply_id != id {
        return Err(format!(
            "the compile server answered request {:?}, not {id}",
            reply_id.chars().take(40).collect::<String>()
        ));
    }
    if let Some(printed) = rest.strip_prefix("ok\n") {
        return Ok(Answer::Compiled(printed.to_string()));
    }
    if let Some(printed) = rest.strip_prefix("error\n") {
        return Ok(Answer::Failed(printed.to_string()));
    }
    if rest.starts_with("timeout\n") {
        return Err(format!(
            "the compile took longer than {} s ({TIMEOUT_ENV})",
            limits.compile.as_secs()
        ));
    }
    Err(garbage())
}

fn compile_error(
    project: &Project,
    files: &[PathBuf],
    port: u16,
    printed: String,
) -> anyhow::Error {
    let command = format!(
        "elixirc {} (warm compile server on 127.0.0.1:{port})",
        files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(" "),
    );
    ToolFailed {
        command,
        cwd: project.root.clone(),
        code: Some(1),
        exit: 1,
        stdout: printed,
        stderr: String::new(),
    }
    .into()
}

/// Why a request got no answer.
enum Failure {
    /// No server there (refused connection, or it exited without a word):
    /// a fresh one may be started and asked.
    Gone(String),
    /// The server is there but overran its deadline or misbehaved; it must
    /// not be asked again.
    Broken(String),
}

/// Largest reply accepted from the compile server (compiler output).
const MAX_REPLY: usize = 64 << 20;

fn request(
    info: &Info,
    info_path: &Path,
    body: &str,
    timeout: Duration,
) -> Result<String, Failure> {
    let addr = SocketAddr::from(([127, 0, 0, 1], info.port));
    let mut stream =
        TcpStream::connect_timeout(&addr, Duration::from_millis(500)).map_err(|e| {
            Failure::Gone(format!(
                "could not connect to the compile server on {addr}: {e}"
            ))
        })?;
    let deadline = Instant::now() + timeout;
    let payload = format!("{}\n{body}", info.token);
    let sent = u32::try_from(payload.len())
        .map_err(|_| Failure::Broken("request too large".into()))
        .and_then(|len| {
            let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
            let mut framed = len.to_be_bytes().to_vec();
            framed.extend_from_slice(payload.as_bytes());
            stream
                .write_all(&framed)
                .map_err(|e| lost(info, info_path, &e))
        });
    sent?;
    let mut head = [0u8; 4];
    read_by(&mut stream, &mut head, deadline).map_err(|e| match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => Failure::Broken(format!(
            "no answer from the compile server within {} s",
            timeout.as_secs()
        )),
        _ => lost(info, info_path, &e),
    })?;
    // The port may by now belong to another program: never size a buffer
    // from an unchecked peer.
    let reply_len = u32::from_be_bytes(head) as usize;
    if reply_len > MAX_REPLY {
        return Err(Failure::Broken(format!(
            "the compile server's reply is implausibly large ({reply_len} bytes)"
        )));
    }
    let mut reply = vec![0u8; reply_len];
    read_by(&mut stream, &mut reply, deadline)
        .map_err(|e| Failure::Broken(format!("the compile server's reply was cut short ({e})")))?;
    Ok(String::from_utf8_lossy(&reply).into_owned())
}

/// The connection broke before any answer: [`Failure::Gone`] when the server
/// process is gone (killed, or it exited idle just as we connected), else
/// [`Failure::Broken`].
fn lost(info: &Info, info_path: &Path, e: &std::io::Error) -> Failure {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(1) {
        if !info.pid.is_some_and(|pid| is_server(pid, info_path)) {
            return Failure::Gone(format!("the compile server exited without answering ({e})"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Failure::Broken(format!(
        "the compile server closed the connection without answering ({e})"
    ))
}

/// `read_exact` that gives up at `deadline`: a server trickling bytes cannot
/// stretch the wait the way a per-read timeout would let it.
fn read_by(stream: &mut TcpStream, mut buf: &mut [u8], deadline: Instant) -> std::io::Result<()> {
    while !buf.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        stream.set_read_timeout(Some(left))?;
        match stream.read(buf) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => buf = &mut buf[n..],
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Makes sure a server is not used again: kills it if it is still running
/// (its whole process group) and removes its info file unless another
/// server has already replaced it.
fn forget(info: &Info, info_path: &Path) {
    if let Some(pid) = info.pid.filter(|&pid| is_server(pid, info_path)) {
        process::signal_group(pid as i32, libc::SIGKILL);
    }
    if read_info(info_path).is_some_and(|now| now.token == info.token) {
        let _ = std::fs::remove_file(info_path);
    }
}

/// Whether `pid` is still this project's compile server, checked before it
/// is signalled: a pid from an old info file may since have been reused.
#[cfg(target_os = "linux")]
fn is_server(pid: u32, info_path: &Path) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let has =
        |needle: &[u8]| !needle.is_empty() && cmdline.windows(needle.len()).any(|w| w == needle);
    let path = info_path.as_os_str().as_encoded_bytes();
    let canonical = info_path.canonicalize().ok();
    let canonical = canonical
        .as_ref()
        .map(|p| p.as_os_str().as_encoded_bytes())
        .unwrap_or_default();
    has(b"compile_server-") && (has(path) || has(canonical))
}

/// Without /proc: the server leads its own process group, which a reused
/// pid almost never does.
#[cfg(not(target_os = "linux"))]
fn is_server(pid: u32, _info_path: &Path) -> bool {
    // SAFETY: getpgid has no memory-safety preconditions.
    let group = unsafe { libc::getpgid(pid as libc::pid_t) };
    group == pid as libc::pid_t
}

/// A fresh id for one request, echoed by the server.
fn request_id() -> String {
    use std::hash::{BuildHasher as _, Hasher as _};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNT.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(t.as_nanos());
    }
    format!("{:016x}", h.finish())
}

/// An exclusive `flock` on the project's lock file, waiting at most `wait`
/// (`None` when that passed). The kernel drops the lock when the holder
/// exits, however it exits, so a killed build leaves nothing stale; the
/// descriptor is close-on-exec, so the server started under it does not
/// inherit the lock.
fn lock(path: &Path, wait: Duration) -> Result<Option<std::fs::File>> {
    use std::os::fd::AsRawFd as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("could not open {}", path.display()))?;
    let started = Instant::now();
    loop {
        // SAFETY: flock on a descriptor owned by `file`, which outlives the call.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return Ok(Some(file));
        }
        let err = std::io::Error::last_os_error();
        match err.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted => {}
            _ => return Err(err).with_context(|| format!("could not lock {}", path.display())),
        }
        if started.elapsed() >= wait {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn start(
    project: &Project,
    fw_ebin: &Path,
    key: &str,
    info_path: &Path,
    limits: &Limits,
) -> Result<Info> {
    let script_dir = crate::framework::cache_root()?;
    std::fs::create_dir_all(&script_dir)
        .with_context(|| format!("could not create {}", script_dir.display()))?;
    let digest = ew_runtime::digest::sha256_hex(SCRIPT.as_bytes());
    let script = script_dir.join(format!("compile_server-{}.exs", &digest[..16]));
    if !script.is_file() {
        crate::atomic::write(&script, SCRIPT.as_bytes())?;
    }
    let mut child = Cmd::tool(process::ELIXIR, &project.root)?
        .arg("-pa")
        .arg(fw_ebin)
        .arg(&script)
        .arg(info_path)
        .arg(limits.idle.as_millis().max(1).to_string())
        .arg(key)
        .spawn_detached()?;
    // Wait for the server to announce itself (the VM boots in well under a
    // second; allow for a loaded machine). Only its own announcement counts,
    // never an info file some earlier server left behind.
    let started = Instant::now();
    while started.elapsed() < START_TIMEOUT {
        if let Some(info) =
            read_info(info_path).filter(|i| i.key == key && i.pid == Some(child.id()))
        {
            // Reap it in the background when it exits, so a long `dev`
            // session leaves no zombie.
            std::thread::spawn(move || child.wait());
            return Ok(info);
        }
        if let Ok(Some(status)) = child.try_wait() {
            anyhow::bail!("the compile server exited at start ({status})");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // The server leads its own process group: end all of it, and reap it.
    process::signal_group(child.id() as i32, libc::SIGKILL);
    let _ = child.wait();
    anyhow::bail!(
        "the compile server did not start within {} s",
        START_TIMEOUT.as_secs()
    )
}
