//! `elixir-workers completions SHELL`: a completion script on stdout.

use clap::CommandFactory as _;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell to write completions for
    pub shell: clap_complete::Shell,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut cmd = crate::Cli::command();
    clap_complete::generate(
        args.shell,
        &mut cmd,
        "elixir-workers",
        &mut std::io::stdout(),
    );
    Ok(ExitCode::SUCCESS)
}
