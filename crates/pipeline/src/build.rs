//! `build`: compile, pack and lay out `_build/worker/`, in that order, each
//! step skipped when its inputs did not change. The steps live in modules
//! of their own: [`crate::compile`], [`crate::pack`] (with
//! [`crate::collect`]), [`crate::lay_out`] and [`crate::sizes`].
//!
//! Incremental by content: a state file records the hash of every source and
//! of every input of the archive. When no source changed, elixirc is not run;
//! when the archive's inputs did not change, the archive is not rewritten.

use crate::atomic::write as write_atomically;
use crate::collect::Library;
use crate::compile::{compile_app, copy_framework_for_tests};
use crate::framework;
use crate::lay_out::{ensure_project_files, lay_out_boot, lay_out_worker};
use crate::pack::{pack_archive, PackRequest};
use crate::process::{self, Cmd};
use crate::project::Project;
use crate::sizes::{finish_summary, FREE_LIMIT, PAID_LIMIT};
use crate::state::{self, FileStamp, State};
use crate::summary::Summary;
use crate::toolchain::Toolchain;
use crate::{Event, Reporter};
use anyhow::{Context as _, Result};
use ew_runtime::digest::{hex, sha256_hex};
use sha2::{Digest as _, Sha256};
use std::path::PathBuf;
use std::time::Instant;

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

    // 1 and 2. The framework and the application.
    let (fw, compiled) = compile_sources(project, &toolchain, &mut state, report)?;
    if compiled {
        // Record the compile now: a later failure (say, no startup module)
        // must not force the same compile again.
        save(&state)?;
    }
    let ebin = project.ebin_dir();

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
                // Shared by every project: made once per OTP and tool.
                unicode: &ew_runtime::cache::root()?.join("unicode"),
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
                        project.relative(&archive),
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
                opcodes: Default::default(),
                natives: Default::default(),
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
    if let Some(config) = project.ensure_module_rules()? {
        report(Event::Step {
            action: "Updated",
            detail: format!(
                "{} (its Data rule now loads boot.bin, the app booted at build time)",
                project.relative(&config)
            ),
        });
    }
    let assets = crate::assets::wire(project, &project.settings()?.assets)?;
    if let Some(config) = &assets.updated {
        report(Event::Step {
            action: "Updated",
            detail: format!(
                "{} (its `assets` now serve public/ as elixir-workers.json's `assets` setting says)",
                project.relative(config)
            ),
        });
    }
    lay_out_worker(project, &assets)?;
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

/// Compiles the project without packing it: the framework into the shared
/// cache and `_build/framework/`, the application into `_build/ebin/`, each
/// only when its sources changed. What the app's ExUnit tests need; unlike
/// [`build`], no runtime is needed.
pub fn compile(project: &Project, report: Reporter<'_>) -> Result<()> {
    let toolchain = Toolchain::detect(&project.root)?;
    let mut state = State::load(&project.state_dir());
    let before = state.clone();
    compile_sources(project, &toolchain, &mut state, report)?;
    if state != before {
        state.save(&project.state_dir())?;
    }
    Ok(())
}

/// Steps 1 and 2 of [`build`]; records a compile in `state` and says
/// whether one ran.
fn compile_sources(
    project: &Project,
    toolchain: &Toolchain,
    state: &mut State,
    report: Reporter<'_>,
) -> Result<(framework::Compiled, bool)> {
    // The framework, compiled once per toolchain into the shared cache.
    let fw_key = framework::key(toolchain);
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
    let fw = framework::ensure_compiled(toolchain)?;
    copy_framework_for_tests(project, &fw)?;

    // The application.
    let sources = project.sources()?;
    let stamps = state::stamp_sources(&project.root, &sources, &state.sources)?;
    let up_to_date = state.toolchain == crate::state::tool_key()
        && state.framework_key == fw.key
        && state.sources == stamps
        && project.ebin_dir().is_dir();
    if !up_to_date {
        report(Event::Step {
            action: "Compiling",
            detail: format!("{} ({} files)", project.name, sources.len()),
        });
        compile_app(project, toolchain, &fw, &sources, report)?;
        state.toolchain = crate::state::tool_key().to_string();
        state.framework_key = fw.key.clone();
        state.sources = stamps;
    }
    Ok((fw, !up_to_date))
}

/// The archive's inputs: app beam contents, framework key and the stdlib
/// files' names, sizes and modification times.
fn pack_key(app: &[PathBuf], fw_key: &str, stdlib: &[PathBuf]) -> Result<String> {
    let mut h = Sha256::new();
    h.update(crate::state::tool_key());
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
