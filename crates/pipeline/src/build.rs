//! `build`: compile, collect, tree-shake, pack and lay out `_build/worker/`.
//!
//! Incremental by content: a state file records the hash of every source and
//! of every input of the archive. When no source changed, elixirc is not run;
//! when the archive's inputs did not change, the archive is not rewritten.

use crate::atomic::{write as write_atomically, write_dir};
use crate::compile_server;
use crate::framework;
use crate::process::{self, Cmd};
use crate::project::Project;
use crate::runtime::Runtime;
use crate::state::{self, FileStamp, State, WasmStamp};
use crate::summary::{
    display_module, ModuleCounts, ModuleFate, Origin, Summary, Unresolved, WorkerFile,
};
use crate::toolchain::Toolchain;
use crate::{Event, Reporter};
use anyhow::{Context as _, Result};
use ew_runtime::digest::{hex, sha256_hex};
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The marker function `use ElixirWorkers.App` defines in the startup module.
pub const APP_MARKER: (&str, u32) = ("__elixir_workers_app__", 0);

/// The most modules an archive for the wasm32 runtime can hold (see the
/// error in `shake_and_pack`).
pub const MAX_MODULES: usize = avm::MAX_MODULES_WASM32;

/// Cloudflare's limits on a worker's compressed size.
pub const FREE_LIMIT: u64 = 3 * 1024 * 1024;
pub const PAID_LIMIT: u64 = 10 * 1024 * 1024;
/// Warn once the gzipped worker reaches this share of a limit.
const NEAR_LIMIT: f64 = 0.8;

/// Modules of Elixir's own stdlib that AtomVM cannot load (measured with
/// Elixir 1.14: their `bs_init2` carries an allocation list as its heap
/// operand, which AtomVM's loader accepts only for other instructions). The
/// runtime stdlib's own `FunctionClauseError` takes its place; the other two
/// are compiler internals.
pub const ELIXIR_UNLOADABLE: &[&str] = &[
    "Elixir.FunctionClauseError",
    "Elixir.Module.ParallelChecker",
    "Elixir.Module.Types",
];

/// Modules of Elixir's stdlib that the runtime's stdlib replaces with its
/// own (`crates/runtime/atomvm-wasi/lib/`): Elixir's `Base` decodes through
/// bitstrings that are not whole bytes, which AtomVM cannot build or match.
pub const ELIXIR_REPLACED: &[&str] = &["Elixir.Base"];

/// Modules of OTP's `stdlib`, taken from the user's Erlang installation and
/// packed in preference to AtomVM's modules of the same name. They are plain
/// Erlang over BIFs AtomVM has (AtomVM resolves a call to one of its NIFs
/// before the module, so OTP's stubs for `lists:reverse/2` and the like are
/// never reached). Elixir's stdlib is compiled against OTP's and relies on
/// what AtomVM's versions lack or do differently: graphemes and normalization
/// (`unicode_util`, `unicode:characters_to_nf*`), float formatting
/// (`io_lib_format`), `URI` parsing (`uri_string`), `:rand` (`Enum.random/1`,
/// `shuffle`), a stable `lists:sort/2` (`Enum.sort_by/3`), `lists:max/1`,
/// `lists:flatten/2`, and the data structures some functions use. OTP's other
/// modules (its compiler, shell, `escript`) are never candidates.
pub const OTP_MODULES: &[&str] = &[
    "unicode_util",
    "io_lib_format",
    "uri_string",
    "orddict",
    "ordsets",
    "gb_sets",
    "gb_trees",
    "sets",
    "queue",
    "rand",
    "lists",
    "unicode",
];

/// Elixir's compiler, which its stdlib reaches on paths that only run at
/// compile time or in a full Erlang system (`IO.warn/2` through
/// `elixir_errors`, `Exception.blame/3` through `elixir_erl`, typespecs,
/// the CLI): none of it can run on AtomVM, so it is never a candidate.
/// Two of its modules stay, for the run-time calls into them:
/// `elixir_aliases` (`Module.concat/2`) and `elixir_config` (whose
/// `identifier_tokenizer/0`, read through `persistent_term`, is how
/// `inspect/1` classifies atoms).
pub fn is_elixir_compiler(module: &str) -> bool {
    (module == "elixir" || module.starts_with("elixir_"))
        && !matches!(module, "elixir_aliases" | "elixir_config")
        || ELIXIR_COMPILE_TIME.contains(&module)
}

const ELIXIR_COMPILE_TIME: &[&str] = &[
    "Elixir.Kernel.Typespec",
    "Elixir.Kernel.CLI",
    "Elixir.Kernel.LexicalTracker",
    "Elixir.Kernel.ParallelCompiler",
    "Elixir.Kernel.ErrorHandler",
    "Elixir.Kernel.SpecialForms",
    "Elixir.Code.Typespec",
    "Elixir.Code.Formatter",
    "Elixir.Code.Normalizer",
    "Elixir.Code.Fragment",
];

/// AtomVM stdlib modules that cannot work under the WASI runtime: they wrap
/// socket, distribution or crypto NIFs that its WASI platform does not have
/// (no sockets, no nodes, no TLS). The atom rule would otherwise keep them all:
/// AtomVM's `erlang` module names `net_kernel` and `crypto`, and those reach
/// the whole networking stack. Calling them on Workers fails either way;
/// shipping them only costs bytes on every request.
pub const WASI_UNSUPPORTED: &[&str] = &[
    "crypto",
    "dist_util",
    "erl_epmd",
    "erpc",
    "gen_tcp",
    "gen_tcp_inet",
    "gen_tcp_socket",
    "gen_udp",
    "gen_udp_inet",
    "gen_udp_socket",
    "inet",
    "net",
    "net_kernel",
    "net_kernel_sup",
    "socket",
    "socket_dist",
    "socket_dist_controller",
    "ssl",
];

/// What `build` should do beyond the default.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Report, for every module, why it was kept or that it was dropped.
    pub explain: bool,
    /// Do not run `npm install` when `node_modules/` is missing.
    pub no_install: bool,
    /// Calls nothing answers are warnings instead of errors.
    pub allow_unresolved: bool,
}

/// Builds the project: see the module documentation.
pub fn build(project: &Project, opts: &BuildOptions, report: Reporter<'_>) -> Result<Summary> {
    let started = Instant::now();
    let toolchain = Toolchain::detect(&project.root)?;
    let runtime = crate::runtime::ensure(report)?;
    let mut state = State::load(&project.state_dir());
    let mut saved = state.clone();
    // Writes the state only when it changed: a no-change build writes nothing.
    let mut save = |state: &State| -> Result<()> {
        if *state != saved {
            state.save(&project.state_dir())?;
            saved = state.clone();
        }
        Ok(())
    };

    // 1. The framework, compiled once per toolchain into the shared cache.
    let fw_key = framework::key(&toolchain);
    if !framework::cache_root()?
        .join("framework")
        .join(&fw_key)
        .is_dir()
    {
        report(Event::Step {
            action: "Compiling",
            detail: format!(
                "elixir-workers framework ({} files, once per Elixir version)",
                framework::sources().len()
            ),
        });
    }
    let fw = framework::ensure_compiled(&toolchain)?;
    copy_framework_for_tests(project, &fw)?;

    // 2. The application.
    let sources = project.sources()?;
    let stamps = state::stamp_sources(&project.root, &sources, &state.sources)?;
    let ebin = project.ebin_dir();
    let up_to_date = state.toolchain == env!("CARGO_PKG_VERSION")
        && state.framework_key == fw.key
        && state.sources == stamps
        && ebin.is_dir();
    let compiled = !up_to_date;
    if compiled {
        report(Event::Step {
            action: "Compiling",
            detail: format!("{} ({} files)", project.name, sources.len()),
        });
        compile_app(project, &toolchain, &fw, &sources, report)?;
        state.toolchain = env!("CARGO_PKG_VERSION").to_string();
        state.framework_key = fw.key.clone();
        state.sources = stamps;
        // Record the compile now: a later failure (say, no startup module)
        // must not force the same compile again.
        save(&state)?;
    }

    // 3. Collect, tree-shake, pack.
    let app_beams = framework::beams_in(&ebin)?;
    let library = Library::find(&toolchain, &runtime)?;
    let pack_key = pack_key(&app_beams, &fw.key, &library.files())?;
    let archive = project.archive_path();
    let archive_intact = state.archive.as_ref().is_some_and(|a| a.matches(&archive));
    let cached = state
        .summary
        .clone()
        .filter(|_| state.pack_key == pack_key && archive_intact);

    let (mut summary, packed) = match cached {
        Some(summary) if !opts.explain => (summary, false),
        _ => {
            let consolidated_dir = project.build_dir().join("consolidated");
            let consolidated_key = crate::protocols::key(&fw.key, &app_beams)?;
            let settings = project.settings()?;
            let app = pack_archive(&PackRequest {
                root: &project.root,
                sources: &project.lib_dir(),
                app_ebin: &ebin,
                framework_ebin: Some(&fw.ebin),
                toolchain: &toolchain,
                runtime: &runtime,
                consolidated: &consolidated_dir,
                reconsolidate: state.consolidated_key != consolidated_key
                    || !consolidated_dir.is_dir(),
                allow_unresolved: opts.allow_unresolved || settings.allow_unresolved,
                keep: settings.keep,
                explain: opts.explain,
            })?;
            state.consolidated_key = consolidated_key;
            // Identical bytes are not written again: wrangler then has
            // nothing to reload.
            let same = state
                .archive
                .as_ref()
                .is_some_and(|a| a.sha256 == sha256_hex(&app.bytes))
                && archive_intact;
            if !same {
                report(Event::Step {
                    action: "Packing",
                    detail: format!(
                        "{} ({} modules)",
                        rel(project, &archive),
                        app.module_list.len()
                    ),
                });
                write_atomically(&archive, &app.bytes)?;
                state.archive = Some(FileStamp::of(&archive, &app.bytes)?);
            }
            state.pack_key = pack_key;
            let summary = Summary {
                project: project.name.clone(),
                root: project.root.clone(),
                startup_module: app.startup_module,
                modules: app.modules,
                module_list: app.module_list,
                files: Vec::new(),
                app_avm_bytes: app.bytes.len() as u64,
                atomvm_wasm_bytes: 0,
                gzip_total_bytes: 0,
                free_limit_bytes: FREE_LIMIT,
                paid_limit_bytes: PAID_LIMIT,
                warnings: app.warnings,
                stdlib_unresolved: app.stdlib_unresolved,
                compiled: false,
                packed: false,
                elapsed_ms: 0,
                explain: app.explain,
            };
            (summary, !same)
        }
    };

    // 4. The rest of the worker directory and the project files.
    ensure_project_files(project, report)?;
    project.check_module_rules()?;
    lay_out_worker(project)?;
    let wasm = lay_out_boot(project, &runtime, &mut state)?;
    state.summary = Some(Summary {
        explain: None,
        ..summary.clone()
    });
    save(&state)?;

    if !opts.no_install && !project.root.join("node_modules").is_dir() {
        report(Event::Step {
            action: "Installing",
            detail: "npm dependencies (wrangler)".into(),
        });
        Cmd::tool(process::NPM, &project.root)?
            .args(["install", "--no-audit", "--no-fund"])
            .capture()
            .context("npm install failed (use --no-install to skip it)")?;
    }

    // 5. Sizes and limits.
    finish_summary(project, &mut summary, &wasm)?;
    save(&state)?;
    summary.compiled = compiled;
    summary.packed = packed;
    summary.elapsed_ms = started.elapsed().as_millis() as u64;
    for w in &summary.warnings {
        report(Event::Warning(w.clone()));
    }
    Ok(summary)
}

fn rel(project: &Project, path: &Path) -> String {
    path.strip_prefix(&project.root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Runs elixirc on every source into a fresh directory that replaces
/// `_build/ebin` only when the compile succeeds.
fn compile_app(
    project: &Project,
    toolchain: &Toolchain,
    fw: &framework::Compiled,
    sources: &[PathBuf],
    report: Reporter<'_>,
) -> Result<()> {
    let relative: Vec<PathBuf> = sources
        .iter()
        .map(|s| {
            s.strip_prefix(&project.root)
                .map(Path::to_path_buf)
                .unwrap_or_else(|_| s.clone())
        })
        .collect();
    let printed = write_dir(&project.ebin_dir(), |staging| {
        // The warm compile server when it can be used, else elixirc.
        if compile_server::enabled() {
            match compile_server::compile(project, &fw.ebin, &fw.key, &relative, staging)
                .context("the application did not compile")?
            {
                compile_server::Outcome::Compiled(text) => return Ok(text),
                compile_server::Outcome::Unavailable(why) => report(Event::Warning(format!(
                    "compile server unavailable, using elixirc: {why}"
                ))),
            }
        }
        Ok(Cmd::new(&toolchain.elixirc, &project.root)
            .arg("-pa")
            .arg(&fw.ebin)
            .arg("-o")
            .arg(staging)
            .args(&relative)
            .capture()
            .context("the application did not compile")?
            .stderr)
    })?;
    let warnings = printed.trim_end();
    if !warnings.is_empty() {
        report(Event::Output(warnings.to_string()));
    }
    Ok(())
}

/// Copies the framework beams to `_build/framework/` (so the project's tests
/// can run on the BEAM with `-pa _build/framework`) when the key changed.
fn copy_framework_for_tests(project: &Project, fw: &framework::Compiled) -> Result<()> {
    let dir = project.framework_dir();
    let key_file = dir.join(".key");
    if std::fs::read_to_string(&key_file).is_ok_and(|k| k == fw.key) {
        return Ok(());
    }
    write_dir(&dir, |staging| {
        for beam in framework::beams_in(&fw.ebin)? {
            let to = staging.join(beam.file_name().expect("a beam has a name"));
            std::fs::copy(&beam, &to).with_context(|| {
                format!("could not copy {} to {}", beam.display(), to.display())
            })?;
        }
        std::fs::write(staging.join(".key"), &fw.key)
            .with_context(|| format!("could not write in {}", staging.display()))
    })
}

/// The archive's inputs: app beam contents, framework key and the stdlib
/// files' names, sizes and modification times.
fn pack_key(app: &[PathBuf], fw_key: &str, stdlib: &[PathBuf]) -> Result<String> {
    let mut h = Sha256::new();
    h.update(env!("CARGO_PKG_VERSION"));
    h.update([0]);
    h.update(fw_key);
    for path in app {
        let bytes =
            std::fs::read(path).with_context(|| format!("could not read {}", path.display()))?;
        h.update([0]);
        h.update(path.file_name().unwrap_or_default().as_encoded_bytes());
        h.update(Sha256::digest(&bytes));
    }
    h.update([1]);
    for path in stdlib {
        let meta = path
            .metadata()
            .with_context(|| format!("could not read {}", path.display()))?;
        h.update(path.file_name().unwrap_or_default().as_encoded_bytes());
        h.update(meta.len().to_le_bytes());
        h.update(state::mtime_ns(&meta).to_le_bytes());
    }
    Ok(hex(&h.finalize()))
}

/// Everything an archive is made from. `build` fills it from the project;
/// the end-to-end tests and the runtime benches fill it for their test app,
/// so that what they run is packed the way a user's app is.
#[derive(Debug, Clone)]
pub struct PackRequest<'a> {
    /// Where tools run (the project root).
    pub root: &'a Path,
    /// What the app was compiled from, for the error when no module starts it.
    pub sources: &'a Path,
    /// The application's compiled modules; exactly one of them must export
    /// [`APP_MARKER`].
    pub app_ebin: &'a Path,
    /// The compiled framework (`ElixirWorkers.*`), when it is not in `app_ebin`.
    pub framework_ebin: Option<&'a Path>,
    /// Where Elixir's and OTP's stdlib are (see [`Library::find`]).
    pub toolchain: &'a Toolchain,
    /// The runtime: its stdlib, and its BIFs and NIFs for the call check.
    pub runtime: &'a Runtime,
    /// The directory of consolidated protocols.
    pub consolidated: &'a Path,
    /// Consolidate again into `consolidated` even when it exists (the
    /// caller knows the protocols or their implementations changed).
    pub reconsolidate: bool,
    /// Calls nothing answers in the app's own code are warnings, not errors.
    pub allow_unresolved: bool,
    /// Modules kept whatever the shake finds (`keep` in `elixir-workers.json`).
    pub keep: Vec<String>,
    /// Record every candidate's fate ([`PackedApp::explain`]).
    pub explain: bool,
}

/// An archive and what went into it.
#[derive(Debug, Clone)]
pub struct PackedApp {
    /// The `.avm` file.
    pub bytes: Vec<u8>,
    pub startup_module: String,
    pub modules: ModuleCounts,
    /// The kept modules, in archive order.
    pub module_list: Vec<String>,
    /// The packer's warnings and, with `allow_unresolved`, the app's calls
    /// that nothing answers.
    pub warnings: Vec<String>,
    /// See [`Summary::stdlib_unresolved`].
    pub stdlib_unresolved: Vec<Unresolved>,
    /// With `explain`: every candidate module, kept or dropped.
    pub explain: Option<Vec<ModuleFate>>,
}

/// The stdlib candidates every app is shaken against, in the files the
/// build keys its archive on.
#[derive(Debug, Clone)]
pub struct Library {
    /// Elixir's own ebin, minus what AtomVM cannot load, Elixir's compiler
    /// and what the runtime's stdlib replaces.
    pub elixir: Vec<PathBuf>,
    /// The [`OTP_MODULES`] of OTP's `stdlib` that this installation has.
    pub otp: Vec<PathBuf>,
    /// The runtime's stdlib (AtomVM's, plus the adapter's modules).
    pub runtime: Vec<PathBuf>,
}

impl Library {
    pub fn find(toolchain: &Toolchain, runtime: &Runtime) -> Result<Library> {
        let elixir = match &toolchain.elixir_ebin {
            Some(dir) => framework::beams_in(dir)?
                .into_iter()
                .filter(|p| {
                    let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
                    !ELIXIR_UNLOADABLE.contains(&stem)
                        && !ELIXIR_REPLACED.contains(&stem)
                        && !is_elixir_compiler(stem)
                })
                .collect(),
            None => Vec::new(),
        };
        // OTP's own stdlib, for the plain-Erlang modules Elixir's stdlib
        // calls (ahead of AtomVM's modules of the same name).
        let otp = match &toolchain.otp_stdlib_ebin {
            Some(dir) => OTP_MODULES
                .iter()
                .map(|m| dir.join(format!("{m}.beam")))
                .filter(|p| p.is_file())
                .collect(),
            None => Vec::new(),
        };
        Ok(Library {
            elixir,
            otp,
            runtime: runtime.stdlib_beams()?,
        })
    }

    /// Every file, in the order the archive's key hashes them.
    fn files(&self) -> Vec<PathBuf> {
        self.runtime
            .iter()
            .chain(&self.elixir)
            .chain(&self.otp)
            .cloned()
            .collect()
    }
}

/// Collects the candidates (consolidated protocols, app, framework, Elixir's
/// stdlib, OTP's modules, the runtime's stdlib, in that priority), shakes
/// them from the startup module, checks the calls that remain, cuts
/// unreached functions and packs: the one way compiled beams become an
/// archive, whoever asks.
pub fn pack_archive(req: &PackRequest<'_>) -> Result<PackedApp> {
    let app_beams = framework::beams_in(req.app_ebin)?;
    let fw_beams = match req.framework_ebin {
        Some(dir) => framework::beams_in(dir)?,
        None => Vec::new(),
    };
    let library = Library::find(req.toolchain, req.runtime)?;
    if req.reconsolidate || !req.consolidated.is_dir() {
        let mut paths: Vec<&Path> = vec![req.app_ebin];
        paths.extend(req.framework_ebin);
        paths.extend(req.toolchain.elixir_ebin.as_deref());
        crate::protocols::consolidate(req.root, req.consolidated, &paths)?;
    }
    let consolidated = framework::beams_in(req.consolidated)?;
    let collected = collect(&[
        (Source::Consolidated, &consolidated),
        (Source::Origin(Origin::App), &app_beams),
        (Source::Origin(Origin::Framework), &fw_beams),
        (Source::Origin(Origin::Stdlib), &library.elixir),
        (Source::Origin(Origin::Stdlib), &library.otp),
        (Source::Origin(Origin::Stdlib), &library.runtime),
    ])?;
    let check = CallCheck {
        native: req.runtime.native_functions(),
        allow: req.allow_unresolved,
        keep: req.keep.clone(),
    };
    shake_and_pack(req.sources, &collected, &check, req.explain)
}

struct Candidate {
    name: String,
    origin: Origin,
    consolidated: bool,
    path: PathBuf,
    bytes: Vec<u8>,
    refs: avm::ModuleRefs,
    code: Option<avm::code::CodeRefs>,
    is_app_entry: bool,
}

/// Where a group of candidate beams comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// Protocols consolidated at build time: they replace the protocol of
    /// the same name wherever it came from (and take its origin).
    Consolidated,
    Origin(Origin),
}

/// Reads and parses every candidate, groups in priority order: a module
/// defined twice keeps the first group's copy (consolidated protocols, then
/// the application, the framework, Elixir's stdlib, the runtime's stdlib).
fn collect(groups: &[(Source, &[PathBuf])]) -> Result<Collected> {
    let mut by_name: BTreeMap<String, Candidate> = BTreeMap::new();
    let mut unsupported = Vec::new();
    for &(source, paths) in groups {
        let origin = match source {
            Source::Consolidated => Origin::Stdlib,
            Source::Origin(o) => o,
        };
        for path in paths {
            let bytes = std::fs::read(path)
                .with_context(|| format!("could not read {}", path.display()))?;
            let beam = avm::Beam::parse(&bytes).map_err(|e| e.with_file(path))?;
            let name = beam.module_name().to_string();
            if let Some(existing) = by_name.get_mut(&name) {
                // A consolidated protocol belongs to whoever defined it.
                if existing.consolidated && existing.origin == Origin::Stdlib {
                    existing.origin = origin;
                }
                continue;
            }
            let refs = avm::ModuleRefs::from_beam(&beam, avm::DEFAULT_INFLATE_CAP)
                .map_err(|e| e.with_file(path))?;
            // A module whose code cannot be decoded is shaken as one unit.
            let code = avm::code::code_refs(&beam, avm::DEFAULT_INFLATE_CAP).ok();
            let is_app_entry =
                origin == Origin::App && beam.exports_fun(APP_MARKER.0, APP_MARKER.1);
            if origin == Origin::Stdlib && WASI_UNSUPPORTED.contains(&name.as_str()) {
                unsupported.push(name);
                continue;
            }
            by_name.insert(
                name.clone(),
                Candidate {
                    name,
                    origin,
                    consolidated: source == Source::Consolidated,
                    path: path.clone(),
                    bytes,
                    refs,
                    code,
                    is_app_entry,
                },
            );
        }
    }
    Ok(Collected {
        candidates: by_name.into_values().collect(),
        unsupported,
    })
}

struct Collected {
    candidates: Vec<Candidate>,
    /// Stdlib modules left out as unusable under WASI.
    unsupported: Vec<String>,
}

/// How the shake's calls are checked.
struct CallCheck {
    /// The runtime's BIFs and NIFs (`None`: a runtime that does not list
    /// them; nothing is checked).
    native: Option<ew_runtime::locate::NativeFunctions>,
    allow: bool,
    keep: Vec<String>,
}

/// Why a module that code calls is not among the candidates.
fn left_out(module: &str) -> Option<&'static str> {
    if WASI_UNSUPPORTED.contains(&module) {
        Some("it needs what the WASI runtime lacks")
    } else if is_elixir_compiler(module) {
        Some("part of Elixir's compiler, which cannot run here")
    } else if ELIXIR_UNLOADABLE.contains(&module) {
        Some("AtomVM cannot load Elixir's copy")
    } else {
        None
    }
}

fn shake_and_pack(
    sources: &Path,
    collected: &Collected,
    check: &CallCheck,
    explain: bool,
) -> Result<PackedApp> {
    let candidates = &collected.candidates;
    let entries: Vec<&Candidate> = candidates.iter().filter(|c| c.is_app_entry).collect();
    let start = match entries.as_slice() {
        [one] => one.name.clone(),
        [] => anyhow::bail!(
            "no startup module: none of the modules compiled from {} exports {}/{} \
             (add `use ElixirWorkers.App, router: YourApp.Router` to the entry module)",
            sources.display(),
            APP_MARKER.0,
            APP_MARKER.1
        ),
        several => anyhow::bail!(
            "several startup modules use ElixirWorkers.App: {}; keep exactly one",
            several
                .iter()
                .map(|c| display_module(&c.name))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let modules: Vec<avm::ModuleCode> = candidates
        .iter()
        .map(|c| avm::ModuleCode {
            refs: c.refs.clone(),
            code: c.code.clone(),
        })
        .collect();
    // Function by function from the startup module; every protocol
    // implementation of the app (and of the framework) is kept with its
    // protocol, a stdlib one when it can be dispatched to.
    // A call the VM answers itself (a BIF or NIF) is no edge: AtomVM
    // resolves those before any module's code.
    let native: std::collections::HashSet<String> = check
        .native
        .iter()
        .flat_map(|n| n.bifs.iter().chain(&n.nifs).cloned())
        .collect();
    let shaken = avm::prune_functions(
        &modules,
        &start,
        &check.keep,
        |i| candidates[i].origin != Origin::Stdlib,
        |m, f, a| native.contains(&format!("{m}:{f}/{a}")),
    )?;
    let origin_of: BTreeMap<&str, Origin> = candidates
        .iter()
        .map(|c| (c.name.as_str(), c.origin))
        .collect();
    let unresolved = match &check.native {
        Some(native) => crate::calls::unresolved(
            &shaken.external,
            native,
            |m| origin_of.get(m).copied().unwrap_or(Origin::Stdlib),
            left_out,
        ),
        None => Vec::new(),
    };
    // The app's own calls are the user's to fix. The framework's are its
    // BEAM-only paths (`:file` I/O when it runs under plain Elixir), the
    // stdlib's are paths such as deprecation warnings: listed, not fatal.
    let (users, stdlib_only): (Vec<_>, Vec<_>) = unresolved
        .into_iter()
        .partition(|u| u.origin == Origin::App);
    if !users.is_empty() && !check.allow {
        anyhow::bail!(
            "{} call{} that nothing on this runtime answers (the build would fail at run \
             time with UndefinedFunctionError):\n  {}\n(`build --allow-unresolved` or \
             \"allow_unresolved\": true in elixir-workers.json makes these warnings, for code \
             paths that are never taken)",
            users.len(),
            if users.len() == 1 { "" } else { "s" },
            users
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n  ")
        );
    }
    let why: BTreeMap<&str, &str> = shaken
        .pruned
        .kept
        .iter()
        .zip(&shaken.why)
        .map(|(k, w)| (k.name.as_str(), w.as_str()))
        .collect();
    let pruned = &shaken.pruned;
    if pruned.kept.len() > MAX_MODULES {
        anyhow::bail!(
            "the archive would hold {} modules; the runtime can run at most {MAX_MODULES}: \
             AtomVM on wasm32 keeps a module's index in the top 8 bits of a return address, \
             so a call returning into module {MAX_MODULES} or later lands in the wrong module \
             (`build --explain` lists what is kept and why)",
            pruned.kept.len()
        );
    }
    let by_name: BTreeMap<&str, &Candidate> =
        candidates.iter().map(|c| (c.name.as_str(), c)).collect();

    // Within a kept module, only the functions the shake reached stay: a
    // module kept for one function no longer brings all of its code.
    let inputs: Vec<avm::PackInput> = pruned
        .kept
        .iter()
        .zip(&shaken.reached)
        .map(|(k, reached)| {
            let c = by_name[k.name.as_str()];
            let bytes = match (reached, &c.code) {
                (Some(keep), Some(code)) if keep.iter().any(|k| !k) => {
                    let beam = avm::Beam::parse(&c.bytes)
                        .with_context(|| format!("reading {}", c.path.display()))?;
                    avm::code::strip_functions(&beam, code, keep).with_context(|| {
                        format!("cutting unused functions from {}", c.path.display())
                    })?
                }
                _ => c.bytes.clone(),
            };
            Ok(avm::PackInput {
                path: c.path.clone(),
                bytes,
                start: c.name == start,
            })
        })
        .collect::<Result<_>>()?;
    let packed = avm::pack(&inputs, &avm::PackOptions::default())?;

    let mut counts = ModuleCounts {
        dropped: pruned.dropped.len(),
        unsupported: collected.unsupported.len(),
        total: pruned.kept.len(),
        ..Default::default()
    };
    for k in &pruned.kept {
        match by_name[k.name.as_str()].origin {
            Origin::App => counts.app += 1,
            Origin::Framework => counts.framework += 1,
            Origin::Stdlib => counts.stdlib += 1,
        }
    }
    let explain = explain.then(|| {
        let mut fates: Vec<ModuleFate> = pruned
            .kept
            .iter()
            .map(|k| ModuleFate {
                module: k.name.clone(),
                origin: by_name[k.name.as_str()].origin,
                kept: true,
                kept_by: k.kept_by.clone(),
                why: why
                    .get(k.name.as_str())
                    .map(|w| w.to_string())
                    .filter(|w| !w.is_empty()),
                unsupported: false,
            })
            .collect();
        fates.extend(pruned.dropped.iter().map(|d| ModuleFate {
            module: d.clone(),
            origin: by_name[d.as_str()].origin,
            kept: false,
            kept_by: None,
            why: None,
            unsupported: false,
        }));
        fates.extend(collected.unsupported.iter().map(|m| ModuleFate {
            module: m.clone(),
            origin: Origin::Stdlib,
            kept: false,
            kept_by: None,
            why: None,
            unsupported: true,
        }));
        fates
    });
    Ok(PackedApp {
        bytes: packed.bytes,
        startup_module: start,
        modules: counts,
        module_list: packed
            .sections
            .iter()
            .map(|s| s.name.trim_end_matches(".beam").to_string())
            .collect(),
        warnings: packed
            .warnings
            .iter()
            .map(ToString::to_string)
            .chain(users.iter().map(|u| format!("unresolved: {u}")))
            .collect(),
        stdlib_unresolved: stdlib_only,
        explain,
    })
}

/// Writes the JS shim into `_build/worker/src/` where it differs, with
/// `budget.js` from the project's settings.
fn lay_out_worker(project: &Project) -> Result<()> {
    let worker = project.worker_dir();
    let src_dir = worker.join("src");
    std::fs::create_dir_all(&src_dir)
        .with_context(|| format!("could not create {}", src_dir.display()))?;
    anyhow::ensure!(
        !framework::worker_files().is_empty(),
        "this elixir-workers binary was built without the worker shim \
         (crates/pipeline/worker/src/ was empty when it was compiled); rebuild it from a complete checkout"
    );
    for (rel, bytes) in framework::worker_files() {
        let to = src_dir.join(rel);
        if std::fs::read(&to).is_ok_and(|old| old == *bytes) {
            continue;
        }
        if let Some(dir) = to.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("could not create {}", dir.display()))?;
        }
        write_atomically(&to, bytes)?;
    }
    let budget = src_dir.join("budget.js");
    let text = project.settings()?.budget.to_js();
    if std::fs::read(&budget).ok().as_deref() != Some(text.as_bytes()) {
        write_atomically(&budget, text.as_bytes())?;
    }

    Ok(())
}

/// Boots the VM on the archive ([`crate::boot`]) and writes `boot.bin` with
/// the worker's copy of `atomvm.wasm`, which carries the image's build id,
/// when the runtime's module or the archive changed. A failed boot stops the
/// build: the worker would fail the same way on every isolate.
fn lay_out_boot(project: &Project, runtime: &Runtime, state: &mut State) -> Result<WasmStamp> {
    let worker = project.worker_dir();
    let from = runtime.wasm();
    let to = worker.join("atomvm.wasm");
    let image_path = project.boot_image_path();
    let meta = from
        .metadata()
        .with_context(|| format!("could not read {}", from.display()))?;
    let source = state::SourceMeta {
        path: from.display().to_string(),
        size: meta.len(),
        mtime_ns: state::mtime_ns(&meta),
    };
    let archive_path = project.archive_path();
    let archive_sha = state
        .archive
        .as_ref()
        .filter(|a| a.matches(&archive_path))
        .map(|a| a.sha256.clone());
    let written = state.wasm.as_ref().filter(|w| {
        w.source == source
            && Some(&w.archive) == archive_sha.as_ref()
            && w.copy.matches(&to)
            && w.image.matches(&image_path)
    });
    if let Some(w) = written {
        return Ok(w.clone());
    }
    let wasm =
        std::fs::read(&from).with_context(|| format!("could not read {}", from.display()))?;
    let avm = std::fs::read(&archive_path)
        .with_context(|| format!("could not read {}", archive_path.display()))?;
    let (wasm, image_bytes) = crate::boot::worker_files(&wasm, &avm).with_context(|| {
        format!(
            "{} does not boot on the runtime (every request on Workers would fail the same way)",
            rel(project, &archive_path)
        )
    })?;
    write_atomically(&image_path, &image_bytes)?;
    write_atomically(&to, &wasm)?;
    let stamp = WasmStamp {
        source,
        archive: sha256_hex(&avm),
        copy: FileStamp::of(&to, &wasm)?,
        gzip_bytes: gzip_len(&wasm),
        image: FileStamp::of(&image_path, &image_bytes)?,
        image_gzip_bytes: gzip_len(&image_bytes),
    };
    state.wasm = Some(stamp.clone());
    Ok(stamp)
}

/// Writes `wrangler.jsonc` and `package.json` when the project has none.
fn ensure_project_files(project: &Project, report: Reporter<'_>) -> Result<()> {
    let name = if scaffold::validate_name(&project.name).is_ok() {
        project.name.clone()
    } else {
        "app".to_string()
    };
    if project.wrangler_config().is_none() {
        let text = scaffold::render_project_file("wrangler.jsonc", &name)?;
        write_atomically(&project.root.join("wrangler.jsonc"), text.as_bytes())?;
        report(Event::Step {
            action: "Created",
            detail: "wrangler.jsonc".into(),
        });
    }
    let package = project.root.join("package.json");
    if !package.exists() {
        let text = scaffold::render_project_file("package.json", &name)?;
        write_atomically(&package, text.as_bytes())?;
        report(Event::Step {
            action: "Created",
            detail: "package.json".into(),
        });
    }
    Ok(())
}

fn finish_summary(project: &Project, summary: &mut Summary, wasm: &WasmStamp) -> Result<()> {
    let worker = project.worker_dir();
    let archive_path = project.archive_path();
    let archive_len = archive_path
        .metadata()
        .with_context(|| format!("could not read {}", archive_path.display()))?
        .len();
    // The worker bundles atomvm.wasm, boot.bin (which holds the archive) and
    // the JS; app.avm stays beside them for `inspect` and the tests.
    let mut files = vec![
        WorkerFile {
            path: rel(project, &project.boot_image_path()),
            bytes: wasm.image.size,
            gzip_bytes: wasm.image_gzip_bytes,
        },
        WorkerFile {
            path: rel(project, &worker.join("atomvm.wasm")),
            bytes: wasm.copy.size,
            gzip_bytes: wasm.gzip_bytes,
        },
    ];
    for (name, bytes) in framework::worker_files() {
        files.push(WorkerFile {
            path: rel(project, &worker.join("src").join(name)),
            bytes: bytes.len() as u64,
            gzip_bytes: gzip_len(bytes),
        });
    }
    summary.app_avm_bytes = archive_len;
    summary.atomvm_wasm_bytes = wasm.copy.size;
    summary.gzip_total_bytes = files.iter().map(|f| f.gzip_bytes).sum();
    summary.files = files;
    summary
        .warnings
        .retain(|w| !w.starts_with("the gzipped worker"));
    if let Some(w) = size_warning(summary.gzip_total_bytes) {
        summary.warnings.push(w);
    }
    Ok(())
}

/// A warning when the gzipped worker nears or passes a Workers size limit.
pub fn size_warning(gzip: u64) -> Option<String> {
    let mb = |b: u64| b as f64 / (1024.0 * 1024.0);
    let near = |limit: u64| gzip as f64 >= limit as f64 * NEAR_LIMIT;
    if gzip > PAID_LIMIT {
        Some(format!("the gzipped worker is {:.2} MB, over the Workers paid-plan limit of 10 MB: it cannot be deployed", mb(gzip)))
    } else if near(PAID_LIMIT) {
        Some(format!(
            "the gzipped worker is {:.2} MB, close to the Workers paid-plan limit of 10 MB",
            mb(gzip)
        ))
    } else if gzip > FREE_LIMIT {
        Some(format!("the gzipped worker is {:.2} MB, over the Workers free-plan limit of 3 MB (the paid plan allows 10 MB)", mb(gzip)))
    } else if near(FREE_LIMIT) {
        Some(format!(
            "the gzipped worker is {:.2} MB, close to the Workers free-plan limit of 3 MB",
            mb(gzip)
        ))
    } else {
        None
    }
}

pub(crate) fn gzip_len(bytes: &[u8]) -> u64 {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).expect("writing to a Vec cannot fail");
    enc.finish().expect("writing to a Vec cannot fail").len() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_warnings() {
        assert_eq!(size_warning(1024 * 1024), None);
        assert!(size_warning(FREE_LIMIT * 9 / 10)
            .unwrap()
            .contains("close to the Workers free-plan limit"));
        assert!(size_warning(FREE_LIMIT + 1)
            .unwrap()
            .contains("over the Workers free-plan limit"));
        assert!(size_warning(PAID_LIMIT * 9 / 10)
            .unwrap()
            .contains("close to the Workers paid-plan limit"));
        assert!(size_warning(PAID_LIMIT + 1)
            .unwrap()
            .contains("cannot be deployed"));
    }
}
