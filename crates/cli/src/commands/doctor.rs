//! `elixir-workers doctor`: tools, versions and the runtime, with what to install.

use crate::ui::{GlobalArgs, Ui};
use anyhow::Context as _;
use std::io::Write as _;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub global: GlobalArgs,
}

pub fn run(args: Args, top: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let ui = Ui::new(&top.merge(&args.global));
    let cwd = std::env::current_dir().context("could not read the current directory")?;
    // Inside a project, wrangler is looked up in its node_modules.
    let dir = pipeline::Project::find(&cwd).map(|p| p.root).unwrap_or(cwd);
    let report = pipeline::doctor::doctor(&dir);
    if ui.json {
        ui.print_json(&report)?;
    } else {
        // writeln! rather than println!: a closed pipe (`doctor | head -1`)
        // becomes an error that main turns into exit 0, not a panic.
        let mut out = std::io::stdout().lock();
        for c in &report.checks {
            let mark = if c.ok {
                "ok     "
            } else if c.required_for_build {
                "MISSING"
            } else {
                "missing"
            };
            let detail = match (&c.version, &c.path) {
                (Some(v), Some(p)) => format!("{v} ({})", p.display()),
                (Some(v), None) => v.clone(),
                (None, Some(p)) => p.display().to_string(),
                (None, None) => String::new(),
            };
            writeln!(out, "{mark} {:<9} {detail}", c.name)?;
            if let Some(hint) = &c.hint {
                writeln!(out, "        {hint}")?;
            }
        }
        if report.can_build() {
            writeln!(
                out,
                "\nready to build{}",
                if report.all_ok() {
                    ", serve and deploy"
                } else {
                    "; see above for dev/deploy"
                }
            )?;
        } else {
            writeln!(out, "\nnot ready to build: install what is MISSING above")?;
        }
    }
    Ok(if report.can_build() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
