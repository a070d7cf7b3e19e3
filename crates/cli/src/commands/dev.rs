//! `elixir-workers dev [--port N] [--ip ADDR] [--no-watch] [-- WRANGLER ARGS]`

use crate::ui::{GlobalArgs, Ui};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Port to serve on [default: dev.port of wrangler.jsonc, else 8797]
    #[arg(long)]
    pub port: Option<u16>,
    /// Address to bind
    #[arg(long, default_value = "127.0.0.1")]
    pub ip: String,
    /// Rebuild when lib/ changes (the default)
    #[arg(long, overrides_with = "no_watch")]
    pub watch: bool,
    /// Build once and serve, without watching lib/
    #[arg(long)]
    pub no_watch: bool,
    /// Milliseconds of quiet after a change before rebuilding
    #[arg(long, default_value_t = 200, value_name = "MS")]
    pub debounce: u64,
    #[command(flatten)]
    pub build: super::build::BuildFirst,
    /// Extra arguments for `wrangler dev` (after `--`)
    #[arg(last = true, value_name = "WRANGLER_ARGS")]
    pub wrangler_args: Vec<String>,
    #[command(flatten)]
    pub global: GlobalArgs,
}

pub fn run(args: Args, top: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let ui = Ui::new(&top.merge(&args.global));
    let project = super::build::current_project()?;
    let opts = pipeline::dev::DevOptions {
        build: args.build.options(),
        port: args.port,
        ip: args.ip,
        watch: !args.no_watch,
        debounce: Duration::from_millis(args.debounce),
        wrangler_args: args.wrangler_args,
    };
    let code = pipeline::dev::dev(&project, &opts, &mut |e| ui.event_until(e, "Serving"))?;
    ui.finish();
    Ok(crate::exit_code(code))
}
