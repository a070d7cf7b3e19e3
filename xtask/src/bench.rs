//! `cargo xtask bench WHAT`: each benchmark in its own module under `bench/`.

mod build;
mod pack;
mod runtime;
mod selur;
mod size;
mod soak;
mod startup;
mod workerd;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, clap::Subcommand)]
enum What {
    /// `elixir-workers pack` vs the reference pack_avm.py on Elixir's ebin
    Pack(pack::Args),
    /// `elixir-workers build` on a fresh app: no-change, touched, clean
    Build(build::Args),
    /// Per-route request cost of the worker shim on the real atomvm.wasm;
    /// the first request under workerd next to a trivial JS worker; bundle size
    Runtime(runtime::Args),
    /// What `build` ships for the starter and a small ordinary app:
    /// app.avm and boot image sizes, the largest modules and why they are kept
    Size(size::Args),
    /// selur round trips from Rust and Elixir vs a JSON/HTTP baseline
    Selur(selur::Args),
    /// Load without loss: many clients against `wrangler dev` for a while,
    /// every response and KV write checked, workerd's memory sampled
    Soak(soak::Args),
    /// The I/O floor `bench pack` times (run by it, as a child)
    #[command(hide = true)]
    IoFloor(pack::FloorArgs),
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.what {
        What::Pack(a) => pack::run(a),
        What::Build(a) => build::run(a),
        What::Runtime(a) => runtime::run(a),
        What::Selur(a) => selur::run(a),
        What::Size(a) => size::run(a),
        What::Soak(a) => soak::run(a),
        What::IoFloor(a) => pack::io_floor(a),
    }
}
