//! What a build reports: the [`Summary`] the CLI prints (or writes as JSON
//! with `--json`) and the state file keeps, with the module counts, the
//! worker's files and sizes, each module's fate in the tree-shake and the
//! calls nothing answers. Plain values; the build fills them in.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Where a module came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    App,
    Framework,
    Stdlib,
}

/// One module's fate in the tree-shake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleFate {
    pub module: String,
    pub origin: Origin,
    pub kept: bool,
    /// For a kept module: one module that reaches it (`None` for the start).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept_by: Option<String>,
    /// For a kept module: the function-level reason (`Router.words/1 calls
    /// String.split/2`, `an atom in ... names it`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// Left out before the tree-shake: needs what the WASI runtime lacks.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unsupported: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleCounts {
    pub app: usize,
    pub framework: usize,
    pub stdlib: usize,
    pub total: usize,
    /// Candidates the tree-shake left out.
    pub dropped: usize,
    /// Stdlib modules left out as unusable under WASI (see
    /// [`WASI_UNSUPPORTED`](crate::collect::WASI_UNSUPPORTED)).
    #[serde(default)]
    pub unsupported: usize,
}

/// A file of the worker as it will be uploaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerFile {
    /// Relative to the project root.
    pub path: String,
    pub bytes: u64,
    pub gzip_bytes: u64,
}

/// What a build produced; printed by the CLI, or as JSON with `--json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub project: String,
    pub root: PathBuf,
    pub startup_module: String,
    pub modules: ModuleCounts,
    /// The kept modules, in archive order.
    pub module_list: Vec<String>,
    pub files: Vec<WorkerFile>,
    pub app_avm_bytes: u64,
    pub atomvm_wasm_bytes: u64,
    /// The opcodes the worker's interpreter still dispatches, of those the
    /// runtime's handles.
    #[serde(default)]
    pub opcodes: crate::boot::OpcodeCut,
    /// The BIFs and NIFs the worker's copy keeps, of those the runtime
    /// names.
    #[serde(default)]
    pub natives: crate::boot::NativeCut,
    pub gzip_total_bytes: u64,
    pub free_limit_bytes: u64,
    pub paid_limit_bytes: u64,
    pub warnings: Vec<String>,
    /// Calls inside the framework's and the stdlib's own code, on paths the
    /// app reaches, that nothing on this runtime answers (the framework's
    /// BEAM-only I/O, deprecation warnings, compile-time helpers): they fail
    /// only if those paths run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stdlib_unresolved: Vec<Unresolved>,
    /// elixirc ran for the application in this build.
    pub compiled: bool,
    /// The archive was (re)written in this build.
    pub packed: bool,
    pub elapsed_ms: u64,
    /// With `--explain`: every candidate module, kept or dropped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explain: Option<Vec<ModuleFate>>,
}

/// One call nothing answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unresolved {
    /// `Module.fun/arity` of the caller.
    pub caller: String,
    /// Where the caller comes from.
    pub origin: Origin,
    /// `Module.fun/arity` of the callee.
    pub target: String,
    /// Why it cannot be answered.
    pub reason: String,
    /// For a call the app reaches through a stdlib function it calls: that
    /// function, and the function of the same module that makes the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<(String, String)>,
}

impl std::fmt::Display for Unresolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let origin = match self.origin {
            Origin::App => "the app",
            Origin::Framework => "the framework",
            Origin::Stdlib => "the stdlib",
        };
        match &self.via {
            None => write!(f, "{} ({origin}) calls {}", self.caller, self.target)?,
            Some((entry, inner)) if entry == inner => write!(
                f,
                "{} ({origin}) calls {entry}, which calls {}",
                self.caller, self.target
            )?,
            Some((entry, inner)) => write!(
                f,
                "{} ({origin}) calls {entry}, through which {inner} calls {}",
                self.caller, self.target
            )?,
        }
        write!(f, ": {}", self.reason)
    }
}

/// `Elixir.MyApp` → `MyApp`; Erlang modules stay as they are.
pub fn display_module(name: &str) -> &str {
    name.strip_prefix("Elixir.").unwrap_or(name)
}
