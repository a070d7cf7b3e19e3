//! `elixir-workers build [--explain] [--no-install]`

use crate::ui::{GlobalArgs, Ui};
use anyhow::Context as _;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print, for every kept module, one module that keeps it, and every dropped module
    #[arg(long)]
    pub explain: bool,
    /// Do not run `npm install` when node_modules/ is missing
    #[arg(long)]
    pub no_install: bool,
    /// Report calls that nothing on the runtime answers as warnings, not errors
    #[arg(long)]
    pub allow_unresolved: bool,
    #[command(flatten)]
    pub global: GlobalArgs,
}

impl Args {
    pub fn options(&self) -> pipeline::BuildOptions {
        pipeline::BuildOptions {
            explain: self.explain,
            no_install: self.no_install,
            allow_unresolved: self.allow_unresolved,
        }
    }
}

// The flag of the commands that build the project before they serve,
// deploy or package it (a plain comment: clap would take a doc comment for
// their about text).
#[derive(Debug, clap::Args)]
pub struct BuildFirst {
    /// Do not run `npm install` when node_modules/ is missing
    #[arg(long)]
    pub no_install: bool,
}

impl BuildFirst {
    /// The build those commands run: no `--explain`, and a call that
    /// nothing answers is an error.
    pub fn options(&self) -> pipeline::BuildOptions {
        pipeline::BuildOptions {
            explain: false,
            no_install: self.no_install,
            ..Default::default()
        }
    }
}

/// The project around the current directory.
pub fn current_project() -> anyhow::Result<pipeline::Project> {
    let cwd = std::env::current_dir().context("could not read the current directory")?;
    pipeline::Project::find(&cwd)
}

pub fn run(args: Args, top: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let ui = Ui::new(&top.merge(&args.global));
    let project = current_project()?;
    let result = pipeline::build(&project, &args.options(), &mut |e| ui.event(e));
    ui.finish();
    let summary = result?;
    if ui.json {
        ui.print_json(&summary)?;
    } else {
        ui.summary(&summary);
    }
    Ok(ExitCode::SUCCESS)
}
