//! `cargo xtask bench pack --reference PATH/pack_avm.py`: the whole
//! `elixir-workers pack` process against `python3 pack_avm.py` on Elixir's
//! stdlib ebin, timed by hyperfine in one run, and the ratio of the means.
//! Target: at least 10x. Also checks the two outputs are identical, so the
//! comparison is between equal work.

use anyhow::{bail, Context, Result};
use std::process::Command;

use crate::parity::{release_binary, run_tool, ReferenceArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    input: ReferenceArgs,

    /// hyperfine --runs
    #[arg(long, default_value_t = 40)]
    runs: u32,
}

fn mean_and_stddev(v: &serde_json::Value, idx: usize) -> Result<(f64, f64)> {
    let r = &v["results"][idx];
    let mean = r["mean"].as_f64().context("hyperfine JSON without mean")?;
    let sd = r["stddev"].as_f64().unwrap_or(0.0);
    Ok((mean, sd))
}

pub fn run(args: Args) -> Result<()> {
    args.input.check()?;
    let bin = release_binary()?;
    let tmp = tempfile::tempdir().context("creating a temp dir")?;
    let ours_out = tmp.path().join("ours.avm");
    let ref_out = tmp.path().join("ref.avm");
    let json = tmp.path().join("hyperfine.json");
    let q = |p: &std::path::Path| format!("'{}'", p.display());
    let ours_cmd = format!(
        "{} pack -q -o {} --start {} {}",
        q(&bin),
        q(&ours_out),
        q(&args.input.ebin.join(&args.input.ebin_start)),
        q(&args.input.ebin)
    );
    let ref_cmd = format!(
        "python3 {} {} {} {}",
        q(&args.input.reference),
        q(&ref_out),
        args.input.ebin_start,
        q(&args.input.ebin)
    );
    run_tool(
        Command::new("hyperfine")
            // -N: no intermediate shell, so nothing but the two processes is timed.
            .args(["-N", "--warmup", "3", "--runs"])
            .arg(args.runs.to_string())
            .args(["--style", "basic", "--output", "null", "--export-json"])
            .arg(&json)
            .args([
                "-n",
                "elixir-workers pack",
                &ours_cmd,
                "-n",
                "pack_avm.py",
                &ref_cmd,
            ]),
    )
    .context("hyperfine (apt-get install hyperfine)")?;
    let v: serde_json::Value = serde_json::from_slice(
        &std::fs::read(&json).with_context(|| format!("reading {}", json.display()))?,
    )
    .context("parsing hyperfine JSON")?;
    let (ours, ours_sd) = mean_and_stddev(&v, 0)?;
    let (reference, ref_sd) = mean_and_stddev(&v, 1)?;
    // CPU time (user + system) is less sensitive than wall time to whatever
    // else the machine is running; both are printed.
    let cpu = |i: usize| -> f64 {
        let r = &v["results"][i];
        r["user"].as_f64().unwrap_or(f64::NAN) + r["system"].as_f64().unwrap_or(f64::NAN)
    };
    let (ours_cpu, ref_cpu) = (cpu(0), cpu(1));
    let same = std::fs::read(&ours_out)? == std::fs::read(&ref_out)?;
    let n = std::fs::read_dir(&args.input.ebin)?
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "beam"))
        })
        .count();
    println!(
        "pack {} ({n} modules), {} runs each:",
        args.input.ebin.display(),
        args.runs
    );
    println!(
        "  elixir-workers pack  {:8.2} ms ± {:.2}",
        ours * 1e3,
        ours_sd * 1e3
    );
    println!(
        "  python3 pack_avm.py  {:8.2} ms ± {:.2}",
        reference * 1e3,
        ref_sd * 1e3
    );
    println!(
        "  ratio (wall)         {:8.1}x  (target >= 10x)",
        reference / ours
    );
    println!(
        "  cpu (user+system)    {:8.2} ms vs {:.2} ms: {:.1}x",
        ours_cpu * 1e3,
        ref_cpu * 1e3,
        ref_cpu / ours_cpu
    );
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        println!(
            "  load average         {}",
            load.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    println!("  outputs identical:   {same}");
    if !same {
        bail!("the two archives differ; run cargo xtask parity");
    }
    Ok(())
}
