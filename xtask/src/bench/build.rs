//! `cargo xtask bench build`: `elixir-workers build` on a freshly generated
//! app, timed as a user would see it (process start to exit, release binary):
//! a clean build (framework cache warm), a rebuild with no change, and a
//! rebuild after one source file changed. Printed next to the original
//! tool's figures (`mix elixir_workers.build` on its starter, measured on the
//! development machine) and the targets.

use anyhow::{Context as _, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

// The original's figures, measured for `mix elixir_workers.build` on its
// generated starter app.
const ORIGINAL_NO_CHANGE_MS: f64 = 632.0;
const ORIGINAL_TOUCHED_MS: f64 = 661.0;
const ORIGINAL_CLEAN_MS: f64 = 1260.0;
const ORIGINAL_AVM_BYTES: u64 = 198_952;
const ORIGINAL_MODULES: u64 = 67;
// Targets.
const TARGET_NO_CHANGE_MS: f64 = 50.0;
const TARGET_AVM_BYTES: u64 = 120 * 1024;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Timed runs per scenario (the median is reported)
    #[arg(long, default_value_t = 10)]
    runs: usize,
    /// Runtime directory [default: $ELIXIR_WORKERS_RUNTIME, else the user cache's]
    #[arg(long)]
    runtime: Option<PathBuf>,
    /// Use an existing elixir-workers binary instead of building the release one
    #[arg(long)]
    bin: Option<PathBuf>,
}

struct Stats {
    median: Duration,
    min: Duration,
    max: Duration,
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort();
    Stats {
        median: samples[samples.len() / 2],
        min: samples[0],
        max: samples[samples.len() - 1],
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub fn run(args: Args) -> Result<()> {
    let root = crate::workspace_root();
    let runtime = match args.runtime {
        Some(dir) => dir,
        None => test_support::runtime_dir().context(
            "no AtomVM runtime (app.avm sizes only mean something with the real stdlib): \
             run `elixir-workers runtime build`, set ELIXIR_WORKERS_RUNTIME or pass --runtime",
        )?,
    };
    let runs = args.runs.max(1);
    let bin = match args.bin {
        Some(bin) => bin,
        None => {
            eprintln!("building the release binary...");
            let status = Command::new(env!("CARGO"))
                .args(["build", "--release", "--quiet", "-p", "elixir-workers"])
                .current_dir(&root)
                .status()
                .context("could not run cargo")?;
            anyhow::ensure!(
                status.success(),
                "cargo build --release -p elixir-workers failed"
            );
            root.join("target/release/elixir-workers")
        }
    };

    let work = root.join("target/bench-build");
    if work.exists() {
        std::fs::remove_dir_all(&work)
            .with_context(|| format!("could not remove {}", work.display()))?;
    }
    std::fs::create_dir_all(&work)
        .with_context(|| format!("could not create {}", work.display()))?;
    let cache = work.join("cache");
    let ew = |dir: &Path, args: &[&str]| {
        let mut cmd = Command::new(&bin);
        cmd.args(args)
            .current_dir(dir)
            .env("ELIXIR_WORKERS_RUNTIME", &runtime)
            .env("ELIXIR_WORKERS_CACHE", &cache)
            .env("NO_COLOR", "1")
            // The warm compile server started by these builds goes away soon.
            .env("ELIXIR_WORKERS_COMPILER_IDLE_SECS", "30");
        cmd
    };
    let timed = |dir: &Path, args: &[&str]| -> Result<(Duration, String)> {
        let start = Instant::now();
        let out = test_support::checked(&mut ew(dir, args))?;
        Ok((start.elapsed(), out.stdout))
    };

    test_support::checked(&mut ew(&work, &["new", "bench_app", "--no-install"]))?;
    let app = work.join("bench_app");
    let build = ["build", "--no-install", "--json"];

    // The first build also compiles the framework into the (empty) cache.
    let (cold, _) = timed(&app, &build)?;

    // Clean: no _build/, framework cache warm.
    let mut clean = Vec::new();
    let mut summary = serde_json::Value::Null;
    for _ in 0..runs {
        std::fs::remove_dir_all(app.join("_build")).context("could not remove _build")?;
        let (t, stdout) = timed(&app, &build)?;
        summary = serde_json::from_str(&stdout).context("build --json printed no JSON")?;
        clean.push(t);
    }

    let mut no_change = Vec::new();
    for _ in 0..runs {
        let (t, stdout) = timed(&app, &build)?;
        let s: serde_json::Value = serde_json::from_str(&stdout)?;
        anyhow::ensure!(
            s["compiled"] == false && s["packed"] == false,
            "a no-change build compiled or packed: {s}"
        );
        no_change.push(t);
    }

    // One file changed (its content, not just its mtime): the router gets
    // a different health answer each round.
    let router = app.join("lib/bench_app/router.ex");
    let original = std::fs::read_to_string(&router)
        .with_context(|| format!("could not read {}", router.display()))?;
    let mut touched = Vec::new();
    for i in 0..runs {
        let edited = original.replace("\"status\" => \"ok\"", &format!("\"status\" => \"ok {i}\""));
        anyhow::ensure!(
            edited != original,
            "the starter router changed shape; update the benchmark's edit"
        );
        std::fs::write(&router, edited)
            .with_context(|| format!("could not write {}", router.display()))?;
        let (t, stdout) = timed(&app, &build)?;
        let s: serde_json::Value = serde_json::from_str(&stdout)?;
        anyhow::ensure!(
            s["compiled"] == true,
            "an edited source did not recompile: {s}"
        );
        touched.push(t);
    }
    std::fs::write(&router, &original)?;
    // Without its build directory the compile server stops within seconds.
    std::fs::remove_dir_all(app.join("_build")).context("could not remove _build")?;

    let (clean, no_change, touched) = (stats(clean), stats(no_change), stats(touched));
    let avm = summary["app_avm_bytes"].as_u64().unwrap_or(0);
    let modules = summary["modules"]["total"].as_u64().unwrap_or(0);
    let verdict = |ok: bool| if ok { "meets target" } else { "MISSES target" };

    println!("elixir-workers build on a fresh `new` app ({runs} runs each, median [min..max]):");
    println!(
        "  no change      {:>8.1} ms [{:.1}..{:.1}]   original {:>6.0} ms   target <= {:.0} ms        {}",
        ms(no_change.median),
        ms(no_change.min),
        ms(no_change.max),
        ORIGINAL_NO_CHANGE_MS,
        TARGET_NO_CHANGE_MS,
        verdict(ms(no_change.median) <= TARGET_NO_CHANGE_MS)
    );
    println!(
        "  one file edit  {:>8.1} ms [{:.1}..{:.1}]   original {:>6.0} ms   target <= {:.0} ms       {}",
        ms(touched.median),
        ms(touched.min),
        ms(touched.max),
        ORIGINAL_TOUCHED_MS,
        ORIGINAL_TOUCHED_MS / 2.0,
        verdict(ms(touched.median) <= ORIGINAL_TOUCHED_MS / 2.0)
    );
    println!(
        "  clean          {:>8.1} ms [{:.1}..{:.1}]   original {:>6.0} ms",
        ms(clean.median),
        ms(clean.min),
        ms(clean.max),
        ORIGINAL_CLEAN_MS
    );
    println!(
        "  first build (framework compiled into an empty cache): {:.1} ms",
        ms(cold)
    );
    println!(
        "  app.avm        {:>8} B, {modules} modules        original {} B, {} modules   target <= {} B   {}",
        avm,
        ORIGINAL_AVM_BYTES,
        ORIGINAL_MODULES,
        TARGET_AVM_BYTES,
        verdict(avm <= TARGET_AVM_BYTES)
    );
    println!(
        "  modules: app {}, framework {}, stdlib {}; {} dropped by the tree-shake",
        summary["modules"]["app"],
        summary["modules"]["framework"],
        summary["modules"]["stdlib"],
        summary["modules"]["dropped"]
    );
    Ok(())
}
