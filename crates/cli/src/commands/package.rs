//! `elixir-workers package -o FILE.tar.gz`

use crate::ui::{group, GlobalArgs, Ui};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The archive to write (.tar.gz): _build/worker/, wrangler.jsonc and a manifest
    #[arg(short = 'o', long = "output", value_name = "FILE.tar.gz")]
    pub output: PathBuf,
    #[command(flatten)]
    pub build: super::build::BuildFirst,
    #[command(flatten)]
    pub global: GlobalArgs,
}

pub fn run(args: Args, top: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let ui = Ui::new(&top.merge(&args.global));
    let project = super::build::current_project()?;
    // Relative to where the user stands, not to the project root.
    let output = std::path::absolute(&args.output)?;
    let opts = pipeline::package::PackageOptions {
        build: args.build.options(),
        output: output.clone(),
    };
    let (_summary, manifest) = pipeline::package::package(&project, &opts, &mut |e| ui.event(e))?;
    ui.finish();
    if ui.json {
        ui.print_json(&manifest)?;
    } else {
        let size = std::fs::metadata(&output).map(|m| m.len()).unwrap_or(0);
        ui.status(
            "Packaged",
            &format!(
                "{} ({} files, {} B)",
                args.output.display(),
                manifest.files.len() + 1,
                group(size)
            ),
        );
        ui.finish();
    }
    Ok(ExitCode::SUCCESS)
}
