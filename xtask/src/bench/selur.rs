//! `cargo xtask bench selur`: round trips through the selur bridge from
//! Rust and from Elixir (through the NIF), calls per second from 1 and 4
//! Elixir processes, and a JSON/HTTP keep-alive baseline on 127.0.0.1 for
//! the same payloads, all measured in one run and printed as one table.
//!
//! The Rust side and the HTTP baseline are `crates/selur/examples/
//! roundtrip.rs` (release); the Elixir side is
//! `integrations/vordr/bench/selur_bench.exs` against the release NIF.

use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[derive(Debug, clap::Args)]
pub struct Args {}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Runs `cmd` (stderr shown), returns stdout; fails naming the command.
fn run_cmd(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed with {}", out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The last line of `out` that is a JSON object.
fn last_json(out: &str, what: &str) -> Result<Value> {
    let line = out
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .with_context(|| format!("{what} printed no JSON line:\n{out}"))?;
    serde_json::from_str(line).with_context(|| format!("{what} printed bad JSON: {line}"))
}

fn nums(v: &Value, key: &str) -> Result<Vec<f64>> {
    v[key]
        .as_array()
        .with_context(|| format!("missing {key}"))?
        .iter()
        .map(|x| {
            x.as_f64()
                .with_context(|| format!("{key} holds a non-number"))
        })
        .collect()
}

fn num(v: &Value, key: &str) -> Result<f64> {
    v[key].as_f64().with_context(|| format!("missing {key}"))
}

pub fn run_bench(root: &Path) -> Result<()> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));

    eprintln!("building the release NIF and the Rust round-trip benchmark...");
    run_cmd(cargo().current_dir(root).args([
        "build",
        "--release",
        "-p",
        "selur-nif",
        "-p",
        "selur",
        // `--example` alone would build only the example; `--lib` adds the
        // NIF. One command, so features unify the same way for both.
        "--lib",
        "--example",
        "roundtrip",
    ]))?;

    eprintln!("Rust round trips and the JSON/HTTP baseline...");
    let rust = last_json(
        &run_cmd(
            Command::new(target.join("release/examples/roundtrip"))
                .arg("--json")
                .current_dir(root),
        )?,
        "roundtrip",
    )?;

    eprintln!("Elixir round trips through the NIF...");
    let nif = target.join("release/libselur_nif.so");
    let elixir = last_json(
        &run_cmd(
            Command::new("mix")
                .args(["run", "bench/selur_bench.exs"])
                .current_dir(root.join("integrations/vordr"))
                .env("MIX_ENV", "prod")
                .env("SELUR_NIF_PATH", &nif)
                .env("MIX_BUILD_ROOT", target.join("vordr-mix-build")),
        )?,
        "selur_bench.exs",
    )?;

    let sizes = nums(&rust, "sizes")?;
    let r = nums(&rust, "rust_echo_ns")?;
    let h = nums(&rust, "http_json_ns")?;
    let e = nums(&elixir, "elixir_echo_ns")?;
    if [r.len(), h.len(), e.len()]
        .iter()
        .any(|&n| n != sizes.len())
    {
        bail!("benchmarks disagree on the payload sizes");
    }
    let one = num(&elixir, "calls_per_s_1")?;
    let one_cpu = num(&elixir, "calls_per_cpu_s_1")?;
    let four_own = num(&elixir, "calls_per_s_4_own")?;
    let four_shared = num(&elixir, "calls_per_s_4_shared")?;
    let schedulers = num(&elixir, "schedulers")?;
    let inspect = num(&rust, "rust_inspect_ns")?;

    println!("selur round trip: echo of N bytes through guest memory and back (median per call)");
    println!(
        "{:>8}  {:>10}  {:>16}  {:>15}  {:>14}",
        "payload", "Rust (µs)", "Elixir NIF (µs)", "JSON/HTTP (µs)", "HTTP / Elixir"
    );
    for i in 0..sizes.len() {
        println!(
            "{:>8}  {:>10.3}  {:>16.3}  {:>15.2}  {:>13.0}x",
            sizes[i],
            r[i] / 1e3,
            e[i] / 1e3,
            h[i] / 1e3,
            h[i] / e[i]
        );
    }
    println!();
    println!("calls/s, 100 B echo from Elixir ({schedulers} schedulers online):");
    println!("  1 process:                      {:>12.0}", one);
    println!(
        "  1 process, per VM CPU-second:  {:>12.0}  (less sensitive to other load)",
        one_cpu
    );
    println!("  4 processes, a bridge each:     {:>12.0}", four_own);
    println!("  4 processes, one shared bridge: {:>12.0}", four_shared);
    println!(
        "typed inspect from Rust (guest JSON + backend view): {:.3} µs",
        inspect / 1e3
    );
    println!();
    let mark = |ok: bool| if ok { "met" } else { "NOT met" };
    println!("targets:");
    println!(
        "  100 B from Elixir <= 0.5 µs median:   {:.3} µs  {}",
        e[0] / 1e3,
        mark(e[0] <= 500.0)
    );
    println!(
        "  >= 1,000,000 calls/s from one process: {:.0}  {}",
        one,
        mark(one >= 1e6)
    );
    let worst = (0..sizes.len())
        .map(|i| h[i] / e[i])
        .fold(f64::INFINITY, f64::min);
    println!(
        "  >= 30x faster than JSON/HTTP:          {:.0}x at worst  {}",
        worst,
        mark(worst >= 30.0)
    );
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    println!("load average during the run: {}", load.join(" "));
    println!("seed's claim: 8.5 / 12.4 / 46.1 µs vs JSON/HTTP 78 / 195 / 847 µs, 10,000+ req/s");
    Ok(())
}

pub fn run(_args: Args) -> Result<()> {
    run_bench(&crate::workspace_root())
}
