//! `cargo xtask guest`: rebuild `crates/selur/guest/selur.wasm` from
//! `selur.c`; with `--check`, rebuild into a temp dir and fail when the
//! committed module differs.
//!
//! The build is reproducible by construction: clang compiles to an object
//! file and wasm-ld links it as a separate step, because the clang driver,
//! when it links wasm itself, silently runs `wasm-opt` if one is on PATH —
//! the output would then depend on what else is installed. No debug info,
//! no ident, `--strip-all`: no path or timestamp can leak into the bytes.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only verify that the committed selur.wasm matches its source
    #[arg(long)]
    check: bool,
}

pub fn run(args: Args) -> Result<()> {
    let guest_dir = crate::workspace_root().join("crates/selur/guest");
    let committed = guest_dir.join("selur.wasm");
    let tmp = tempfile::tempdir().context("creating a temp dir for the guest build")?;
    let built = build(&guest_dir.join("selur.c"), tmp.path())?;
    let bytes = std::fs::read(&built).with_context(|| format!("reading {}", built.display()))?;
    if args.check {
        let old = std::fs::read(&committed)
            .with_context(|| format!("reading {}", committed.display()))?;
        if old != bytes {
            bail!(
                "{} is stale: it differs from a fresh build of selur.c ({} vs {} bytes); run `cargo xtask guest` and commit it",
                committed.display(),
                old.len(),
                bytes.len()
            );
        }
        println!(
            "{} is up to date ({} bytes)",
            committed.display(),
            bytes.len()
        );
        return Ok(());
    }
    let mut out = tempfile::NamedTempFile::new_in(&guest_dir)
        .with_context(|| format!("creating a temp file in {}", guest_dir.display()))?;
    std::io::Write::write_all(&mut out, &bytes).context("writing the guest")?;
    out.persist(&committed)
        .with_context(|| format!("renaming the guest into {}", committed.display()))?;
    println!("wrote {} ({} bytes)", committed.display(), bytes.len());
    Ok(())
}

/// Compiles and links `source` into `out_dir/selur.wasm`.
pub fn build(source: &Path, out_dir: &Path) -> Result<PathBuf> {
    let object = out_dir.join("selur.o");
    let wasm = out_dir.join("selur.wasm");
    let src_dir = source.parent().context("guest source has no parent dir")?;
    let mut cc = Command::new(tool("CLANG", "clang-16", "clang")?);
    cc.current_dir(src_dir)
        .args([
            "--target=wasm32",
            "-O2",
            "-ffreestanding",
            "-nostdlib",
            "-mbulk-memory",
        ])
        .args([
            "-Wall",
            "-Wextra",
            "-Werror",
            "-fno-ident",
            "-g0",
            "-c",
            "-o",
        ])
        .arg(&object)
        .arg(
            source
                .file_name()
                .context("guest source has no file name")?,
        );
    test_support::checked(&mut cc)?;
    let mut ld = Command::new(tool("WASM_LD", "wasm-ld-16", "wasm-ld")?);
    ld.current_dir(src_dir)
        .args(["--no-entry", "--strip-all", "-z", "stack-size=65536"])
        .args(["--initial-memory=131072", "-o"])
        .arg(&wasm)
        .arg(&object);
    test_support::checked(&mut ld)?;
    Ok(wasm)
}

/// `$ENV`, else the versioned Debian name on PATH, else LLVM 16's own dir.
fn tool(env: &str, versioned: &str, plain: &str) -> Result<PathBuf> {
    let llvm = format!("/usr/lib/llvm-16/bin/{plain}");
    test_support::find_tool(env, &[versioned, &llvm]).with_context(|| {
        format!("no {versioned} on PATH nor {llvm} (install clang-16 and lld-16, or set {env})")
    })
}
