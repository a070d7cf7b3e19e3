//! `cargo xtask runtime`: the maintainer's spelling of `elixir-workers
//! runtime build`. The build itself is the `elixir-workers-runtime` crate's
//! (`ew_runtime::build`), the same code the CLI runs; this only parses the
//! same flags and prints progress as plain lines.

use anyhow::Result;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// AtomVM's source at the pinned commit: a directory or a .tar.gz;
    /// without it the pinned commit is downloaded from GitHub and verified
    #[arg(long, value_name = "DIR|ARCHIVE")]
    atomvm_src: Option<PathBuf>,
    /// Build from a source tree that is not the pinned commit's
    #[arg(long)]
    allow_modified_source: bool,
    /// Where to put the runtime (default: the user cache, under its id)
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Parallel compile jobs (default: available cores)
    #[arg(long, short)]
    jobs: Option<usize>,
    /// Skip wasm-opt even when it is installed
    #[arg(long)]
    no_wasm_opt: bool,
}

pub fn run(args: Args) -> Result<()> {
    let opts = ew_runtime::BuildOptions {
        atomvm_src: args.atomvm_src,
        allow_modified_source: args.allow_modified_source,
        out: args.out,
        jobs: args.jobs,
        no_wasm_opt: args.no_wasm_opt,
        build_dir: None,
    };
    let runtime = ew_runtime::build(&opts, &|p| {
        if let ew_runtime::Progress::Step { action, detail } = p {
            eprintln!("{action:>12} {detail}");
        } else if let ew_runtime::Progress::Note(note) = p {
            eprintln!("        note {note}");
        }
    })?;
    println!("{}", runtime.dir.display());
    Ok(())
}
