//! The candidates of a shake: which modules may go into an archive, from
//! where, in which priority, and which are never candidates (what AtomVM
//! cannot load, Elixir's compiler, what needs what WASI lacks). Reading a
//! candidate parses it once for everything the shake and the packer need.

use crate::framework;
use crate::runtime::Runtime;
use crate::summary::Origin;
use crate::toolchain::Toolchain;
use anyhow::{Context as _, Result};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The marker function `use ElixirWorkers.App` defines in the startup module.
pub const APP_MARKER: (&str, u32) = ("__elixir_workers_app__", 0);

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

/// The module taken from OTP's `kernel` the same way: `inet_parse`, which the
/// runtime's `inet` (IP address parsing only) calls, as OTP's does, for
/// `uri_string`'s IPv4 and IPv6 hosts (`URI.new/1`).
pub const OTP_KERNEL_MODULES: &[&str] = &["inet_parse"];

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
    "net",
    "net_kernel",
    "net_kernel_sup",
    "socket",
    "socket_dist",
    "socket_dist_controller",
    "ssl",
];

/// The stdlib candidates every app is shaken against, in the files the
/// build keys its archive on.
#[derive(Debug, Clone)]
pub struct Library {
    /// Elixir's own ebin, minus what AtomVM cannot load, Elixir's compiler
    /// and what the runtime's stdlib replaces.
    pub elixir: Vec<PathBuf>,
    /// The [`OTP_MODULES`] of OTP's `stdlib` and the
    /// [`OTP_KERNEL_MODULES`] of its `kernel` that this installation has.
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
        let otp = [
            (&toolchain.otp_stdlib_ebin, OTP_MODULES),
            (&toolchain.otp_kernel_ebin, OTP_KERNEL_MODULES),
        ]
        .into_iter()
        .filter_map(|(dir, modules)| Some((dir.as_ref()?, modules)))
        .flat_map(|(dir, modules)| modules.iter().map(|m| dir.join(format!("{m}.beam"))))
        .filter(|p| p.is_file())
        .collect();
        Ok(Library {
            elixir,
            otp,
            runtime: runtime.stdlib_beams()?,
        })
    }

    /// Every file, in the order the archive's key hashes them.
    pub(crate) fn files(&self) -> Vec<PathBuf> {
        self.runtime
            .iter()
            .chain(&self.elixir)
            .chain(&self.otp)
            .cloned()
            .collect()
    }
}

pub(crate) struct Candidate {
    pub(crate) name: String,
    pub(crate) origin: Origin,
    pub(crate) consolidated: bool,
    pub(crate) path: PathBuf,
    pub(crate) bytes: Vec<u8>,
    pub(crate) refs: avm::ModuleRefs,
    pub(crate) code: Option<avm::code::CodeRefs>,
    pub(crate) is_app_entry: bool,
}

/// Where a group of candidate beams comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// Protocols consolidated at build time: they replace the protocol of
    /// the same name wherever it came from (and take its origin).
    Consolidated,
    Origin(Origin),
}

/// Reads and parses every candidate, groups in priority order: a module
/// defined twice keeps the first group's copy (consolidated protocols, then
/// the application, the framework, Elixir's stdlib, the runtime's stdlib).
pub(crate) fn collect(groups: &[(Source, &[PathBuf])]) -> Result<Collected> {
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

pub(crate) struct Collected {
    pub(crate) candidates: Vec<Candidate>,
    /// Stdlib modules left out as unusable under WASI.
    pub(crate) unsupported: Vec<String>,
}

/// Why a module that code calls is not among the candidates.
pub(crate) fn left_out(module: &str) -> Option<&'static str> {
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
