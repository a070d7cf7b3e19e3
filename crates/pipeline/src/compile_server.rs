//! A warm Elixir compiler per project (`compile_server.exs`), so a rebuild
//! after an edit does not pay for booting the VM and loading the compiler
//! again (~0.4 s of CPU per elixirc run; a warm compile of a small app takes
//! tens of milliseconds).
//!
//! The server is started on demand by a build, in its own process group with
//! no stdio, listens on 127.0.0.1 on a port it picks, writes port and a random
//! token to `_build/.elixir-workers/compiler` (mode 0600), serves one request
//! at a time and exits after being idle (`ELIXIR_WORKERS_COMPILER_IDLE_SECS`,
//! default 900) or within seconds of its info file going away (`rm -rf
//! _build`) or naming another server. Anything unexpected makes the caller
//! fall back to elixirc.
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
const IDLE_ENV: &str = "ELIXIR_WORKERS_COMPILER_IDLE_SECS";
const ENABLE_ENV: &str = "ELIXIR_WORKERS_COMPILE_SERVER";

/// Whether builds may use the compile server.
pub fn enabled() -> bool {
    let user_compiler = std::env::var_os(process::ELIXIRC.env).is_some_and(|v| !v.is_empty());
    let disabled = std::env::var(ENABLE_ENV).is_ok_and(|v| v == "0");
    !user_compiler && !disabled
}

struct Info {
    port: u16,
    token: String,
    key: String,
}

fn read_info(path: &Path) -> Option<Info> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut lines = text.lines();
    Some(Info {
        port: lines.next()?.parse().ok()?,
        token: lines.next()?.to_string(),
        key: lines.next()?.to_string(),
    })
}

/// What a compile through the server gave.
pub enum Outcome {
    /// Compiled; what the compiler printed (warnings).
    Compiled(String),
    /// The server could not be used; compile with elixirc instead.
    Unavailable(String),
}

/// Compiles `files` (relative to the project root) into `outdir`. A compile
/// error is returned as a [`ToolFailed`] with exit code 1, like elixirc's.
pub fn compile(
    project: &Project,
    fw_ebin: &Path,
    key: &str,
    files: &[PathBuf],
    outdir: &Path,
) -> Result<Outcome> {
    let info_path = project.state_dir().join(INFO_FILE);
    let mut info = read_info(&info_path).filter(|i| i.key == key);
    if info.is_none() {
        if let Some(stale) = read_info(&info_path) {
            // A server for another framework/toolchain: ask it to stop.
            let _ = request(&stale, "stop");
            let _ = std::fs::remove_file(&info_path);
        }
        match start(project, fw_ebin, key, &info_path) {
            Ok(i) => info = Some(i),
            Err(e) => return Ok(Outcome::Unavailable(format!("{e:#}"))),
        }
    }
    let info = info.expect("set above");
    let mut payload = outdir.display().to_string();
    for f in files {
        payload.push('\n');
        payload.push_str(&f.display().to_string());
    }
    let reply = match request(&info, &payload) {
        Ok(reply) => reply,
        Err(e) => {
            // Gone (idle exit, killed): forget it; the next build starts one.
            let _ = std::fs::remove_file(&info_path);
            return Ok(Outcome::Unavailable(format!("{e:#}")));
        }
    };
    if let Some(printed) = reply.strip_prefix("ok\n") {
        return Ok(Outcome::Compiled(printed.to_string()));
    }
    if let Some(printed) = reply.strip_prefix("error\n") {
        let command = format!(
            "elixirc {} (warm compile server on 127.0.0.1:{})",
            files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(" "),
            info.port
        );
        return Err(ToolFailed {
            command,
            cwd: project.root.clone(),
            code: Some(1),
            exit: 1,
            stdout: printed.to_string(),
            stderr: String::new(),
        }
        .into());
    }
    let _ = std::fs::remove_file(&info_path);
    Ok(Outcome::Unavailable(format!(
        "unexpected reply from the compile server: {reply:?}"
    )))
}

/// Largest reply accepted from the compile server (compiler output).
const MAX_REPLY: usize = 64 << 20;

fn request(info: &Info, body: &str) -> Result<String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], info.port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500))
        .with_context(|| format!("could not connect to the compile server on {addr}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(600)))
        .context("socket setup failed")?;
    let payload = format!("{}\n{body}", info.token);
    let len = u32::try_from(payload.len()).context("request too large")?;
    stream
        .write_all(&len.to_be_bytes())
        .context("could not send to the compile server")?;
    stream
        .write_all(payload.as_bytes())
        .context("could not send to the compile server")?;
    let mut head = [0u8; 4];
    stream
        .read_exact(&mut head)
        .context("the compile server closed the connection")?;
    // The port may by now belong to another program: never size a buffer
    // from an unchecked peer.
    let reply_len = u32::from_be_bytes(head) as usize;
    anyhow::ensure!(
        reply_len <= MAX_REPLY,
        "the compile server's reply is implausibly large ({reply_len} bytes)"
    );
    let mut reply = vec![0u8; reply_len];
    stream
        .read_exact(&mut reply)
        .context("the compile server closed the connection")?;
    Ok(String::from_utf8_lossy(&reply).into_owned())
}

fn start(project: &Project, fw_ebin: &Path, key: &str, info_path: &Path) -> Result<Info> {
    let script_dir = crate::framework::cache_root()?;
    std::fs::create_dir_all(&script_dir)
        .with_context(|| format!("could not create {}", script_dir.display()))?;
    let digest = crate::build::sha256_hex(SCRIPT.as_bytes());
    let script = script_dir.join(format!("compile_server-{}.exs", &digest[..16]));
    if !script.is_file() {
        crate::build::write_atomically(&script, SCRIPT.as_bytes())?;
    }
    let state = project.state_dir();
    std::fs::create_dir_all(&state)
        .with_context(|| format!("could not create {}", state.display()))?;
    let idle_secs: u64 = std::env::var(IDLE_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(900);
    let mut child = Cmd::tool(process::ELIXIR, &project.root)?
        .arg("-pa")
        .arg(fw_ebin)
        .arg(&script)
        .arg(info_path)
        .arg((idle_secs * 1000).to_string())
        .arg(key)
        .spawn_detached()?;
    // Wait for the server to announce itself (the VM boots in well under a
    // second; allow for a loaded machine).
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if let Some(info) = read_info(info_path).filter(|i| i.key == key) {
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
    anyhow::bail!("the compile server did not start within 30 s")
}
