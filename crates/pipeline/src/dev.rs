//! `dev`: build, serve with `npx wrangler dev`, rebuild on change.

use crate::build::{build, BuildOptions};
use crate::project::Project;
use crate::wrangler;
use crate::{Event, Reporter};
use anyhow::{Context as _, Result};
use std::path::Path;
use std::sync::mpsc;
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
    let cmd = wrangler::command(project, &args)?;
    report(Event::Step {
        action: "Serving",
        detail: format!("http://{}:{port} (wrangler dev)", opts.ip),
    });

    if !opts.watch {
        return wrangler::run(&cmd, || {});
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
    wrangler::run(&cmd, || {
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
