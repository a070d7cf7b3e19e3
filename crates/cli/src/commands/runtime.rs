//! `elixir-workers runtime build|pack|install|status`: the AtomVM runtime the
//! binary needs, built from source, packed for a release, installed from a
//! release archive, and reported.

use crate::ui::{GlobalArgs, Ui};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Build the runtime from AtomVM's source into the user cache
    Build(BuildArgs),
    /// Write the installed runtime as one archive (and its .sha256)
    Pack(PackArgs),
    /// Install a prebuilt runtime archive (a file or URL; default: this release's)
    Install(InstallArgs),
    /// Which runtime is used, from where, its id, and whether it matches
    Status(StatusArgs),
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// AtomVM's source at the pinned commit, as a directory or a .tar.gz;
    /// without it the pinned commit is downloaded from GitHub and verified
    #[arg(long, value_name = "DIR|ARCHIVE")]
    pub atomvm_src: Option<PathBuf>,
    /// Build from an AtomVM tree that is not the pinned commit's (the
    /// runtime is marked modified)
    #[arg(long)]
    pub allow_modified_source: bool,
    /// Parallel compile jobs (default: available cores)
    #[arg(long, short)]
    pub jobs: Option<usize>,
    /// Leave atomvm.wasm unoptimized even when wasm-opt is installed
    #[arg(long)]
    pub no_wasm_opt: bool,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, clap::Args)]
pub struct PackArgs {
    /// The archive to write (default: elixir-workers-runtime-<id>.tar.gz)
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub global: GlobalArgs,
}

#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    /// A runtime archive: a file, or an http(s) URL
    #[arg(value_name = "FILE|URL")]
    pub source: Option<String>,
    #[command(flatten)]
    pub global: GlobalArgs,
}

pub fn run(args: Args, top: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let global = match &args.command {
        Command::Build(a) => &a.global,
        Command::Pack(a) => &a.global,
        Command::Install(a) => &a.global,
        Command::Status(a) => &a.global,
    };
    let ui = Ui::new(&top.merge(global));
    match args.command {
        Command::Build(b) => {
            let opts = ew_runtime::BuildOptions {
                atomvm_src: b.atomvm_src,
                allow_modified_source: b.allow_modified_source,
                jobs: b.jobs,
                no_wasm_opt: b.no_wasm_opt,
                ..Default::default()
            };
            let rt = pipeline::runtime::build(&opts, &mut |e| ui.event(e));
            ui.finish();
            report_runtime(&ui, &rt?)
        }
        Command::Pack(p) => {
            let rt = ew_runtime::Runtime::locate()?;
            let id = rt.id().unwrap_or("unknown").to_string();
            let out = p
                .output
                .unwrap_or_else(|| PathBuf::from(ew_runtime::bundle::archive_name(&id)));
            let packed = ew_runtime::bundle::pack(&rt, &out)?;
            if ui.json {
                ui.print_json(&packed)?;
            } else {
                ui.status(
                    "Packed",
                    &format!(
                        "runtime {} into {} ({} bytes, sha256 {})",
                        packed.id,
                        packed.path.display(),
                        packed.size,
                        packed.sha256
                    ),
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Install(i) => {
            let rt = ew_runtime::bundle::install(i.source.as_deref(), &|p| ui.progress(p));
            ui.finish();
            report_runtime(&ui, &rt?)
        }
        Command::Status(_) => {
            let status = ew_runtime::locate::status();
            if ui.json {
                ui.print_json(&status)?;
            } else {
                let mut out = std::io::stdout().lock();
                writeln!(out, "binary needs:  {}", status.id)?;
                match &status.dir {
                    Some(dir) => {
                        writeln!(
                            out,
                            "in use:        {} ({})",
                            dir.display(),
                            match status.origin {
                                Some(ew_runtime::Origin::Env) => "ELIXIR_WORKERS_RUNTIME",
                                _ => "user cache",
                            }
                        )?;
                        writeln!(
                            out,
                            "its id:        {}{}",
                            status.found_id.as_deref().unwrap_or("(none recorded)"),
                            if status.matches {
                                " (matches)"
                            } else {
                                " (does NOT match)"
                            }
                        )?;
                    }
                    None => writeln!(
                        out,
                        "in use:        none (expected at {})",
                        status.default_dir.display()
                    )?,
                }
                if let Some(problem) = &status.problem {
                    writeln!(out, "\n{problem}")?;
                }
            }
            Ok(if status.matches {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

fn report_runtime(ui: &Ui, rt: &ew_runtime::Runtime) -> anyhow::Result<ExitCode> {
    if ui.json {
        ui.print_json(&ew_runtime::locate::status())?;
    } else {
        ui.status(
            "Ready",
            &format!("runtime {} in {}", rt.id().unwrap_or("?"), rt.dir.display()),
        );
    }
    Ok(ExitCode::SUCCESS)
}
