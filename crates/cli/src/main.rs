//! The `elixir-workers` binary: arguments, rendering and exit codes.
//!
//! Each subcommand parses its arguments into an options value and calls a
//! library function; no format or pipeline logic lives here.

mod commands;
mod ui;

use clap::{Parser, Subcommand};

/// Write Elixir, run it on Cloudflare Workers.
#[derive(Debug, Parser)]
#[command(name = "elixir-workers", version, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    global: ui::GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a new project: lib/, test/, wrangler.jsonc, package.json
    New(commands::new::Args),
    /// Compile, tree-shake and pack the project into _build/worker/
    Build(commands::build::Args),
    /// Build, serve with `wrangler dev` and rebuild on change
    Dev(commands::dev::Args),
    /// Build, then `wrangler deploy` (extra arguments are passed through)
    Deploy(commands::deploy::Args),
    /// Build, then write _build/worker/, wrangler.jsonc and a manifest as .tar.gz
    Package(commands::package::Args),
    /// Compile the app and run its ExUnit tests (test/**/*_test.exs) on your Elixir
    Test(commands::test::Args),
    /// Check for elixirc, erlc, node, npx, wrangler, clang and the AtomVM runtime
    Doctor(commands::doctor::Args),
    /// The AtomVM runtime: build, pack, install, status
    Runtime(commands::runtime::Args),
    /// Print a shell completion script
    Completions(commands::completions::Args),
    /// Pack .beam files into an AtomVM .avm archive
    Pack(commands::pack::Args),
    /// Show the sections of an .avm archive
    Inspect(commands::inspect::Args),
    /// Write each section of an .avm archive back out as a file
    Extract(commands::extract::Args),
}

fn main() -> std::process::ExitCode {
    let cli = parse();
    let result = match cli.command {
        Command::New(args) => commands::new::run(args, &cli.global),
        Command::Build(args) => commands::build::run(args, &cli.global),
        Command::Dev(args) => commands::dev::run(args, &cli.global),
        Command::Deploy(args) => commands::deploy::run(args, &cli.global),
        Command::Package(args) => commands::package::run(args, &cli.global),
        Command::Test(args) => commands::test::run(args, &cli.global),
        Command::Doctor(args) => commands::doctor::run(args, &cli.global),
        Command::Runtime(args) => commands::runtime::run(args, &cli.global),
        Command::Completions(args) => commands::completions::run(args),
        Command::Pack(args) => commands::pack::run(args),
        Command::Inspect(args) => commands::inspect::run(args),
        Command::Extract(args) => commands::extract::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => error_exit(&err),
    }
}

/// The command line, parsed. `pack` is parsed by a parser that has only
/// the `pack` subcommand: building all twelve took 0.2 ms of its run.
fn parse() -> Cli {
    if std::env::args_os().nth(1).as_deref() == Some(std::ffi::OsStr::new("pack")) {
        let PackOnly { global, command } = PackOnly::parse();
        let PackCommand::Pack(args) = command;
        return Cli {
            global,
            command: Command::Pack(args),
        };
    }
    Cli::parse()
}

/// [`Cli`] with `pack` only.
#[derive(Debug, Parser)]
#[command(name = "elixir-workers", version, propagate_version = true)]
struct PackOnly {
    #[command(flatten)]
    global: ui::GlobalArgs,
    #[command(subcommand)]
    command: PackCommand,
}

#[derive(Debug, Subcommand)]
enum PackCommand {
    /// Pack .beam files into an AtomVM .avm archive
    Pack(commands::pack::Args),
}

/// The exit code for an error: a failing tool's own code passes through;
/// a closed stdout (`elixir-workers build --json | head`) is not a failure.
fn error_exit(err: &anyhow::Error) -> std::process::ExitCode {
    let broken_pipe = err
        .chain()
        .filter_map(|e| e.downcast_ref::<std::io::Error>())
        .any(|e| e.kind() == std::io::ErrorKind::BrokenPipe);
    if broken_pipe {
        return std::process::ExitCode::SUCCESS;
    }
    eprintln!("error: {err:#}");
    match err
        .chain()
        .find_map(|e| e.downcast_ref::<pipeline::ToolFailed>())
    {
        Some(failed) => exit_code(failed.exit),
        None => std::process::ExitCode::FAILURE,
    }
}

/// A child's exit code as ours (0..=255; anything else becomes 1).
fn exit_code(code: i32) -> std::process::ExitCode {
    u8::try_from(code)
        .map(std::process::ExitCode::from)
        .unwrap_or(std::process::ExitCode::FAILURE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// `pack`'s own parser says and accepts what the whole one does.
    #[test]
    fn the_pack_parser_is_the_whole_one_for_pack() {
        let help = |mut c: clap::Command| {
            c.build();
            let pack = c.find_subcommand_mut("pack").expect("pack");
            (
                pack.render_long_help().to_string(),
                pack.render_usage().to_string(),
            )
        };
        assert_eq!(help(PackOnly::command()), help(Cli::command()));
        for args in [
            &["pack", "-q", "-o", "o.avm", "--start", "s.beam", "ebin"][..],
            &[
                "pack",
                "--output=o.avm",
                "--start",
                "s.beam",
                "a",
                "b",
                "--inflate-cap",
                "9",
            ],
            &["pack", "-o", "o.avm", "ebin"],
            &["pack", "--inflate-cap", "x", "-o", "o", "--start", "s", "i"],
            &["pack", "--bogus"],
            &["pack", "--help"],
            &["pack", "--version"],
        ] {
            let argv = std::iter::once("elixir-workers").chain(args.iter().copied());
            let whole = Cli::try_parse_from(argv.clone()).map(|c| match c.command {
                Command::Pack(a) => format!("{:?} {a:?}", c.global),
                other => panic!("parsed as {other:?}"),
            });
            let own = PackOnly::try_parse_from(argv).map(|c| {
                let PackCommand::Pack(a) = c.command;
                format!("{:?} {a:?}", c.global)
            });
            let shown = |r: Result<String, clap::Error>| r.map_err(|e| e.render().to_string());
            assert_eq!(shown(own), shown(whole), "{args:?}");
        }
    }
}
