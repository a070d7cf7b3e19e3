//! `cargo xtask bench size`: what `elixir-workers build` ships for two apps
//! made as a user makes them, against issue #12's targets. The starter
//! (`elixir-workers new`) and a small app written the ordinary way
//! (`xtask/size/router.ex`: `conn.params["id"]`, `raise`, `Enum.map`,
//! `String.split/2`, one `defimpl`) are built with the real binary; for
//! each it prints `app.avm` and the boot image (bytes and gzip), the module
//! count, and the largest kept modules with the reason `build --explain`
//! gives for keeping them, which is where a size problem shows its cause.

use anyhow::{Context as _, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::startup::gzip_len;

const TARGET_STARTER: u64 = 70 * 1024;
const TARGET_SMALL: u64 = 100 * 1024;
const SMALL_ROUTER: &str = include_str!("../../size/router.ex");

#[derive(Debug, clap::Args)]
pub struct Args {
    /// An elixir-workers binary to use instead of building the release one
    #[arg(long)]
    bin: Option<PathBuf>,
    /// How many of each app's largest kept modules to list
    #[arg(long, default_value_t = 8)]
    top: usize,
}

pub fn run(args: Args) -> Result<()> {
    let runtime = test_support::runtime_dir().context(
        "no AtomVM runtime (elixir-workers runtime build, or set ELIXIR_WORKERS_RUNTIME)",
    )?;
    let bin = match args.bin {
        Some(bin) => bin,
        None => crate::parity::release_binary()?,
    };
    let work = crate::workspace_root().join("target/bench-size");
    if work.exists() {
        std::fs::remove_dir_all(&work)
            .with_context(|| format!("could not remove {}", work.display()))?;
    }
    std::fs::create_dir_all(&work)
        .with_context(|| format!("could not create {}", work.display()))?;
    let ew = |dir: &Path, args: &[&str]| -> Result<String> {
        let mut cmd = Command::new(&bin);
        cmd.args(args)
            .current_dir(dir)
            .env("ELIXIR_WORKERS_RUNTIME", &runtime)
            .env("NO_COLOR", "1")
            .env("ELIXIR_WORKERS_COMPILER_IDLE_SECS", "10");
        Ok(test_support::checked(&mut cmd)?.stdout)
    };

    println!("what `elixir-workers build` ships ({}):", bin.display());
    for (name, router, target) in [
        ("starter", None, TARGET_STARTER),
        ("size_app", Some(SMALL_ROUTER), TARGET_SMALL),
    ] {
        ew(&work, &["new", name, "--no-install"])?;
        let app = work.join(name);
        if let Some(source) = router {
            std::fs::write(app.join(format!("lib/{name}/router.ex")), source)?;
        }
        let stdout = ew(&app, &["build", "--no-install", "--explain", "--json"])?;
        let summary: serde_json::Value =
            serde_json::from_str(&stdout).context("build --json printed no JSON")?;
        report(name, &app.join("_build/worker"), &summary, target, args.top)?;
        // Without its build directory the compile server stops within seconds.
        std::fs::remove_dir_all(app.join("_build")).ok();
    }
    Ok(())
}

fn report(
    name: &str,
    worker: &Path,
    summary: &serde_json::Value,
    target: u64,
    top: usize,
) -> Result<()> {
    let read = |file: &str| {
        std::fs::read(worker.join(file))
            .with_context(|| format!("could not read {}", worker.join(file).display()))
    };
    let (avm, image) = (read("app.avm")?, read("boot.bin")?);
    let bytes = avm.len() as u64;
    println!();
    println!(
        "{name}: app.avm {bytes} B ({} B gzipped), {} modules; target <= {} B: {}",
        gzip_len(&avm)?,
        summary["modules"]["total"],
        target,
        if bytes <= target { "meets" } else { "MISSES" }
    );
    println!(
        "  boot.bin {} B ({} B gzipped)",
        image.len(),
        gzip_len(&image)?
    );
    let (wasm, opcodes) = (read("atomvm.wasm")?, &summary["opcodes"]);
    println!(
        "  atomvm.wasm {} B ({} B gzipped), its interpreter cut to {} of {} opcodes",
        wasm.len(),
        gzip_len(&wasm)?,
        opcodes["kept"],
        opcodes["handled"]
    );
    let why: std::collections::HashMap<&str, &str> = summary["explain"]
        .as_array()
        .context("build --explain --json printed no explain list")?
        .iter()
        .filter_map(|m| Some((m["module"].as_str()?, m["why"].as_str()?)))
        .collect();
    let archive = avm::Archive::parse(&avm).context("reading app.avm")?;
    let mut sections: Vec<(u32, String)> = archive
        .sections
        .iter()
        .filter(|s| s.is_beam())
        .map(|s| (s.size, s.name.trim_end_matches(".beam").to_string()))
        .collect();
    sections.sort_by(|a, b| b.cmp(a));
    println!("  largest modules:");
    for (size, module) in sections.iter().take(top) {
        let display = module.strip_prefix("Elixir.").unwrap_or(module);
        println!(
            "  {size:>9} B  {display:<28} {}",
            why.get(module.as_str()).unwrap_or(&"?")
        );
    }
    Ok(())
}
