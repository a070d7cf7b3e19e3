//! `elixir-workers deploy [WRANGLER ARGS...]`, e.g. `deploy --dry-run --outdir dist`

use crate::ui::{GlobalArgs, Ui};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub build: super::build::BuildFirst,
    #[command(flatten)]
    pub global: GlobalArgs,
    /// Arguments passed through to `wrangler deploy` (e.g. --dry-run --outdir dist)
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "WRANGLER_ARGS"
    )]
    pub wrangler_args: Vec<String>,
}

pub fn run(args: Args, top: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let ui = Ui::new(&top.merge(&args.global));
    let project = super::build::current_project()?;
    let opts = pipeline::deploy::DeployOptions {
        build: args.build.options(),
        wrangler_args: args.wrangler_args,
    };
    let (summary, code) =
        pipeline::deploy::deploy(&project, &opts, &mut |e| ui.event_until(e, "Deploying"))?;
    ui.finish();
    if ui.json {
        ui.print_json(&serde_json::json!({ "build": summary, "wrangler_exit_code": code }))?;
    }
    Ok(crate::exit_code(code))
}
