//! `elixir-workers new NAME [--path DIR] [--module Mod] [--no-install]`

use crate::ui::{GlobalArgs, Ui};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The application name: lowercase letters, digits and underscores, starting with a letter
    pub name: String,
    /// Directory to create [default: ./NAME]
    #[arg(long, value_name = "DIR")]
    pub path: Option<PathBuf>,
    /// The application module [default: NAME camelized, e.g. MyApp]
    #[arg(long, value_name = "MODULE")]
    pub module: Option<String>,
    /// Do not run `npm install` in the new project
    #[arg(long)]
    pub no_install: bool,
    #[command(flatten)]
    pub global: GlobalArgs,
}

pub fn run(args: Args, top: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let ui = Ui::new(&top.merge(&args.global));
    let path = args
        .path
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.name));
    let generated = scaffold::generate(&scaffold::NewOptions {
        name: args.name.clone(),
        path: path.clone(),
        module: args.module.clone(),
    })?;
    ui.status(
        "Created",
        &format!(
            "{} ({}) in {}",
            generated.name,
            generated.module,
            path.display()
        ),
    );
    if ui.verbose > 0 {
        for f in &generated.files {
            ui.note(&format!("             {f}"));
        }
    }
    let installed = if args.no_install {
        false
    } else {
        ui.status("Installing", "npm dependencies (wrangler)");
        pipeline::npm_install(&generated.dir)?;
        true
    };
    ui.finish();
    if ui.json {
        ui.print_json(&serde_json::json!({
            "name": generated.name,
            "module": generated.module,
            "dir": generated.dir,
            "files": generated.files,
            "npm_installed": installed,
        }))?;
    } else if !ui.quiet {
        eprintln!();
        eprintln!("Next steps:");
        eprintln!("  cd {}", path.display());
        eprintln!(
            "  elixir-workers dev        # serve on http://127.0.0.1:{}, rebuild on change",
            scaffold::DEV_PORT
        );
        eprintln!("  elixir-workers deploy     # publish with wrangler");
    }
    Ok(ExitCode::SUCCESS)
}
