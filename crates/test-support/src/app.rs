//! The framework's test app, compiled with the real `elixirc`, packed and
//! booted with the functions `elixir-workers build` uses.

use crate::process::{checked, tool};
use crate::{framework_dir, workspace_root};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Compiles Elixir sources (files or directories) with the real `elixirc`
/// into `out`.
pub fn elixirc(sources: &[PathBuf], out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    checked(
        Command::new(tool("ELIXIRC", "elixirc"))
            .current_dir(workspace_root())
            .arg("--ignore-module-conflict")
            .arg("-o")
            .arg(out)
            .args(sources),
    )?;
    Ok(())
}

/// Compiles the framework (`crates/pipeline/framework/lib`) into
/// `dir/framework` and the test app (`crates/pipeline/framework/test/support`)
/// into `dir/ebin`, and packs them into `dir/app.avm` with
/// `pipeline::pack::pack_archive`, the function `elixir-workers build`
/// packs with: the same candidates (Elixir's and OTP's stdlib from the
/// toolchain, the runtime's stdlib), consolidated protocols, shake, call
/// check and function cuts, so the tests and benches run what a user gets.
pub fn build_test_app(runtime: &Path, dir: &Path) -> Result<PathBuf> {
    let fw = dir.join("framework");
    elixirc(&[framework_dir().join("lib")], &fw)?;
    // Two compiles, as `build` has them: the framework apart from the app,
    // so each module is shaken and its calls checked under its own origin.
    let ebin = dir.join("ebin");
    let sources = framework_dir().join("test/support");
    std::fs::create_dir_all(&ebin).with_context(|| format!("cannot create {}", ebin.display()))?;
    checked(
        Command::new(tool("ELIXIRC", "elixirc"))
            .current_dir(workspace_root())
            .arg("-pa")
            .arg(&fw)
            .arg("-o")
            .arg(&ebin)
            .arg(&sources),
    )?;

    let toolchain = pipeline::toolchain::Toolchain::detect(&workspace_root())?;
    let runtime = ew_runtime::Runtime::open(runtime, ew_runtime::Origin::Env)?;
    let app = pipeline::pack::pack_archive(&pipeline::pack::PackRequest {
        root: dir,
        sources: &sources,
        app_ebin: &ebin,
        framework_ebin: Some(&fw),
        toolchain: &toolchain,
        runtime: &runtime,
        consolidated: &dir.join("consolidated"),
        reconsolidate: true,
        unicode: &dir.join("unicode"),
        allow_unresolved: false,
        keep: Vec::new(),
        explain: false,
    })?;
    let avm_path = dir.join("app.avm");
    std::fs::write(&avm_path, &app.bytes)
        .with_context(|| format!("cannot write {}", avm_path.display()))?;
    Ok(avm_path)
}

/// What a built worker ships for the archive `avm` on `runtime`, made by the
/// functions `build` makes them with (`pipeline::boot::boot` and
/// `worker_module`): `atomvm.wasm` without its loader and with its build id,
/// and `boot.bin`, written into `dir`. Returns their paths.
pub fn boot_test_app(runtime: &Path, avm: &Path, dir: &Path) -> Result<(PathBuf, PathBuf)> {
    let read = |p: &Path| std::fs::read(p).with_context(|| format!("cannot read {}", p.display()));
    let runtime_wasm = read(&runtime.join("atomvm.wasm"))?;
    let avm = read(avm)?;
    let image = pipeline::boot::boot(&runtime_wasm, &avm)?;
    let (wasm, image) = (
        pipeline::boot::worker_module(&runtime_wasm, &avm, &image)?.wasm,
        image.encode(),
    );
    let (wasm_path, image_path) = (dir.join("atomvm.wasm"), dir.join("boot.bin"));
    for (path, bytes) in [(&wasm_path, wasm), (&image_path, image)] {
        std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok((wasm_path, image_path))
}
