//! Building the runtime from AtomVM's source, step by step: the tools, the
//! source, the generated headers ([`crate::headers`]), every C file
//! compiled for wasm32-wasi in parallel ([`crate::compile`]), one ThinLTO
//! link and `wasm-opt -Oz` when binaryen is installed ([`crate::link`]), a
//! check of the module's imports and exports ([`crate::abi`]), AtomVM's
//! estdlib and exavmlib ([`crate::stdlib`]) and `runtime.json`
//! ([`crate::manifest`]). The runtime is assembled in a staging directory
//! and renamed into place whole, manifest included, so a reader never sees
//! half a runtime.

use crate::abi::check_module;
use crate::compile::{compile_planned, plan, units};
use crate::headers::generate_headers;
use crate::identity;
use crate::link::{link, link_output, optimize};
use crate::manifest::{manifest, native_functions};
use crate::settings::WASM_OPT_FLAGS;
use crate::source;
use crate::stdlib::compile_stdlib;
use crate::toolchain::Tools;
use crate::{Progress, Reporter, Runtime};
use anyhow::{Context as _, Result};
use sha2::{Digest as _, Sha256};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What to build from and where to put it.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// An AtomVM source directory or `.tar.gz`; `None` downloads the pin.
    pub atomvm_src: Option<PathBuf>,
    /// Build from a source tree that is not the pinned commit's.
    pub allow_modified_source: bool,
    /// Where the runtime goes; `None`: the user cache under the runtime's id.
    pub out: Option<PathBuf>,
    /// Parallel compile jobs (`None`: the available cores).
    pub jobs: Option<usize>,
    /// Leave out wasm-opt even when it is installed.
    pub no_wasm_opt: bool,
    /// Objects, generated headers and extracted sources (`None`: the user
    /// cache's `runtime-build/`).
    pub build_dir: Option<PathBuf>,
}

/// Builds the runtime and returns it, opened from where it was written.
pub fn build(opts: &BuildOptions, progress: Reporter<'_>) -> Result<Runtime> {
    let started = Instant::now();
    let id = identity::runtime_id();
    let out = match &opts.out {
        Some(out) => std::path::absolute(out)?,
        None => crate::cache::runtime_dir(&id)?,
    };
    let build_dir = match &opts.build_dir {
        Some(dir) => std::path::absolute(dir)?,
        None => crate::cache::build_dir()?,
    };
    fs::create_dir_all(&build_dir).with_context(|| format!("creating {}", build_dir.display()))?;
    // Object keys hold the flags, and the flags hold paths in here: the same
    // directory reached through a link must give the same keys.
    let build_dir = build_dir
        .canonicalize()
        .with_context(|| format!("resolving {}", build_dir.display()))?;

    let tools = Tools::find(!opts.no_wasm_opt)?;
    tools.check_wasi(&build_dir.join("probe"))?;
    let atomvm = source::obtain(
        opts.atomvm_src.as_deref(),
        opts.allow_modified_source,
        &build_dir,
        progress,
    )?;

    let gen_dir = build_dir.join("gen");
    generate_headers(&tools.gperf, &atomvm, &gen_dir)?;
    let adapter_dir = materialize_adapter(&build_dir)?;
    let jobs = opts
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    // Sources name themselves (`__FILE__` in AtomVM's error messages): map
    // the build's own directories to fixed names, so the module does not
    // depend on where the cache or the checkout is.
    let mut extra = tools.sysroot_flags();
    extra.push(format!(
        "-ffile-prefix-map={}=AtomVM",
        atomvm.root.display()
    ));
    extra.push(format!("-ffile-prefix-map={}=build", build_dir.display()));
    let units = units(&atomvm, &adapter_dir, &gen_dir, &extra)?;
    let obj_dir = build_dir.join("obj");
    let plan = plan(&tools.clang, &units, &obj_dir)?;
    let to_compile = plan.iter().filter(|(_, o)| !o.is_file()).count();
    let link_cached = link_output(&build_dir, plan.iter().map(|(_, o)| o)).is_file();
    progress(Progress::Step {
        action: "Building",
        detail: format!(
            "runtime {id}: {to_compile} of {} C files to compile on {jobs} cores, {}; likely {}",
            units.len(),
            if link_cached {
                "link cached"
            } else {
                "then one LTO link"
            },
            estimate(to_compile, jobs, link_cached)
        ),
    });
    progress(Progress::Step {
        action: "Compiling",
        detail: format!("{} C files for wasm32-wasi", units.len()),
    });
    let objects = compile_planned(&tools.clang, &plan, jobs, progress)?;

    progress(Progress::Step {
        action: "Linking",
        detail: "atomvm.wasm (ThinLTO)".into(),
    });
    let linked = link(&tools, &objects, &build_dir, jobs)?;
    let wasm = match &tools.wasm_opt {
        Some(wasm_opt) => {
            progress(Progress::Step {
                action: "Optimizing",
                detail: format!("atomvm.wasm with wasm-opt {}", WASM_OPT_FLAGS.join(" ")),
            });
            optimize(wasm_opt, &linked)?
        }
        None => {
            progress(Progress::Note(
                "wasm-opt not found (package binaryen); atomvm.wasm is left unoptimized".into(),
            ));
            linked
        }
    };
    let wasm_bytes = fs::read(&wasm).with_context(|| format!("reading {}", wasm.display()))?;
    check_module(&wasm_bytes).with_context(|| format!("checking {}", wasm.display()))?;

    progress(Progress::Step {
        action: "Compiling",
        detail: "AtomVM's estdlib (erlc) and exavmlib (elixirc)".into(),
    });
    crate::atomic::write_dir(&out, |staging| {
        compile_stdlib(&tools, &atomvm, &staging.join("stdlib"))?;
        fs::write(staging.join("atomvm.wasm"), &wasm_bytes)?;
        let functions = native_functions(&atomvm, &adapter_dir)?;
        let manifest = manifest(&id, staging, &tools, &atomvm, &functions)?;
        let mut json = serde_json::to_vec_pretty(&manifest)?;
        json.push(b'\n');
        fs::write(staging.join("runtime.json"), json)?;
        progress(Progress::Step {
            action: "Installing",
            detail: format!("runtime into {}", out.display()),
        });
        Ok(())
    })?;
    progress(Progress::Step {
        action: "Finished",
        detail: format!(
            "runtime {id} in {:.1}s (atomvm.wasm {} bytes)",
            started.elapsed().as_secs_f64(),
            wasm_bytes.len()
        ),
    });
    Runtime::open(&out, crate::Origin::Built)
}

/// How long the build will likely take, from measurements on a 2-core
/// machine: under a second of compiling per C file and core, about two and
/// a half minutes of LTO link plus wasm-opt, and 15 s for the stdlib.
fn estimate(to_compile: usize, jobs: usize, link_cached: bool) -> String {
    let secs =
        (to_compile as f64 * 0.8 / jobs as f64) + if link_cached { 5.0 } else { 150.0 } + 15.0;
    if secs < 90.0 {
        format!("{} seconds", (secs / 10.0).ceil() as u64 * 10)
    } else {
        format!("{} minutes", (secs / 60.0).round() as u64)
    }
}

/// Writes the embedded adapter sources into the build directory (under
/// their digest, so a changed adapter never mixes with an old one).
fn materialize_adapter(build_dir: &Path) -> Result<PathBuf> {
    let mut h = Sha256::new();
    for (name, bytes) in identity::adapter_sources() {
        h.update(name.as_bytes());
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    let dir = build_dir.join(format!(
        "adapter-{}",
        &crate::digest::hex(&h.finalize())[..16]
    ));
    if dir.join(".complete").is_file() {
        return Ok(dir);
    }
    let staging = tempfile::Builder::new()
        .prefix(".adapter-")
        .tempdir_in(build_dir)?;
    for (name, bytes) in identity::adapter_sources() {
        fs::write(staging.path().join(name), bytes)?;
    }
    fs::write(staging.path().join(".complete"), "")?;
    let staged = staging.keep();
    if fs::rename(&staged, &dir).is_err() {
        // Another build got there first with the same contents.
        let _ = fs::remove_dir_all(&staged);
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estimate_is_minutes_for_a_cold_build_and_seconds_for_a_warm_one() {
        assert_eq!(estimate(42, 2, false), "3 minutes");
        assert_eq!(estimate(0, 2, true), "20 seconds");
        assert_eq!(estimate(42, 2, true), "40 seconds");
    }
}
