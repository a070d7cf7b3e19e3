//! `dev`: build, serve with `npx wrangler dev`, rebuild on change.

use crate::build::{build, BuildOptions};
use crate::process::{self, Cmd};
use crate::project::Project;
use crate::{Event, Reporter};
use anyhow::{Context as _, Result};
use std::path::Path;
use std::process::Child;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct DevOptions {
    pub build: BuildOptions,
    /// Overrides `dev.port` of wrangler.jsonc.
    pub port: Option<u16>,
    /// The address wrangler binds.
    pub ip: String,
    /// Rebuild when `lib/` changes.
    pub watch: bool,
    /// Quiet time after the last change before a rebuild starts.
    pub debounce: Duration,
    /// Extra arguments for `wrangler dev`.
    pub wrangler_args: Vec<String>,
}

impl Default for DevOptions {
    fn default() -> Self {
        DevOptions {
            build: BuildOptions::default(),
            port: None,
            ip: "127.0.0.1".into(),
            watch: true,
            debounce: Duration::from_millis(200),
            wrangler_args: Vec::new(),
        }
    }
}

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
            crate::process::signal_group(CHILD_GROUP.load(Ordering::SeqCst), signal);
        });
    });
}

/// Runs a command in its own process group with stdout/stderr inherited,
/// forwarding Ctrl-C to it, and returns its exit code. `tick` is called
/// every 100 ms while it runs.
pub fn run_forwarding(cmd: &Cmd, mut tick: impl FnMut()) -> Result<i32> {
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
    crate::process::signal_group(group, libc::SIGTERM);
    let status = waited.with_context(|| format!("could not wait for {}", cmd.display()))?;
    Ok(process::exit_code(status))
}

/// True once Ctrl-C was pressed while the last child ran.
pub fn interrupted() -> bool {
    INTERRUPTS.load(Ordering::SeqCst) > 0
}

/// `npx wrangler SUBCOMMAND ARGS...` in the project root.
pub fn wrangler(project: &Project, args: &[String]) -> Result<Cmd> {
    crate::doctor::require_node(&project.root)?;
    Ok(Cmd::tool(process::NPX, &project.root)?
        .arg("wrangler")
        .args(args)
        // No telemetry prompt or upload from a build tool.
        .env("WRANGLER_SEND_METRICS", "false"))
}

pub fn dev(project: &Project, opts: &DevOptions, report: Reporter<'_>) -> Result<i32> {
    build(project, &opts.build, report)?;
    let port = match opts.port {
        Some(p) => p,
        None => project.dev_port()?,
    };
    let mut args: Vec<String> = vec![
        "dev".into(),
        "--port".into(),
        port.to_string(),
        "--ip".into(),
        opts.ip.clone(),
    ];
    args.extend(opts.wrangler_args.iter().cloned());
    let cmd = wrangler(project, &args)?;
    report(Event::Step {
        action: "Serving",
        detail: format!("http://{}:{port} (wrangler dev)", opts.ip),
    });

    if !opts.watch {
        return run_forwarding(&cmd, || {});
    }
    let (tx, rx) = mpsc::channel();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event {
            if is_source_change(&event) {
                let _ = tx.send(());
            }
        }
    })
    .context("could not start the file watcher")?;
    use notify::Watcher as _;
    let lib = project.lib_dir();
    watcher
        .watch(&lib, notify::RecursiveMode::Recursive)
        .with_context(|| format!("could not watch {}", lib.display()))?;
    report(Event::Step {
        action: "Watching",
        detail: format!("{} for changes", lib.display()),
    });

    let mut last_change: Option<Instant> = None;
    let build_opts = BuildOptions {
        no_install: true,
        ..opts.build.clone()
    };
    run_forwarding(&cmd, || {
        while rx.try_recv().is_ok() {
            last_change = Some(Instant::now());
        }
        if last_change.is_some_and(|t| t.elapsed() >= opts.debounce) {
            last_change = None;
            match build(project, &build_opts, report) {
                Ok(summary) => report(Event::Rebuilt(Box::new(summary))),
                Err(err) => report(Event::RebuildFailed(format!("{err:#}"))),
            }
        }
    })
}

/// A change worth a rebuild: an `.ex` file written, created, renamed or
/// removed (reads by elixirc and editor swap files are not).
fn is_source_change(event: &notify::Event) -> bool {
    use notify::EventKind;
    let relevant_kind = matches!(
        event.kind,
        EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_)
    );
    relevant_kind
        && event
            .paths
            .iter()
            .any(|p| p.extension().is_some_and(|e| e == "ex") || is_dir_event(p))
}

fn is_dir_event(path: &Path) -> bool {
    path.extension().is_none()
        && !path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
}
