//! `cargo xtask conformance [--modules String,Enum] [--bin PATH]`: Elixir's
//! own doctests as a conformance suite for the runtime.
//!
//! 1. `xtask/conformance/extract.exs` (run with `elixir`) reads the doctests of
//!    each stdlib module from the installed Elixir's docs chunks, runs every
//!    assertion compiled as a function body on the BEAM and writes the ones
//!    that pass as a generated `Conf.Tests` module. Compiled, not evaluated:
//!    both VMs then run the same code (AtomVM has no `eval`), and what does
//!    not compile as a function body is known before any build. The compiler
//!    folds some bodies into constants (`1 + 2`, `band(9, 3)`); those are
//!    counted apart ("folded"), since they run no stdlib code on the runtime.
//! 2. Per stdlib module, one project from `elixir-workers new` gets that
//!    module, the checker (`check.ex`, `show.ex`) and a router with one route,
//!    `GET /run/:n`, and is built exactly as a user's app is (`elixir-workers
//!    build`: compile, protocol consolidation, function-level shake, pack),
//!    with `--allow-unresolved` since this measures rather than refuses.
//! 3. `xtask/conformance/run.mjs` (run with `node`) sends one request per test
//!    through the worker's own `handleRequest` on the real `atomvm.wasm`, so a
//!    crash or a logged unresolved call belongs to exactly one test.
//! 4. The report: a table per module, the runtime failures grouped by cause,
//!    why tests were skipped; everything in `target/conformance/results.json`.
//!
//! Everything it writes lives under `target/conformance/`; the projects are
//! kept between runs, so a rerun only recompiles what changed.

mod project;
mod report;
mod runner;

use project::Build;
use runner::Answer;

use anyhow::{bail, Context as _, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The stdlib modules whose doctests make up the suite (Kernel: functions
/// only, its macros are compiler territory).
const MODULES: &[&str] = &[
    "String",
    "Enum",
    "Map",
    "Keyword",
    "List",
    "Integer",
    "Float",
    "Range",
    "MapSet",
    "Tuple",
    "Access",
    "Atom",
    "Base",
    "Bitwise",
    "URI",
    "Stream",
    "Kernel",
    "Exception",
];

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Stdlib modules to test, comma separated [default: all 18 of the suite]
    #[arg(long, value_delimiter = ',', value_name = "MODULES")]
    modules: Vec<String>,

    /// Use this elixir-workers binary instead of building target/debug's
    #[arg(long, value_name = "PATH")]
    bin: Option<PathBuf>,

    /// Seconds one doctest may run on the runtime before it counts as hung
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    timeout: u64,
}

/// Where a doctest got to before the runtime run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Passes on the BEAM; it runs on the runtime.
    Kept,
    /// Not extractable, needs what a worker never has, or does not compile.
    Skipped,
    /// Fails on the BEAM: a limit of the extraction, not of the runtime.
    BeamFail,
}

/// One assertion of a doctest, as `extract.exs` writes it, plus its runtime
/// outcome once run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Unit {
    pub id: u32,
    /// The documented function (`String.split/3`) or `String (moduledoc)`.
    pub doc: String,
    /// The test's earlier expressions, run first for their bindings.
    pub prefix: Vec<String>,
    pub expr: String,
    pub expected: String,
    pub status: Status,
    /// The compiler folded the body into a constant: it runs no stdlib code.
    #[serde(default)]
    pub constant: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<report::Outcome>,
}

#[derive(Debug, Deserialize)]
struct Extracted {
    modules: Vec<ExtractedModule>,
}

#[derive(Debug, Deserialize)]
struct ExtractedModule {
    module: String,
    units: Vec<Unit>,
}

/// One stdlib module's doctests and how they fared.
#[derive(Debug, Serialize)]
pub struct ModuleResult {
    pub module: String,
    pub build: Option<Build>,
    pub units: Vec<Unit>,
}

pub fn run(args: Args) -> Result<()> {
    let started = Instant::now();
    let root = crate::workspace_root();
    let modules = selected_modules(&args.modules)?;
    let bin = match args.bin {
        // Absolute: the tools run in the projects' directories.
        Some(bin) => std::fs::canonicalize(&bin)
            .with_context(|| format!("elixir-workers binary {}", bin.display()))?,
        None => debug_binary(&root)?,
    };
    let out = root.join("target/conformance");
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;

    eprintln!("extracting doctests and running them on the BEAM...");
    let extracted = extract(&root, &out, &modules)?;

    let mut results = Vec::new();
    for m in extracted.modules {
        let kept: Vec<u32> = m
            .units
            .iter()
            .filter(|u| u.status == Status::Kept)
            .map(|u| u.id)
            .collect();
        let mut result = ModuleResult {
            module: m.module,
            build: None,
            units: m.units,
        };
        if kept.is_empty() {
            results.push(result);
            continue;
        }
        eprintln!("{}: building {} doctests...", result.module, kept.len());
        let project = out.join("projects").join(&result.module);
        let build = project::build(&bin, &root, &out, &result.module, &project)?;
        let answers = if build.ok {
            eprintln!("{}: running on the runtime...", result.module);
            runner::run(&root, &project, &kept, Duration::from_secs(args.timeout))?
        } else {
            Vec::new()
        };
        report::attach(&mut result.units, &build, answers);
        result.build = Some(build);
        results.push(result);
    }

    let json = out.join("results.json");
    let text = serde_json::to_string_pretty(&serde_json::json!({ "modules": results }))?;
    std::fs::write(&json, text).with_context(|| format!("writing {}", json.display()))?;
    print!("{}", report::render(&results));
    println!(
        "\nfull results: {} ({:.0} s)",
        json.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn selected_modules(given: &[String]) -> Result<Vec<String>> {
    if given.is_empty() {
        return Ok(MODULES.iter().map(|m| m.to_string()).collect());
    }
    for m in given {
        // The names end up in paths and in Elixir source.
        let valid = m.chars().next().is_some_and(|c| c.is_ascii_uppercase())
            && m.chars().all(|c| c.is_ascii_alphanumeric() || c == '.');
        if !valid {
            bail!("{m:?} is not an Elixir module name");
        }
    }
    Ok(given.to_vec())
}

/// Builds `elixir-workers` (debug, as the end-to-end tests use it); the
/// soak bench's binary too.
pub(crate) fn debug_binary(root: &Path) -> Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(&cargo)
        .args(["build", "--quiet", "-p", "elixir-workers"])
        .current_dir(root)
        .status()
        .context("running cargo build -p elixir-workers")?;
    if !status.success() {
        bail!("cargo build -p elixir-workers failed ({status})");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    Ok(target.join("debug/elixir-workers"))
}

/// Runs `extract.exs`, which writes `extract.json` and `src/<Module>/conf_tests.ex`.
fn extract(root: &Path, out: &Path, modules: &[String]) -> Result<Extracted> {
    let script = root.join("xtask/conformance/extract.exs");
    test_support::checked(
        Command::new(test_support::tool("ELIXIR", "elixir"))
            .arg(&script)
            .arg(out)
            .arg(modules.join(","))
            .current_dir(root),
    )
    .with_context(|| format!("running elixir {}", script.display()))?;
    let path = out.join("extract.json");
    let text = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&text).with_context(|| format!("parsing {}", path.display()))
}
