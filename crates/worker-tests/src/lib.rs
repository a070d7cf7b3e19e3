//! Test support for the runtime side of elixir-workers: the Elixir framework
//! (`priv/framework`) and the JavaScript worker (`templates/worker`).
//!
//! This crate owns no product code. Its tests run the non-Rust suites so that
//! `cargo test --workspace` runs everything: ExUnit on the real BEAM,
//! `node --test` of the shim against a WASI program compiled from C, and the
//! end-to-end tests on the real AtomVM runtime (skipped loudly when no runtime
//! has been built). The helpers here compile Elixir with the real `elixirc`,
//! tree-shake and pack with the `avm` library, and locate tools and the
//! runtime. It must never be a dependency of a shipped crate.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/worker-tests is two levels below the workspace root")
        .to_path_buf()
}

pub fn framework_dir() -> PathBuf {
    workspace_root().join("priv/framework")
}

pub fn worker_dir() -> PathBuf {
    workspace_root().join("templates/worker")
}

/// The runtime directory (holding `atomvm.wasm` and `stdlib/`), found the
/// way the toolchain finds it: `$ELIXIR_WORKERS_RUNTIME`, then `priv/`.
/// `None` when neither has an `atomvm.wasm`.
pub fn runtime_dir() -> Option<PathBuf> {
    let candidates = std::env::var_os("ELIXIR_WORKERS_RUNTIME")
        .map(PathBuf::from)
        .into_iter()
        .chain(std::iter::once(workspace_root().join("priv")));
    candidates
        .into_iter()
        .find(|d| d.join("atomvm.wasm").is_file() && d.join("stdlib").is_dir())
}

/// Prints the skip notice the project uses for tests that need the runtime.
pub fn skip_without_runtime(test: &str) {
    // Straight to stderr, not eprintln!: libtest hides what the print
    // macros write in a passing test, and a skip must be seen.
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: {test} (no AtomVM runtime; run cargo xtask runtime, or set ELIXIR_WORKERS_RUNTIME)"
    );
}

/// A tool from `$VAR`, else its name on `PATH`.
pub fn tool(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default))
}

/// Runs a command to completion, failing with its command line and output
/// when it cannot start or exits non-zero.
pub fn run(cmd: &mut Command) -> Result<Output> {
    let line = format!("{cmd:?}");
    let out = cmd
        .output()
        .with_context(|| format!("cannot start {line}"))?;
    if !out.status.success() {
        bail!(
            "{line} failed ({})\n--- stdout ---\n{}\n--- stderr ---\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(out)
}

/// Compiles Elixir sources (files or directories) with the real `elixirc`
/// into `out`.
pub fn elixirc(sources: &[PathBuf], out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut cmd = Command::new(tool("ELIXIRC", "elixirc"));
    cmd.current_dir(workspace_root())
        .arg("--ignore-module-conflict")
        .arg("-o")
        .arg(out)
        .args(sources);
    run(&mut cmd)?;
    Ok(())
}

/// Every `.beam` in a directory, as (path, bytes).
fn beams_in(dir: &Path) -> Result<Vec<(PathBuf, Vec<u8>)>> {
    let mut out = Vec::new();
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "beam") {
            let bytes =
                std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            out.push((path, bytes));
        }
    }
    out.sort();
    Ok(out)
}

/// Tree-shakes app beams plus the runtime's stdlib from the module that
/// exports `__elixir_workers_app__/0`, and packs the result. Returns the
/// archive bytes and the names of the kept modules.
pub fn pack_app(app_ebin: &Path, stdlib: &Path) -> Result<(Vec<u8>, Vec<String>)> {
    let mut all = beams_in(app_ebin)?;
    let app_names: Vec<String> = all
        .iter()
        .map(|(p, _)| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    for (path, bytes) in beams_in(stdlib)? {
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        // An app module shadows a stdlib module of the same name.
        if !app_names.contains(&stem) {
            all.push((path, bytes));
        }
    }

    let mut refs = Vec::new();
    let mut start = None;
    for (path, bytes) in &all {
        let beam = avm::Beam::parse(bytes).map_err(|e| e.with_file(path))?;
        if app_names.iter().any(|n| n == beam.module_name())
            && beam.exports_fun("__elixir_workers_app__", 0)
        {
            start = Some(beam.module_name().to_owned());
        }
        refs.push(
            avm::ModuleRefs::from_beam(&beam, avm::DEFAULT_INFLATE_CAP)
                .map_err(|e| e.with_file(path))?,
        );
    }
    let start = start.context("no app module exports __elixir_workers_app__/0")?;
    let pruned = avm::prune(&refs, &start)?;

    let inputs: Vec<avm::PackInput> = all
        .into_iter()
        .zip(&refs)
        .filter(|(_, r)| pruned.is_kept(&r.name))
        .map(|((path, bytes), r)| avm::PackInput {
            path,
            bytes,
            start: r.name == start,
        })
        .collect();
    let packed = avm::pack(&inputs, &avm::PackOptions::default())?;
    Ok((
        packed.bytes,
        pruned.kept.into_iter().map(|k| k.name).collect(),
    ))
}

/// Compiles the framework and the test app (`priv/framework/test/support`)
/// and packs them with the runtime's stdlib into `dir/app.avm`.
pub fn build_test_app(runtime: &Path, dir: &Path) -> Result<PathBuf> {
    let ebin = dir.join("ebin");
    elixirc(
        &[
            framework_dir().join("lib"),
            framework_dir().join("test/support"),
        ],
        &ebin,
    )?;
    let (bytes, _kept) = pack_app(&ebin, &runtime.join("stdlib"))?;
    let avm_path = dir.join("app.avm");
    std::fs::write(&avm_path, bytes)
        .with_context(|| format!("cannot write {}", avm_path.display()))?;
    Ok(avm_path)
}

/// Prints a child's output so that `cargo test -- --nocapture` shows it.
pub fn echo_output(out: &Output) {
    print!("{}", String::from_utf8_lossy(&out.stdout));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
}
