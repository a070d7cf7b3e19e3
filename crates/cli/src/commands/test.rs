//! `elixir-workers test [FILES...] [EXUNIT OPTIONS...]`

use crate::ui::{GlobalArgs, Ui};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub global: GlobalArgs,
    /// Test files or directories (a file may end in :LINE), then ExUnit
    /// options as `mix test` takes them: --only TAG, --exclude TAG,
    /// --include TAG, --seed N, --trace, --max-failures N, --timeout MS
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "ARGS"
    )]
    pub args: Vec<String>,
}

pub fn run(args: Args, top: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let ui = Ui::new(&top.merge(&args.global));
    let project = super::build::current_project()?;
    let result = pipeline::exunit::run(&project, &args.args, &mut |e| ui.event(e));
    ui.finish();
    Ok(crate::exit_code(result?))
}
