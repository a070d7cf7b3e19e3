//! Running wrangler for `dev` and `deploy`: `npx wrangler ...` in the
//! project root, in its own process group with the terminal inherited.
//! Ctrl-C and SIGTERM are forwarded to that group (a second Ctrl-C kills
//! it), and whatever the child leaves in its group (workerd, esbuild) is
//! stopped when it exits, so this process lives on to report its exit code.

use crate::process::{self, Cmd};
use crate::project::Project;
use anyhow::{Context as _, Result};
use std::process::Child;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

/// The process group of the wrangler child, for the signal handler (0: none).
static CHILD_GROUP: AtomicI32 = AtomicI32::new(0);
/// Ctrl-C presses seen while a child ran.
static INTERRUPTS: AtomicI32 = AtomicI32::new(0);
static HANDLER: OnceLock<()> = OnceLock::new();

/// Ctrl-C (and SIGTERM) go to the child's whole process group, and this
/// process lives on to report the child's exit code. A second Ctrl-C kills.
fn install_signal_forwarding() {
    HANDLER.get_or_init(|| {
        // An error means a host program installed its own handler; then
        // the child is still stopped below when it outlives us.
        let _ = ctrlc::set_handler(|| {
            let n = INTERRUPTS.fetch_add(1, Ordering::SeqCst);
            let signal = if n == 0 { libc::SIGINT } else { libc::SIGKILL };
            process::signal_group(CHILD_GROUP.load(Ordering::SeqCst), signal);
        });
    });
}

/// Runs `cmd` (a [`command`]) in its own process group with stdout/stderr inherited,
/// forwarding Ctrl-C to it, and returns its exit code. `tick` is called
/// every 100 ms while it runs.
pub fn run(cmd: &Cmd, mut tick: impl FnMut()) -> Result<i32> {
    install_signal_forwarding();
    INTERRUPTS.store(0, Ordering::SeqCst);
    let mut child: Child = cmd.spawn_group()?;
    let group = child.id() as i32;
    CHILD_GROUP.store(group, Ordering::SeqCst);
    let waited = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) => {
                tick();
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => break Err(e),
        }
    };
    CHILD_GROUP.store(0, Ordering::SeqCst);
    // Whatever the direct child left behind in its group (workerd, esbuild)
    // goes with it.
    process::signal_group(group, libc::SIGTERM);
    let status = waited.with_context(|| format!("could not wait for {}", cmd.display()))?;
    Ok(process::exit_code(status))
}

/// `npx wrangler SUBCOMMAND ARGS...` in the project root.
pub fn command(project: &Project, args: &[String]) -> Result<Cmd> {
    crate::doctor::require_node(&project.root)?;
    Ok(Cmd::tool(process::NPX, &project.root)?
        .arg("wrangler")
        .args(args)
        // No telemetry prompt or upload from a build tool.
        .env("WRANGLER_SEND_METRICS", "false"))
}
