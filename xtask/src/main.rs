//! Maintainer tasks (`cargo xtask ...`). Each task lives in its own module.

mod bench;
mod conformance;
mod fuzz_nif;
mod guest;
mod parity;
mod runtime;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "xtask")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Build the AtomVM runtime into the user cache (same as `elixir-workers runtime build`)
    Runtime(runtime::Args),
    /// Rebuild (or with --check, verify) the committed selur guest wasm
    Guest(guest::Args),
    /// Re-run the reference packer on the fixtures and Elixir's ebin and compare
    Parity(parity::Args),
    /// Benchmarks: pack, build, runtime, soak, selur
    Bench(bench::Args),
    /// Elixir's own stdlib doctests, run on the BEAM and on the runtime
    Conformance(conformance::Args),
    /// Fuzz the JSON/HTML NIFs natively (libFuzzer + ASan + UBSan), or replay the regressions
    FuzzNif(fuzz_nif::Args),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().task {
        Task::Runtime(args) => runtime::run(args),
        Task::Guest(args) => guest::run(args),
        Task::Parity(args) => parity::run(args),
        Task::Bench(args) => bench::run(args),
        Task::Conformance(args) => conformance::run(args),
        Task::FuzzNif(args) => fuzz_nif::run(args),
    }
}

/// The workspace root (the parent of `xtask/`).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}
