//! Building the runtime from AtomVM's source: the headers AtomVM's CMake
//! would generate (version, gperf tables), every C file compiled with clang
//! for wasm32-wasi in parallel (objects cached by content in the user cache,
//! outside any checkout), one ThinLTO link, `wasm-opt -Oz` when binaryen is
//! installed, a check of the module's imports and exports, and AtomVM's
//! estdlib and exavmlib compiled with erlc and elixirc. The runtime is
//! assembled in a staging directory and renamed into place whole, manifest
//! included, so a reader never sees half a runtime.

use crate::identity::{self, ATOMVM_PIN};
use crate::locate::{sorted_files, NativeFunctions};
use crate::settings::*;
use crate::source::{self, AtomVmSource};
use crate::toolchain::Tools;
use crate::{process, Progress, Reporter, Runtime};
use anyhow::{anyhow, bail, Context as _, Result};
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
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

// ---------------------------------------------------------------------------
// Generated headers

/// The headers AtomVM's CMake writes into its build tree: `avm_version.h`
/// (from `version.h.in`) and the gperf perfect-hash tables of BIFs and NIFs.
pub fn generate_headers(gperf: &Path, atomvm: &AtomVmSource, gen_dir: &Path) -> Result<()> {
    fs::create_dir_all(gen_dir).with_context(|| format!("creating {}", gen_dir.display()))?;
    let version = format!(
        "/* Generated by elixir-workers. */\n\
         #define SYSTEM_NAME \"WASI\"\n\
         #define SYSTEM_VERSION \"preview1\"\n\
         #define SYSTEM_ARCHITECTURE \"wasm32\"\n\
         #define ATOMVM_VERSION \"{}\"\n",
        atomvm.version
    );
    write_if_changed(&gen_dir.join("avm_version.h"), version.as_bytes())?;
    for table in ["bifs", "nifs"] {
        let source = atomvm.lib().join(format!("{table}.gperf"));
        let text =
            fs::read_to_string(&source).with_context(|| format!("reading {}", source.display()))?;
        // The keyword lines are `module:function/arity, &nif`.
        let kept: Vec<&str> = text
            .lines()
            .filter(|l| {
                let key = l.split_once(',').map_or("", |(k, _)| k.trim());
                !NIFS_REPLACED.contains(&key)
            })
            .collect();
        let dropped = text.lines().count() - kept.len();
        if table == "nifs" && dropped != NIFS_REPLACED.len() {
            bail!(
                "{}: expected to leave out {} entries ({}), found {dropped}",
                source.display(),
                NIFS_REPLACED.len(),
                NIFS_REPLACED.join(", ")
            );
        }
        let input = gen_dir.join(format!("{table}.gperf"));
        write_if_changed(&input, (kept.join("\n") + "\n").as_bytes())?;
        let out = process::run(Command::new(gperf).arg("-t").arg(&input))
            .with_context(|| format!("hashing {}", input.display()))?;
        write_if_changed(&gen_dir.join(format!("{table}_hash.h")), &out.stdout)?;
    }
    Ok(())
}

/// Writes through a temp file, and not at all when the bytes are unchanged
/// (an unchanged header keeps every object's cache key).
fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<()> {
    if fs::read(path).ok().as_deref() == Some(bytes) {
        return Ok(());
    }
    crate::atomic::write(path, bytes)
}

// ---------------------------------------------------------------------------
// Compiling and linking

/// One C file to compile: its source, the object's base name and its flags.
#[derive(Debug, Clone)]
pub struct Unit {
    pub source: PathBuf,
    pub name: String,
    pub flags: Vec<String>,
}

fn units(
    atomvm: &AtomVmSource,
    adapter_dir: &Path,
    gen_dir: &Path,
    extra: &[String],
) -> Result<Vec<Unit>> {
    let lib = atomvm.lib();
    let prelude = adapter_dir.join("core_prelude.h");
    let mut common: Vec<String> = COMMON_CFLAGS.iter().map(|s| s.to_string()).collect();
    common.extend(extra.iter().cloned());
    let mut units = Vec::new();
    for name in CORE_SOURCES {
        let source = lib.join(format!("{name}.c"));
        if !source.is_file() {
            bail!(
                "{} is missing: is {} AtomVM at {ATOMVM_PIN}?",
                source.display(),
                atomvm.root.display()
            );
        }
        let mut flags = common.clone();
        // Upstream code, built unchanged: its warnings are upstream's business.
        flags.extend([
            "-w".to_string(),
            format!("-I{}", gen_dir.display()),
            format!("-I{}", lib.display()),
            "-include".to_string(),
            prelude.display().to_string(),
        ]);
        flags.extend(
            CORE_FILE_DEFINES
                .iter()
                .filter(|(file, _)| file == name)
                .map(|(_, define)| define.to_string()),
        );
        units.push(Unit {
            source,
            name: format!("core-{name}"),
            flags,
        });
    }
    for name in ADAPTER_SOURCES {
        let mut flags = common.clone();
        // Our code: strict. AtomVM's headers come in as system headers so
        // their own warnings do not fail our build.
        flags.extend([
            "-Wall".to_string(),
            "-Wextra".to_string(),
            "-Werror".to_string(),
            format!("-I{}", gen_dir.display()),
            "-isystem".to_string(),
            lib.display().to_string(),
        ]);
        units.push(Unit {
            source: adapter_dir.join(format!("{name}.c")),
            name: format!("adapter-{name}"),
            flags,
        });
    }
    Ok(units)
}

/// Digest of every header a unit could include (the `.h`/`.def` files of
/// its source's directory and of its `-I` directories). Part of each
/// object's cache key, so editing any header rebuilds everything (simple
/// and never stale). Paths are not part of it: only contents and names.
fn headers_digest(units: &[Unit]) -> Result<Vec<u8>> {
    let mut dirs: Vec<PathBuf> = units
        .iter()
        .filter_map(|u| u.source.parent().map(Path::to_path_buf))
        .chain(units.iter().flat_map(|u| {
            u.flags
                .iter()
                .filter_map(|f| f.strip_prefix("-I").map(PathBuf::from))
        }))
        .collect();
    dirs.sort();
    dirs.dedup();
    let mut hasher = Sha256::new();
    for dir in &dirs {
        let mut headers: Vec<PathBuf> = fs::read_dir(dir)
            .with_context(|| format!("listing {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| matches!(p.extension().and_then(OsStr::to_str), Some("h" | "def")))
            .collect();
        headers.sort();
        for h in headers {
            hasher.update(h.file_name().unwrap_or_default().as_encoded_bytes());
            hasher.update(fs::read(&h).with_context(|| format!("reading {}", h.display()))?);
        }
    }
    Ok(hasher.finalize().to_vec())
}

/// Each unit with the object it compiles to, named by the hash of compiler
/// version, flags, headers and source.
pub fn plan<'u>(
    clang: &Path,
    units: &'u [Unit],
    obj_dir: &Path,
) -> Result<Vec<(&'u Unit, PathBuf)>> {
    let headers = headers_digest(units)?;
    let clang_version = process::first_line(clang, &["--version"]);
    units
        .iter()
        .map(|unit| {
            let mut hasher = Sha256::new();
            hasher.update(clang_version.as_bytes());
            hasher.update(&headers);
            for f in &unit.flags {
                hasher.update(f.as_bytes());
                hasher.update([0]);
            }
            hasher.update(
                fs::read(&unit.source)
                    .with_context(|| format!("reading {}", unit.source.display()))?,
            );
            let key = crate::digest::hex(&hasher.finalize()[..8]);
            Ok((unit, obj_dir.join(format!("{}-{key}.o", unit.name))))
        })
        .collect()
}

/// Compiles every unit not already in the cache, `jobs` at a time.
pub fn compile_all(
    clang: &Path,
    units: &[Unit],
    obj_dir: &Path,
    jobs: usize,
    progress: Reporter<'_>,
) -> Result<Vec<PathBuf>> {
    let plan = plan(clang, units, obj_dir)?;
    compile_planned(clang, &plan, jobs, progress)
}

fn compile_planned(
    clang: &Path,
    plan: &[(&Unit, PathBuf)],
    jobs: usize,
    progress: Reporter<'_>,
) -> Result<Vec<PathBuf>> {
    if let Some((_, first)) = plan.first() {
        let dir = first.parent().context("object path has no parent")?;
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    progress(Progress::Start {
        what: "C files",
        total: Some(plan.len() as u64),
        bytes: false,
    });
    let next = AtomicUsize::new(0);
    let done = AtomicU64::new(0);
    let errors = Mutex::new(Vec::<String>::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(plan.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((unit, object)) = plan.get(i) else {
                    break;
                };
                if !object.is_file() {
                    if let Err(e) = compile_one(clang, unit, object) {
                        errors
                            .lock()
                            .expect("no panics while holding the lock")
                            .push(format!("{e:#}"));
                    }
                }
                progress(Progress::Advance(done.fetch_add(1, Ordering::Relaxed) + 1));
            });
        }
    });
    progress(Progress::Finish);
    let errors = errors
        .into_inner()
        .expect("no panics while holding the lock");
    if !errors.is_empty() {
        bail!("{}", errors.join("\n\n"));
    }
    Ok(plan.iter().map(|(_, o)| o.clone()).collect())
}

fn compile_one(clang: &Path, unit: &Unit, object: &Path) -> Result<()> {
    // Compile to a temp name and rename, so an interrupted build never
    // leaves a truncated object that a later run would take from the cache.
    let dir = object.parent().context("object path has no parent")?;
    let tmp = tempfile::Builder::new()
        .prefix(".compiling-")
        .suffix(".o")
        .tempfile_in(dir)
        .with_context(|| format!("creating a temp file in {}", dir.display()))?;
    process::run(
        Command::new(clang)
            .current_dir(dir)
            .args(&unit.flags)
            .arg("-c")
            .arg(&unit.source)
            .arg("-o")
            .arg(tmp.path()),
    )
    .with_context(|| format!("compiling {}", unit.source.display()))?;
    tmp.persist(object)
        .with_context(|| format!("renaming into {}", object.display()))?;
    Ok(())
}

/// The linked module's cache path, named by its objects and flags (LTO code
/// generation is the slow step of the whole build).
fn link_output<'p>(build_dir: &Path, objects: impl IntoIterator<Item = &'p PathBuf>) -> PathBuf {
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

fn link(tools: &Tools, objects: &[PathBuf], build_dir: &Path, jobs: usize) -> Result<PathBuf> {
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
    let plan = process::run(
        Command::new(&tools.clang)
            .current_dir(build_dir)
            .arg("-###")
            .args(LDFLAGS)
            .args(tools.sysroot_flags())
            .arg(format!("-Wl,--thinlto-cache-dir={}", cache.display()))
            .arg(format!("-Wl,--thinlto-jobs={jobs}"))
            .args(objects)
            .arg("-o")
            .arg(tmp.path()),
    )
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
    process::run(
        Command::new(&linker[0])
            .current_dir(build_dir)
            .args(&linker[1..]),
    )
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
fn optimize(wasm_opt: &Path, linked: &Path) -> Result<PathBuf> {
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
    process::run(
        Command::new(wasm_opt)
            .args(WASM_OPT_FLAGS)
            .arg(linked)
            .arg("-o")
            .arg(tmp.path()),
    )
    .context("optimizing atomvm.wasm")?;
    tmp.persist(&out)
        .with_context(|| format!("renaming into {}", out.display()))?;
    Ok(out)
}

/// The memory the worker boots the VM in (`BOOT_MEMORY_PAGES` in the
/// worker's runtime.js): the module's minimum must fit.
pub const BOOT_MEMORY_PAGES: u64 = 160;

/// What the worker calls: the reactor's constructor, boot (snapshotted
/// once), run (once per request), the heap mark and the memory.
const REQUIRED_EXPORTS: &[&str] = &[
    "_initialize",
    "ew_boot",
    "ew_run",
    "ew_heap_high_water",
    "ew_set_budget",
    "memory",
];

/// The runtime ABI allows imports from WASI preview1, the function
/// `elixir_workers.respond` and the memory `elixir_workers.memory`; anything
/// else (an `env.*` import left by an undefined symbol) would fail in every
/// host but one that happens to stub it. It also needs the reactor's exports.
pub fn check_module(wasm: &[u8]) -> Result<()> {
    let mut bad = Vec::new();
    let mut exports = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        match payload.context("parsing the module")? {
            wasmparser::Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.context("parsing an import")?;
                    let is_memory = matches!(import.ty, wasmparser::TypeRef::Memory(_));
                    if let wasmparser::TypeRef::Memory(m) = import.ty {
                        if m.initial > BOOT_MEMORY_PAGES {
                            bail!(
                                "atomvm.wasm needs {} pages of memory at instantiation; the worker \
                                 boots it in {BOOT_MEMORY_PAGES} (BOOT_MEMORY_PAGES in runtime.js)",
                                m.initial
                            );
                        }
                    }
                    let allowed = (import.module == "wasi_snapshot_preview1" && !is_memory)
                        || (import.module == "elixir_workers"
                            && ((import.name == "respond" && !is_memory)
                                || (import.name == "memory" && is_memory)));
                    if !allowed {
                        bad.push(format!("{}.{}", import.module, import.name));
                    }
                }
            }
            wasmparser::Payload::ExportSection(reader) => {
                for export in reader {
                    exports.push(export.context("parsing an export")?.name.to_string());
                }
            }
            _ => {}
        }
    }
    if !bad.is_empty() {
        bail!(
            "atomvm.wasm imports {}; only wasi_snapshot_preview1.*, elixir_workers.respond and \
             elixir_workers.memory are allowed",
            bad.join(", ")
        );
    }
    check_exports(&exports)
}

fn check_exports(exports: &[String]) -> Result<()> {
    let missing: Vec<&str> = REQUIRED_EXPORTS
        .iter()
        .copied()
        .filter(|e| !exports.iter().any(|x| x == e))
        .collect();
    if !missing.is_empty() {
        bail!("atomvm.wasm does not export {}", missing.join(", "));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// stdlib

fn compile_stdlib(tools: &Tools, atomvm: &AtomVmSource, out: &Path) -> Result<()> {
    let libs = atomvm.root.join("libs");
    let erl_dir = out.with_extension("erl");
    let ex_dir = out.with_extension("ex");
    for d in [out, &erl_dir, &ex_dir] {
        fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    // Both compilers run in an empty directory: Erlang puts the current
    // directory on its code path, and AtomVM's own lists.beam or maps.beam
    // found there would replace OTP's inside the compiler itself.
    let scratch = tempfile::tempdir().context("creating a scratch directory")?;

    let estdlib = sorted_files(&libs.join("estdlib/src"), "erl")?;
    // `deterministic` and the strip below keep build paths (the user's
    // cache, a staging directory) out of the beams, so two builds of the
    // same source are the same bytes on any machine.
    process::run(
        Command::new(&tools.erlc)
            .current_dir(scratch.path())
            .arg("+deterministic")
            .arg("-I")
            .arg(libs.join("include"))
            .arg("-o")
            .arg(&erl_dir)
            .args(&estdlib),
    )
    .context("compiling AtomVM's estdlib")?;

    let exavmlib: Vec<PathBuf> = sorted_files(&libs.join("exavmlib/lib"), "ex")?
        .into_iter()
        .filter(|p| {
            let stem = p.file_stem().and_then(OsStr::to_str).unwrap_or_default();
            !EXAVMLIB_EXCLUDED.contains(&stem)
        })
        .collect();
    // exavmlib redefines modules of Elixir's own stdlib (Enum, Kernel, ...)
    // with AtomVM-sized versions; the conflict is the point.
    process::run(
        Command::new(&tools.elixirc)
            .current_dir(scratch.path())
            .env("ERL_COMPILER_OPTIONS", "deterministic")
            .arg("--ignore-module-conflict")
            .arg("-o")
            .arg(&ex_dir)
            .args(&exavmlib),
    )
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
        process::run(
            Command::new(&tools.erlc)
                .current_dir(scratch.path())
                .arg("+deterministic")
                .arg("-o")
                .arg(&erl_dir)
                .args(&ours),
        )
        .context("compiling the runtime's own Erlang modules")?;
    }

    let mut seen = BTreeMap::new();
    for dir in [&erl_dir, &ex_dir] {
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
    for d in [&erl_dir, &ex_dir] {
        fs::remove_dir_all(d).with_context(|| format!("removing {}", d.display()))?;
    }
    Ok(())
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
    process::run(Command::new(&tools.erl).args(["-noshell", "-eval", &script]))
        .context("stripping the stdlib's beams")?;
    for beam in sorted_files(dir, "beam")? {
        let bytes = fs::read(&beam)?;
        if bytes.len() < 12 || &bytes[..4] != b"FOR1" || &bytes[8..12] != b"BEAM" {
            bail!("{}: not a plain BEAM file after stripping", beam.display());
        }
    }
    Ok(())
}

/// `runtime.json`: the id, the source, the tools, the settings and the size
/// and sha256 of every artifact in `dir`.
/// Every function the VM answers itself, as `module:function/arity`: the
/// BIFs and NIFs of AtomVM's tables (`bifs.gperf`, `nifs.gperf`) and our
/// platform's NIFs (`platform_nifs.c`). A build checks calls against these
/// and the packed modules' exports.
pub fn native_functions(atomvm: &AtomVmSource, adapter_dir: &Path) -> Result<NativeFunctions> {
    let from_gperf = |file: &str| -> Result<Vec<String>> {
        let path = atomvm.lib().join(file);
        let text =
            fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        // Keywords are the lines between the two `%%` that start with
        // `module:function/arity,`.
        let body = text.split("\n%%\n").nth(1).unwrap_or_default();
        Ok(body
            .lines()
            .filter_map(|l| l.split_once(',').map(|(k, _)| k.trim()))
            .filter(|k| is_mfa(k))
            .map(str::to_string)
            .collect())
    };
    let bifs = from_gperf("bifs.gperf")?;
    let mut nifs = from_gperf("nifs.gperf")?;
    let platform = adapter_dir.join("platform_nifs.c");
    let text =
        fs::read_to_string(&platform).with_context(|| format!("reading {}", platform.display()))?;
    nifs.extend(
        text.lines()
            .filter_map(|l| l.trim().strip_prefix("{ \""))
            .filter_map(|l| l.split_once('"').map(|(k, _)| k))
            .filter(|k| is_mfa(k))
            .map(str::to_string),
    );
    if bifs.len() < 20 || nifs.len() < 100 {
        bail!(
            "found only {} BIFs and {} NIFs in AtomVM's tables: has their format changed?",
            bifs.len(),
            nifs.len()
        );
    }
    nifs.sort();
    nifs.dedup();
    Ok(NativeFunctions { bifs, nifs })
}

fn is_mfa(k: &str) -> bool {
    k.split_once(':').is_some_and(|(m, fa)| {
        !m.is_empty()
            && fa
                .rsplit_once('/')
                .is_some_and(|(f, a)| !f.is_empty() && a.parse::<u8>().is_ok())
    })
}

fn manifest(
    id: &str,
    dir: &Path,
    tools: &Tools,
    atomvm: &AtomVmSource,
    functions: &NativeFunctions,
) -> Result<serde_json::Value> {
    let mut artifacts = Vec::new();
    let wasm = fs::read(dir.join("atomvm.wasm"))?;
    artifacts.push(artifact("atomvm.wasm", &wasm));
    for beam in sorted_files(&dir.join("stdlib"), "beam")? {
        let bytes = fs::read(&beam).with_context(|| format!("reading {}", beam.display()))?;
        let name = beam
            .file_name()
            .expect("listed files have names")
            .to_string_lossy();
        artifacts.push(artifact(&format!("stdlib/{name}"), &bytes));
    }
    Ok(serde_json::json!({
        "id": id,
        "modified": !atomvm.is_pinned(),
        "atomvm": {
            "commit": atomvm.commit,
            "pinned_commit": ATOMVM_PIN,
            "tree_digest": atomvm.tree_digest,
            "version": atomvm.version,
        },
        "tools": tools.versions(),
        "build": {
            "cflags": COMMON_CFLAGS,
            "ldflags": LDFLAGS,
            "wasm_opt": tools.wasm_opt.as_ref().map(|_| WASM_OPT_FLAGS.join(" ")),
            "exavmlib_excluded": EXAVMLIB_EXCLUDED,
        },
        "functions": functions,
        "artifacts": artifacts,
    }))
}

fn artifact(path: &str, bytes: &[u8]) -> serde_json::Value {
    serde_json::json!({
        "path": path,
        "size": bytes.len(),
        "sha256": crate::digest::sha256_hex(bytes),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal module importing `module.name` as a function of type () -> ().
    fn module_importing(module: &str, name: &str) -> Vec<u8> {
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        wasm.extend([1, 4, 1, 0x60, 0, 0]); // type section: one func type () -> ()
        let mut body = vec![1]; // one import
        body.push(module.len() as u8);
        body.extend(module.as_bytes());
        body.push(name.len() as u8);
        body.extend(name.as_bytes());
        body.extend([0, 0]); // kind func, type index 0
        wasm.push(2);
        wasm.push(body.len() as u8);
        wasm.extend(body);
        wasm
    }

    #[test]
    fn driver_plan_is_split_into_commands() {
        let plan = "clang version 16\nInstalledDir: /usr/bin\n \"/usr/bin/wasm-ld-16\" \"-o\" \"a \\\"b\\\".wasm\"\n \"/usr/bin/wasm-opt\" \"x\"\n";
        let cmds = driver_commands(plan);
        assert_eq!(cmds.len(), 2);
        assert_eq!(cmds[0], ["/usr/bin/wasm-ld-16", "-o", "a \"b\".wasm"]);
        assert_eq!(cmds[1], ["/usr/bin/wasm-opt", "x"]);
    }

    #[test]
    fn wasi_and_respond_imports_are_allowed() {
        for (module, name) in [
            ("wasi_snapshot_preview1", "fd_write"),
            ("elixir_workers", "respond"),
        ] {
            let err = check_module(&module_importing(module, name)).unwrap_err();
            // Allowed: the only complaint is the missing reactor exports.
            assert!(
                format!("{err:#}").starts_with("atomvm.wasm does not export _initialize"),
                "{err:#}"
            );
        }
    }

    #[test]
    fn reactor_exports_are_required() {
        let all: Vec<String> = REQUIRED_EXPORTS.iter().map(|s| s.to_string()).collect();
        check_exports(&all).unwrap();
        let err = check_exports(&all[1..]).unwrap_err();
        assert_eq!(format!("{err}"), "atomvm.wasm does not export _initialize");
    }

    #[test]
    fn env_imports_are_rejected() {
        let err = check_module(&module_importing("env", "tzset")).unwrap_err();
        assert!(format!("{err:#}").contains("env.tzset"), "{err:#}");
        let err = check_module(&module_importing("elixir_workers", "other")).unwrap_err();
        assert!(
            format!("{err:#}").contains("elixir_workers.other"),
            "{err:#}"
        );
    }

    #[test]
    fn the_estimate_is_minutes_for_a_cold_build_and_seconds_for_a_warm_one() {
        assert_eq!(estimate(42, 2, false), "3 minutes");
        assert_eq!(estimate(0, 2, true), "20 seconds");
        assert_eq!(estimate(42, 2, true), "40 seconds");
    }
}
