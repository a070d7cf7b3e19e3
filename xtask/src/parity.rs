//! `cargo xtask parity --reference PATH/pack_avm.py [--bless]`: byte-for-byte
//! comparison of `elixir-workers pack` with the reference packer, on every
//! fixture set and on Elixir's own stdlib ebin (Debian's `elixir` package).
//!
//! With `--bless` the reference output becomes the committed golden
//! (`fixtures/packs/*/expected.avm`) and its readable dump is rewritten
//! (`expected.txt`, from `elixir-workers inspect`).

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Elixir's stdlib as Debian installs it.
pub const DEFAULT_EBIN: &str = "/usr/lib/elixir/lib/elixir/ebin";
/// The one module of that ebin exporting start/0, used as the startup module.
pub const EBIN_START: &str = "Elixir.GenEvent.beam";

/// The reference packer and the module directory it is run on: shared by
/// `parity` and `bench pack`, which compare on the same input.
#[derive(Debug, clap::Args)]
pub struct ReferenceArgs {
    /// The reference packer (scripts/pack_avm.py of the original project)
    #[arg(long, value_name = "PATH")]
    pub reference: PathBuf,

    /// Directory of .beam files to compare on (parity: besides the fixtures)
    #[arg(long, value_name = "DIR", default_value = DEFAULT_EBIN)]
    pub ebin: PathBuf,

    /// Its startup module (must export start/0)
    #[arg(long, value_name = "FILE", default_value = EBIN_START)]
    pub ebin_start: String,
}

impl ReferenceArgs {
    /// Fails early, with the path, when the reference script is missing.
    pub fn check(&self) -> Result<()> {
        if !self.reference.is_file() {
            bail!("reference packer {} not found", self.reference.display());
        }
        Ok(())
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    input: ReferenceArgs,

    /// Write the reference output over the committed goldens and dumps
    #[arg(long)]
    bless: bool,
}

/// Builds `elixir-workers` in release mode and returns its path.
pub fn release_binary() -> Result<PathBuf> {
    let root = crate::workspace_root();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(&cargo)
        .args(["build", "--release", "--quiet", "-p", "elixir-workers"])
        .current_dir(&root)
        .status()
        .context("running cargo build --release -p elixir-workers")?;
    if !status.success() {
        bail!("cargo build --release -p elixir-workers failed ({status})");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let bin = target.join("release/elixir-workers");
    if !bin.is_file() {
        bail!("{} was not built", bin.display());
    }
    Ok(bin)
}

/// Runs a command from the workspace root; fails with its stderr.
pub fn run_tool(cmd: &mut Command) -> Result<String> {
    Ok(test_support::checked(cmd.current_dir(crate::workspace_root()))?.stdout)
}

/// Packs `ebin` with the reference into `out`.
pub fn reference_pack(reference: &Path, out: &Path, start: &str, ebin: &Path) -> Result<()> {
    run_tool(
        Command::new("python3")
            .arg(reference)
            .arg(out)
            .arg(start)
            .arg(ebin),
    )?;
    Ok(())
}

fn ours_pack(bin: &Path, out: &Path, start: &str, ebin: &Path) -> Result<()> {
    run_tool(
        Command::new(bin)
            .args(["pack", "-q", "-o"])
            .arg(out)
            .arg("--start")
            .arg(ebin.join(start))
            .arg(ebin),
    )?;
    Ok(())
}

fn first_difference(a: &[u8], b: &[u8]) -> usize {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()))
}

fn compare(what: &str, ours: &Path, reference: &Path, failures: &mut Vec<String>) -> Result<()> {
    let a = std::fs::read(ours).with_context(|| format!("reading {}", ours.display()))?;
    let b = std::fs::read(reference).with_context(|| format!("reading {}", reference.display()))?;
    if a == b {
        println!("  same   {what} ({} bytes)", a.len());
    } else {
        let msg = format!(
            "{what}: ours {} bytes, reference {} bytes, first difference at byte {}",
            a.len(),
            b.len(),
            first_difference(&a, &b)
        );
        println!("  DIFF   {msg}");
        failures.push(msg);
    }
    Ok(())
}

pub fn run(args: Args) -> Result<()> {
    args.input.check()?;
    let bin = release_binary()?;
    let root = crate::workspace_root();
    let tmp = tempfile::tempdir().context("creating a temp dir")?;
    let mut failures = Vec::new();

    let mut sets: Vec<PathBuf> = std::fs::read_dir(root.join("fixtures/packs"))
        .context("listing fixtures/packs")?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    sets.retain(|p| p.join("ebin").is_dir());
    sets.sort();
    println!("fixture sets ({}):", sets.len());
    for set in &sets {
        let name = set.file_name().unwrap().to_string_lossy().into_owned();
        let start = std::fs::read_to_string(set.join("start"))
            .with_context(|| format!("reading {}/start", set.display()))?;
        let start = start.trim();
        let ebin = set.join("ebin");
        let reference = tmp.path().join(format!("{name}.ref.avm"));
        let ours = tmp.path().join(format!("{name}.ours.avm"));
        reference_pack(&args.input.reference, &reference, start, &ebin)?;
        ours_pack(&bin, &ours, start, &ebin)?;
        let golden = set.join("expected.avm");
        if args.bless {
            std::fs::copy(&reference, &golden)
                .with_context(|| format!("writing {}", golden.display()))?;
            let dump = run_tool(Command::new(&bin).arg("inspect").arg(&golden))?;
            std::fs::write(set.join("expected.txt"), dump)
                .with_context(|| format!("writing {}/expected.txt", set.display()))?;
            println!("  blessed {}", golden.display());
        } else {
            compare(
                &format!("{name}: reference vs golden"),
                &reference,
                &golden,
                &mut failures,
            )?;
        }
        compare(
            &format!("{name}: elixir-workers vs reference"),
            &ours,
            &reference,
            &mut failures,
        )?;
    }

    let n_beams = std::fs::read_dir(&args.input.ebin)
        .with_context(|| format!("listing {}", args.input.ebin.display()))?
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "beam"))
        })
        .count();
    println!(
        "{} ({n_beams} modules, start {}):",
        args.input.ebin.display(),
        args.input.ebin_start
    );
    let reference = tmp.path().join("ebin.ref.avm");
    let ours = tmp.path().join("ebin.ours.avm");
    reference_pack(
        &args.input.reference,
        &reference,
        &args.input.ebin_start,
        &args.input.ebin,
    )?;
    ours_pack(&bin, &ours, &args.input.ebin_start, &args.input.ebin)?;
    compare(
        "ebin: elixir-workers vs reference",
        &ours,
        &reference,
        &mut failures,
    )?;

    if !failures.is_empty() {
        bail!(
            "{} parity failure(s):\n  {}",
            failures.len(),
            failures.join("\n  ")
        );
    }
    println!("parity: every archive is byte-identical to the reference");
    Ok(())
}
