//! The worker in workerd, for the benches that run it under `wrangler dev`
//! (`soak`, `runtime`): the app made as a user makes one (the real
//! `elixir-workers` binary), wrangler from npm installed once and linked into
//! each fresh project, and `npx wrangler dev` on 127.0.0.1 in its own process
//! group, stopped with everything under it.

use anyhow::{bail, Context as _, Result};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where a bench keeps what outlives a run (the npm install, logs):
/// `$CARGO_TARGET_DIR/NAME`, else `target/NAME` in the workspace.
pub(super) fn work_dir(name: &str) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::workspace_root().join("target"))
        .join(name)
}

/// Runs the `elixir-workers` binary in `cwd` on `runtime`; its stdout.
pub(super) fn elixir_workers(
    bin: &Path,
    runtime: &Path,
    cwd: &Path,
    args: &[&str],
) -> Result<Vec<u8>> {
    let out = Command::new(bin)
        .args(args)
        .current_dir(cwd)
        .env("ELIXIR_WORKERS_RUNTIME", runtime)
        // No warm compiler left behind by a one-off build.
        .env("ELIXIR_WORKERS_COMPILE_SERVER", "0")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("could not run {}", bin.display()))?;
    if !out.status.success() {
        bail!(
            "elixir-workers {} failed:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(out.stdout)
}

/// The generated project's npm dev dependencies (wrangler at the version
/// `new` pins), installed once in `node` and linked into each run's fresh
/// project. Projects of any name share the install: only the dependencies
/// are compared.
pub(super) fn link_node_modules(node: &Path, project: &Path) -> Result<()> {
    std::fs::create_dir_all(node)
        .with_context(|| format!("could not create {}", node.display()))?;
    let package = std::fs::read_to_string(project.join("package.json"))
        .context("the new project has no package.json")?;
    let wanted = dev_dependencies(&package).context("the new project's package.json")?;
    let installed = std::fs::read_to_string(node.join("package.json"))
        .ok()
        .and_then(|t| dev_dependencies(&t).ok());
    if installed.as_ref() != Some(&wanted) || !node.join("node_modules/.bin/wrangler").exists() {
        eprintln!("installing wrangler (npm install, once)...");
        std::fs::write(node.join("package.json"), &package)?;
        let npm = test_support::tool("NPM", "npm");
        let out = Command::new(&npm)
            .args(["install", "--no-audit", "--no-fund"])
            .current_dir(node)
            .stdin(Stdio::null())
            .output()
            .context("could not run npm")?;
        if !out.status.success() {
            // Keep no package.json that claims an install that failed.
            let _ = std::fs::remove_file(node.join("package.json"));
            bail!(
                "npm install failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    std::os::unix::fs::symlink(node.join("node_modules"), project.join("node_modules"))
        .context("could not link node_modules into the project")
}

fn dev_dependencies(package_json: &str) -> Result<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_str(package_json).context("not JSON")?;
    Ok(v["devDependencies"].clone())
}

/// The version of wrangler installed in `node`, or "?".
pub(super) fn wrangler_version(node: &Path) -> String {
    std::fs::read_to_string(node.join("node_modules/wrangler/package.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["version"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// `npx wrangler dev` in its own process group, stopped with everything
/// under it (workerd) when dropped: at the end, on an error, on a panic.
pub(super) struct Wrangler {
    pub(super) child: Child,
    log: PathBuf,
}

/// What wrangler prints once it listens.
const READY_LINE: &str = "Ready on http";

impl Wrangler {
    /// Starts wrangler dev on 127.0.0.1:`port`, its output to `log`, its
    /// local storage in `state` and its own config next to it.
    pub(super) fn start(
        project: &Path,
        port: u16,
        inspector: u16,
        state: &Path,
        log: &Path,
    ) -> Result<Self> {
        let file = std::fs::File::create(log)
            .with_context(|| format!("could not create {}", log.display()))?;
        let npx = test_support::tool("NPX", "npx");
        let mut cmd = Command::new(npx);
        cmd.current_dir(project)
            .arg("wrangler")
            .arg("dev")
            .args(["--ip", "127.0.0.1", "--port", &port.to_string()])
            .args([
                "--inspector-ip",
                "127.0.0.1",
                "--inspector-port",
                &inspector.to_string(),
            ])
            .arg("--persist-to")
            .arg(state)
            .arg("--show-interactive-dev-session=false")
            .env("WRANGLER_SEND_METRICS", "false")
            // wrangler's own config and logs stay under target/.
            .env("XDG_CONFIG_HOME", state.with_file_name("xdg"))
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file);
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd.spawn().context("could not start npx wrangler dev")?;
        Ok(Wrangler {
            child,
            log: log.to_owned(),
        })
    }

    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits, sending nothing, until wrangler's log says it is ready
    /// ("Ready on http://..."); how long that took since `since`. The log is
    /// looked at every 2 ms.
    pub(super) fn wait_ready_line(
        &mut self,
        since: Instant,
        timeout: Duration,
    ) -> Result<Duration> {
        loop {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            if text.contains(READY_LINE) {
                return Ok(since.elapsed());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                bail!(
                    "wrangler dev exited ({status}) before it was ready:\n{}",
                    self.log_tail()
                );
            }
            if since.elapsed() > timeout {
                bail!(
                    "wrangler dev was not ready within {} s:\n{}",
                    timeout.as_secs(),
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// The whole log so far.
    pub(super) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub(super) fn log_tail(&self) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Wrangler {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-s", "TERM", "--", &group])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // Whatever is left in the group (workerd outliving wrangler).
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &group])
            .status();
        let _ = self.child.wait();
    }
}

pub(super) fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .max_redirects(0)
        // Only 127.0.0.1: never through a proxy from the environment.
        .proxy(None)
        .build()
        .into()
}
