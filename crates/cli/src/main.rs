//! The `elixir-workers` binary: arguments, rendering and exit codes.
//!
//! Each subcommand parses its arguments into an options value and calls a
//! library function; no format or pipeline logic lives here.

mod commands;

use clap::{Parser, Subcommand};

/// Write Elixir, run it on Cloudflare Workers.
#[derive(Debug, Parser)]
#[command(name = "elixir-workers", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Pack .beam files into an AtomVM .avm archive
    Pack(commands::pack::Args),
    /// Show the sections of an .avm archive
    Inspect(commands::inspect::Args),
    /// Write each section of an .avm archive back out as a file
    Extract(commands::extract::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Pack(args) => commands::pack::run(args),
        Command::Inspect(args) => commands::inspect::run(args),
        Command::Extract(args) => commands::extract::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
