//! The runtime's stdlib: AtomVM's estdlib (erlc, without the modules ours
//! replace) and exavmlib (elixirc, without the modules that drive
//! hardware), our own modules of
//! `atomvm-wasi/lib/`, each name built once, and every beam stripped to what
//! a loader reads (plus `LocT`) with the source paths made relative, so two
//! builds give the same bytes anywhere.

use crate::identity;
use crate::locate::sorted_files;
use crate::process::Cmd;
use crate::settings::{ESTDLIB_EXCLUDED, EXAVMLIB_EXCLUDED, STRIP_SCRIPT};
use crate::source::AtomVmSource;
use crate::toolchain::Tools;
use anyhow::{bail, Context as _, Result};
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};

/// Compiles the stdlib into `out`.
pub(crate) fn compile_stdlib(tools: &Tools, atomvm: &AtomVmSource, out: &Path) -> Result<()> {
    let libs = atomvm.root.join("libs");
    let erl_dir = out.with_extension("erl");
    let ex_dir = out.with_extension("ex");
    let ours_out = out.with_extension("ours");
    for d in [out, &erl_dir, &ex_dir, &ours_out] {
        fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    // Both compilers run in an empty directory: Erlang puts the current
    // directory on its code path, and AtomVM's own lists.beam or maps.beam
    // found there would replace OTP's inside the compiler itself.
    let scratch = tempfile::tempdir().context("creating a scratch directory")?;

    let estdlib = sources_but(&libs.join("estdlib/src"), "erl", ESTDLIB_EXCLUDED)?;
    // `deterministic` and the strip below keep build paths (the user's
    // cache, a staging directory) out of the beams, so two builds of the
    // same source are the same bytes on any machine.
    Cmd::new(&tools.erlc)
        .current_dir(scratch.path())
        .arg("+deterministic")
        .arg("-I")
        .arg(libs.join("include"))
        .arg("-o")
        .arg(&erl_dir)
        .args(&estdlib)
        .run()
        .context("compiling AtomVM's estdlib")?;

    let exavmlib = sources_but(&libs.join("exavmlib/lib"), "ex", EXAVMLIB_EXCLUDED)?;
    // exavmlib redefines modules of Elixir's own stdlib (Enum, Kernel, ...)
    // with AtomVM-sized versions; the conflict is the point.
    Cmd::new(&tools.elixirc)
        .current_dir(scratch.path())
        .env("ERL_COMPILER_OPTIONS", "deterministic")
        .arg("--ignore-module-conflict")
        .arg("-o")
        .arg(&ex_dir)
        .args(&exavmlib)
        .run()
        .context("compiling AtomVM's exavmlib")?;

    // Our own modules (`atomvm-wasi/lib/`), for what AtomVM's stdlib lacks
    // and Elixir's calls (`re`). The "built twice" check below keeps them
    // from shadowing one of AtomVM's without a word.
    let ours_dir = scratch.path().join("elixir-workers");
    fs::create_dir_all(&ours_dir)?;
    let mut ours = Vec::new();
    for (name, bytes) in identity::stdlib_sources() {
        let path = ours_dir.join(name);
        fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
        ours.push(path);
    }
    if !ours.is_empty() {
        Cmd::new(&tools.erlc)
            .current_dir(scratch.path())
            .arg("+deterministic")
            .arg("-o")
            .arg(&ours_out)
            .args(&ours)
            .run()
            .context("compiling the runtime's own Erlang modules")?;
    }

    let mut seen = BTreeMap::new();
    for dir in [&erl_dir, &ex_dir, &ours_out] {
        for beam in sorted_files(dir, "beam")? {
            let name = beam
                .file_name()
                .expect("listed files have names")
                .to_owned();
            if let Some(first) = seen.insert(name.clone(), beam.clone()) {
                bail!(
                    "{} is built twice ({} and {})",
                    name.to_string_lossy(),
                    first.display(),
                    beam.display()
                );
            }
            fs::rename(&beam, out.join(&name))
                .with_context(|| format!("moving {} into {}", beam.display(), out.display()))?;
        }
    }
    // Line tables name sources relative to the AtomVM tree, and ours as
    // `elixir-workers/<file>`.
    let renames: Vec<(PathBuf, PathBuf)> = estdlib
        .iter()
        .chain(&exavmlib)
        .filter_map(|src| Some((src.clone(), src.strip_prefix(&atomvm.root).ok()?.to_owned())))
        .chain(ours.iter().filter_map(|src| {
            let rel = src.strip_prefix(scratch.path()).ok()?.to_owned();
            Some((src.clone(), rel))
        }))
        .collect();
    strip_beams(tools, out, &renames)?;
    let sources = estdlib.len() + exavmlib.len() + ours.len();
    if seen.len() < sources {
        bail!(
            "expected at least {sources} beams from {sources} sources, got {}",
            seen.len()
        );
    }
    for d in [&erl_dir, &ex_dir, &ours_out] {
        fs::remove_dir_all(d).with_context(|| format!("removing {}", d.display()))?;
    }
    Ok(())
}

/// The `ext` files of `dir`, sorted, but those whose stem `excluded` lists.
fn sources_but(dir: &Path, ext: &str, excluded: &[&str]) -> Result<Vec<PathBuf>> {
    Ok(sorted_files(dir, ext)?
        .into_iter()
        .filter(|p| {
            let stem = p.file_stem().and_then(OsStr::to_str).unwrap_or_default();
            !excluded.contains(&stem)
        })
        .collect())
}

/// Runs [`STRIP_SCRIPT`] over every beam in `dir` and checks that each
/// came back as plain IFF.
fn strip_beams(tools: &Tools, dir: &Path, renames: &[(PathBuf, PathBuf)]) -> Result<()> {
    let quote = |p: &Path| format!("{:?}", p.display().to_string());
    let files: Vec<String> = sorted_files(dir, "beam")?
        .iter()
        .map(|p| quote(p))
        .collect();
    // Each source's absolute path as the `Line` chunk's file table holds it
    // (a 16-bit length, then the name), and the relative name it becomes:
    // elixirc records absolute paths whatever the options.
    let renames: Vec<String> = renames
        .iter()
        .map(|(src, rel)| format!("{{{}, {}}}", quote(src), quote(rel)))
        .collect();
    let script = STRIP_SCRIPT
        .replace("FILES", &files.join(","))
        .replace("RENAMES", &renames.join(","));
    Cmd::new(&tools.erl)
        .args(["-noshell", "-eval", &script])
        .run()
        .context("stripping the stdlib's beams")?;
    for beam in sorted_files(dir, "beam")? {
        let bytes = fs::read(&beam)?;
        if bytes.len() < 12 || &bytes[..4] != b"FOR1" || &bytes[8..12] != b"BEAM" {
            bail!("{}: not a plain BEAM file after stripping", beam.display());
        }
    }
    Ok(())
}
