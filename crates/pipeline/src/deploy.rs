//! `deploy`: build, then `npx wrangler deploy` with the user's arguments.

use crate::build::{build, BuildOptions};
use crate::project::Project;
use crate::summary::Summary;
use crate::wrangler;
use crate::{Event, Reporter};
use anyhow::Result;

#[derive(Debug, Clone, Default)]
pub struct DeployOptions {
    pub build: BuildOptions,
    /// Passed through to `wrangler deploy` (e.g. `--dry-run --outdir dist`).
    pub wrangler_args: Vec<String>,
}

/// Returns the build summary and wrangler's exit code.
pub fn deploy(
    project: &Project,
    opts: &DeployOptions,
    report: Reporter<'_>,
) -> Result<(Summary, i32)> {
    let summary = build(project, &opts.build, report)?;
    let mut args = vec!["deploy".to_string()];
    args.extend(opts.wrangler_args.iter().cloned());
    let cmd = wrangler::command(project, &args)?;
    report(Event::Step {
        action: "Deploying",
        detail: cmd.display(),
    });
    let code = wrangler::run(&cmd, || {})?;
    Ok((summary, code))
}
