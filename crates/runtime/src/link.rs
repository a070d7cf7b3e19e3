//! Linking the objects into `atomvm.wasm` with ThinLTO (wasm-ld run on its
//! own, from the plan clang's driver prints) and optimising it with
//! wasm-opt; both results are cached by what they are made from.

use crate::process::Cmd;
use crate::settings::{LDFLAGS, WASM_OPT_FLAGS};
use crate::toolchain::Tools;
use anyhow::{anyhow, Context as _, Result};
use sha2::{Digest as _, Sha256};
use std::path::{Path, PathBuf};

/// The linked module's cache path, named by its objects and flags (LTO code
/// generation is the slow step of the whole build).
pub(crate) fn link_output<'p>(
    build_dir: &Path,
    objects: impl IntoIterator<Item = &'p PathBuf>,
) -> PathBuf {
    let mut hasher = Sha256::new();
    for o in objects {
        hasher.update(o.file_name().unwrap_or_default().as_encoded_bytes());
    }
    for f in LDFLAGS {
        hasher.update(f.as_bytes());
    }
    build_dir.join(format!(
        "atomvm-{}.wasm",
        crate::digest::hex(&hasher.finalize()[..8])
    ))
}

pub(crate) fn link(
    tools: &Tools,
    objects: &[PathBuf],
    build_dir: &Path,
    jobs: usize,
) -> Result<PathBuf> {
    let out = link_output(build_dir, objects);
    if out.is_file() {
        return Ok(out);
    }
    let tmp = tempfile::Builder::new()
        .prefix(".linking-")
        .suffix(".wasm")
        .tempfile_in(build_dir)
        .with_context(|| format!("creating a temp file in {}", build_dir.display()))?;
    // Ask the driver for its plan and run only the linker: when it links for
    // wasm and finds a wasm-opt (beside itself or on PATH) the driver also
    // runs `wasm-opt -Oz` on the output, silently. We run wasm-opt ourselves,
    // so that the result does not depend on what else is installed and the
    // version recorded in runtime.json is the one that ran.
    let cache = build_dir.join("thinlto-cache");
    let plan = Cmd::new(&tools.clang)
        .current_dir(build_dir)
        .arg("-###")
        .args(LDFLAGS)
        .args(tools.sysroot_flags())
        .arg(format!("-Wl,--thinlto-cache-dir={}", cache.display()))
        .arg(format!("-Wl,--thinlto-jobs={jobs}"))
        .args(objects)
        .arg("-o")
        .arg(tmp.path())
        .run()
        .context("asking clang how to link atomvm.wasm")?;
    let linker = driver_commands(&String::from_utf8_lossy(&plan.stderr))
        .into_iter()
        .find(|argv| {
            Path::new(&argv[0])
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("wasm-ld"))
        })
        .ok_or_else(|| {
            anyhow!(
                "clang planned no wasm-ld step (lld missing?); install:\n{}\n{}",
                crate::toolchain::install_hint(),
                String::from_utf8_lossy(&plan.stderr).trim()
            )
        })?;
    Cmd::new(&linker[0])
        .current_dir(build_dir)
        .args(&linker[1..])
        .run()
        .context("linking atomvm.wasm")?;
    tmp.persist(&out)
        .with_context(|| format!("renaming into {}", out.display()))?;
    Ok(out)
}

/// The commands in clang's `-###` output: one per line, each argument in
/// double quotes with `\\` and `\"` escaped.
fn driver_commands(plan: &str) -> Vec<Vec<String>> {
    plan.lines()
        .filter(|l| l.starts_with(" \""))
        .map(|line| {
            let mut args = Vec::new();
            let mut chars = line.chars();
            while let Some(c) = chars.next() {
                if c != '"' {
                    continue;
                }
                let mut arg = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => arg.extend(chars.next()),
                        '"' => break,
                        c => arg.push(c),
                    }
                }
                args.push(arg);
            }
            args
        })
        .filter(|args: &Vec<String>| !args.is_empty())
        .collect()
}

/// `wasm-opt` on the unstripped module (binaryen 108 rejects a module that
/// wasm-strip has touched); cached beside the linked module.
pub(crate) fn optimize(wasm_opt: &Path, linked: &Path) -> Result<PathBuf> {
    let out = linked.with_extension("opt.wasm");
    if out.is_file() {
        return Ok(out);
    }
    let dir = linked.parent().context("linked module has no parent")?;
    let tmp = tempfile::Builder::new()
        .prefix(".optimizing-")
        .suffix(".wasm")
        .tempfile_in(dir)
        .with_context(|| format!("creating a temp file in {}", dir.display()))?;
    Cmd::new(wasm_opt)
        .args(WASM_OPT_FLAGS)
        .arg(linked)
        .arg("-o")
        .arg(tmp.path())
        .run()
        .context("optimizing atomvm.wasm")?;
    tmp.persist(&out)
        .with_context(|| format!("renaming into {}", out.display()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn driver_plan_is_split_into_commands() {
        let plan = "clang version 16\nInstalledDir: /usr/bin\n \"/usr/bin/wasm-ld-16\" \"-o\" \"a \\\"b\\\".wasm\"\n \"/usr/bin/wasm-opt\" \"x\"\n";
        let cmds = driver_commands(plan);
        assert_eq!(cmds.len(), 2);
        assert_eq!(cmds[0], ["/usr/bin/wasm-ld-16", "-o", "a \"b\".wasm"]);
        assert_eq!(cmds[1], ["/usr/bin/wasm-opt", "x"]);
    }
}
