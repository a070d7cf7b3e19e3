//! From compiled beams to an archive, the one way whoever asks: collect the
//! candidates ([`crate::collect`]), shake them from the startup module
//! function by function, check the calls that remain against the runtime,
//! cut the functions nothing reaches and pack with `avm::pack`.

use crate::collect::{collect, left_out, Candidate, Collected, Library, Source, APP_MARKER};
use crate::framework;
use crate::runtime::Runtime;
use crate::summary::{display_module, ModuleCounts, ModuleFate, Origin, Unresolved};
use crate::toolchain::Toolchain;
use anyhow::{Context as _, Result};
use std::collections::BTreeMap;
use std::path::Path;

/// What the runtime's return addresses can hold: modules in an archive,
/// bytes of instructions and labels in a module (see the runtime's
/// settings, `CP_MODULE_BITS`).
pub use ew_runtime::settings::{CP_MODULE_BITS, MAX_CODE_BYTES, MAX_LABELS, MAX_MODULES};

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
    /// Where OTP's `unicode_util` with compact tables is kept
    /// ([`crate::unicode`]).
    pub unicode: &'a Path,
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
    let mut warnings = Vec::new();
    let otp_unicode = library
        .otp
        .iter()
        .find(|p| p.file_stem().is_some_and(|s| s == crate::unicode::MODULE));
    let unicode = match otp_unicode {
        Some(otp) => {
            crate::unicode::compact_tables(req.root, req.unicode, otp).unwrap_or_else(|e| {
                warnings.push(format!(
                    "{} keeps OTP's own tables, about 260 KB when reached: {e:#}",
                    crate::unicode::MODULE
                ));
                Vec::new()
            })
        }
        None => Vec::new(),
    };
    let collected = collect(&[
        (Source::Consolidated, &consolidated),
        (Source::Origin(Origin::App), &app_beams),
        (Source::Origin(Origin::Framework), &fw_beams),
        (Source::Origin(Origin::Stdlib), &library.elixir),
        (Source::Origin(Origin::Stdlib), &unicode),
        (Source::Origin(Origin::Stdlib), &library.otp),
        (Source::Origin(Origin::Stdlib), &library.runtime),
    ])?;
    let check = CallCheck {
        native: req.runtime.native_functions(),
        allow: req.allow_unresolved,
        keep: req.keep.clone(),
    };
    let mut packed = shake_and_pack(req.sources, &collected, &check, req.explain)?;
    packed.warnings.splice(0..0, warnings);
    Ok(packed)
}

/// How the shake's calls are checked.
struct CallCheck {
    /// The runtime's BIFs and NIFs (`None`: a runtime that does not list
    /// them; nothing is checked).
    native: Option<ew_runtime::locate::NativeFunctions>,
    allow: bool,
    keep: Vec<String>,
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
        |i| candidates[i].origin == Origin::App,
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
            &app_reach(candidates, &shaken),
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
             a return address keeps a module's index in its top {CP_MODULE_BITS} bits, so a call \
             returning into module {MAX_MODULES} or later would land in the wrong module \
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
                    avm::code::strip_functions(&beam, code, keep, avm::DEFAULT_INFLATE_CAP)
                        .with_context(|| {
                            format!("cutting unused functions from {}", c.path.display())
                        })?
                }
                _ => c.bytes.clone(),
            };
            // The atoms, imports and literals only cut functions used go too.
            // AtomVM's interpreter reads a typed register operand's register
            // and skips its type; only its JIT (which the runtime does not
            // have) reads the `Type` chunk those types index. The archive
            // keeps no `Line` chunk, so the `line` instructions, which AtomVM
            // decodes each time they run, index nothing and go as well.
            let read = |bytes: &[u8]| -> Result<Vec<u8>> {
                let beam = avm::Beam::parse(bytes)?;
                Ok(avm::code::compact_tables(
                    &beam,
                    &[avm::beam::TYPE, avm::beam::LINE],
                )?)
            };
            // A module whose code did not decode is packed as it is.
            let bytes = match c.code {
                Some(_) => read(&bytes)
                    .with_context(|| format!("compacting the tables of {}", c.path.display()))?,
                None => bytes,
            };
            Ok(avm::PackInput {
                path: c.path.clone(),
                bytes,
                start: c.name == start,
            })
        })
        .collect::<Result<_>>()?;
    for input in &inputs {
        check_extent(input)?;
    }
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

/// What the app's shipped functions call, for the calls the app makes
/// happen inside the stdlib functions it calls ([`crate::calls::AppReach`]).
fn app_reach<'c>(
    candidates: &'c [Candidate],
    shaken: &'c avm::FunctionPruned,
) -> crate::calls::AppReach<'c> {
    let reached_of: BTreeMap<&str, &Vec<bool>> = shaken
        .pruned
        .kept
        .iter()
        .zip(&shaken.reached)
        .filter_map(|(k, r)| Some((k.name.as_str(), r.as_ref()?)))
        .collect();
    let app_calls = candidates
        .iter()
        .filter(|c| c.origin == Origin::App)
        .filter_map(|c| Some((c.name.as_str(), c.code.as_ref()?)))
        .flat_map(|(name, code)| {
            let reached = reached_of.get(name).copied();
            code.functions
                .iter()
                .enumerate()
                .filter(move |(i, _)| reached.is_some_and(|r| r[*i]))
                .flat_map(move |(_, f)| {
                    f.external
                        .iter()
                        .map(move |t| (name, f.name.as_str(), f.arity, t))
                })
        });
    let stdlib_code: BTreeMap<&str, &avm::code::CodeRefs> = candidates
        .iter()
        .filter(|c| c.origin == Origin::Stdlib)
        .filter_map(|c| Some((c.name.as_str(), c.code.as_ref()?)))
        .collect();
    crate::calls::AppReach::new(app_calls, |m| stdlib_code.get(m).copied())
}

/// Refuses a module whose code a return address or a catch term of the
/// runtime cannot point into: more than [`MAX_CODE_BYTES`] of instructions
/// or [`MAX_LABELS`] labels.
fn check_extent(input: &avm::PackInput) -> Result<()> {
    let path = input.path.display();
    let beam = avm::Beam::parse(&input.bytes).with_context(|| format!("reading {path}"))?;
    let (bytes, labels) =
        avm::code::code_extent(&beam).with_context(|| format!("reading {path}"))?;
    extent_fits(&input.path, bytes, labels)
}

fn extent_fits(path: &Path, bytes: usize, labels: u32) -> Result<()> {
    if bytes > MAX_CODE_BYTES || labels as usize > MAX_LABELS {
        anyhow::bail!(
            "{}: {bytes} bytes of code and {labels} labels; the runtime can run a module \
             of at most {MAX_CODE_BYTES} bytes of code and {MAX_LABELS} labels (a return \
             address keeps the offset in {} bits, a catch term the label in {}): split the module",
            path.display(),
            MAX_CODE_BYTES.ilog2(),
            MAX_LABELS.ilog2()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello(labels: Option<u32>) -> avm::PackInput {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/packs/erlang/ebin/hello.beam");
        let mut bytes = std::fs::read(&path).unwrap();
        let at = avm::Beam::parse(&bytes)
            .unwrap()
            .chunk(avm::beam::CODE)
            .unwrap()
            .data_offset() as usize;
        if let Some(labels) = labels {
            // The code header's label count.
            bytes[at + 12..at + 16].copy_from_slice(&labels.to_be_bytes());
        }
        avm::PackInput {
            path,
            bytes,
            start: false,
        }
    }

    #[test]
    fn a_module_past_what_a_return_address_can_hold_is_refused() {
        check_extent(&hello(None)).unwrap();
        check_extent(&hello(Some(MAX_LABELS as u32))).unwrap();
        let err = check_extent(&hello(Some(MAX_LABELS as u32 + 1))).unwrap_err();
        assert!(err.to_string().contains("65537 labels"), "{err}");
        assert!(err.to_string().contains("hello.beam:"), "{err}");
        let path = Path::new("big.beam");
        extent_fits(path, MAX_CODE_BYTES, 0).unwrap();
        let err = extent_fits(path, MAX_CODE_BYTES + 1, 0).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("big.beam: 1048577 bytes of code"),
            "{err}"
        );
    }
}
