//! `elixir-workers completions SHELL`: a completion script on stdout.

use anyhow::Context as _;
use clap::CommandFactory as _;
use std::io::Write as _;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell to write completions for
    pub shell: clap_complete::Shell,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut cmd = crate::Cli::command();
    // clap_complete::generate panics when its writer fails (a closed pipe),
    // so the script is rendered in memory and written with error handling.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "elixir-workers", &mut script);
    std::io::stdout()
        .lock()
        .write_all(&script)
        .context("cannot write to stdout")?;
    Ok(ExitCode::SUCCESS)
}
