//! Finding the runtime: `$ELIXIR_WORKERS_RUNTIME`, else the user cache under
//! the binary's runtime id. Never a source tree. A found runtime tells what
//! it holds: its stdlib's beams and, from `runtime.json`, the BIFs and NIFs
//! the VM answers itself.

use anyhow::{bail, Context as _, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The environment variable that points at a runtime directory.
pub const RUNTIME_ENV: &str = "ELIXIR_WORKERS_RUNTIME";

/// Where a runtime came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// `$ELIXIR_WORKERS_RUNTIME`.
    Env,
    /// The user cache, under the binary's runtime id.
    Cache,
    /// Just built.
    Built,
    /// Just installed from a runtime archive.
    Installed,
}

/// A runtime directory that has the files a build needs.
#[derive(Debug, Clone)]
pub struct Runtime {
    pub dir: PathBuf,
    pub origin: Origin,
    /// `runtime.json`, when present.
    pub info: Option<serde_json::Value>,
}

impl Runtime {
    /// `$ELIXIR_WORKERS_RUNTIME` when set, else the cache directory of the
    /// binary's runtime id; the error says how to get one.
    pub fn locate() -> Result<Runtime> {
        if let Some(dir) = std::env::var_os(RUNTIME_ENV).filter(|v| !v.is_empty()) {
            let dir = PathBuf::from(dir);
            return Runtime::open(&dir, Origin::Env)
                .with_context(|| format!("{RUNTIME_ENV}={} is not a runtime", dir.display()));
        }
        let dir = Runtime::default_dir()?;
        if !dir.join("runtime.json").is_file() {
            bail!("{}", missing(&dir));
        }
        Runtime::open(&dir, Origin::Cache)
    }

    /// Where this binary's runtime is installed: the cache under its id.
    pub fn default_dir() -> Result<PathBuf> {
        crate::cache::runtime_dir(&crate::runtime_id())
    }

    /// Whether a runtime would be found without building or installing one.
    pub fn is_available() -> bool {
        Runtime::locate().is_ok()
    }

    /// Checks that `dir` holds `atomvm.wasm` and `stdlib/`.
    pub fn open(dir: &Path, origin: Origin) -> Result<Runtime> {
        let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        let wasm = dir.join("atomvm.wasm");
        anyhow::ensure!(wasm.is_file(), "{} is missing", wasm.display());
        let stdlib = dir.join("stdlib");
        anyhow::ensure!(stdlib.is_dir(), "{} is missing", stdlib.display());
        let json = dir.join("runtime.json");
        let info = if json.is_file() {
            let text = std::fs::read_to_string(&json)
                .with_context(|| format!("could not read {}", json.display()))?;
            Some(
                serde_json::from_str(&text)
                    .with_context(|| format!("{} is not valid JSON", json.display()))?,
            )
        } else {
            None
        };
        Ok(Runtime { dir, origin, info })
    }

    /// The id recorded in `runtime.json`.
    pub fn id(&self) -> Option<&str> {
        self.info.as_ref()?.get("id")?.as_str()
    }

    /// Whether this is the runtime the binary was made for.
    pub fn matches_binary(&self) -> bool {
        self.id() == Some(crate::runtime_id().as_str())
    }

    /// The functions the VM answers itself (BIFs and NIFs), when
    /// `runtime.json` lists them.
    pub fn native_functions(&self) -> Option<NativeFunctions> {
        serde_json::from_value(self.info.as_ref()?.get("functions")?.clone()).ok()
    }

    pub fn wasm(&self) -> PathBuf {
        self.dir.join("atomvm.wasm")
    }

    pub fn stdlib_dir(&self) -> PathBuf {
        self.dir.join("stdlib")
    }

    /// The stdlib's `.beam` files, sorted.
    pub fn stdlib_beams(&self) -> Result<Vec<PathBuf>> {
        sorted_files(&self.stdlib_dir(), "beam")
    }
}

/// The BIFs and NIFs of a runtime, as `module:function/arity`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NativeFunctions {
    pub bifs: Vec<String>,
    pub nifs: Vec<String>,
}

/// What to do when there is no runtime at `dir`.
pub fn missing(dir: &Path) -> String {
    format!(
        "no AtomVM runtime {} at {}; get it with one of:\n  \
         elixir-workers runtime install   # the prebuilt runtime of this release\n  \
         elixir-workers runtime build     # from AtomVM's source (needs clang, wasi-libc, gperf)\n\
         or set {RUNTIME_ENV} to a runtime directory",
        crate::runtime_id(),
        dir.display()
    )
}

/// What `runtime status` and `doctor` show.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// The runtime id this binary needs.
    pub id: String,
    /// Where it would be installed.
    pub default_dir: PathBuf,
    /// The runtime in use, if any.
    pub dir: Option<PathBuf>,
    pub origin: Option<Origin>,
    /// The id recorded in the runtime in use.
    pub found_id: Option<String>,
    /// The runtime in use is the binary's.
    pub matches: bool,
    /// Built from a source tree that is not the pinned commit's.
    pub modified: bool,
    /// Why there is none, or what is wrong with it.
    pub problem: Option<String>,
}

/// Which runtime would be used, and whether it matches the binary.
pub fn status() -> Status {
    let id = crate::runtime_id();
    let default_dir = Runtime::default_dir().unwrap_or_default();
    match Runtime::locate() {
        Ok(rt) => {
            let found_id = rt.id().map(str::to_string);
            let matches = rt.matches_binary();
            let modified = rt
                .info
                .as_ref()
                .and_then(|i| i.get("modified"))
                .and_then(|m| m.as_bool())
                .unwrap_or(false);
            Status {
                problem: (!matches).then(|| {
                    format!(
                        "this runtime is {}, the binary needs {id}; run `elixir-workers runtime \
                         install` or `elixir-workers runtime build`",
                        found_id.as_deref().unwrap_or("of an unknown id")
                    )
                }),
                id,
                default_dir,
                dir: Some(rt.dir),
                origin: Some(rt.origin),
                found_id,
                matches,
                modified,
            }
        }
        Err(e) => Status {
            id,
            default_dir,
            dir: None,
            origin: None,
            found_id: None,
            matches: false,
            modified: false,
            problem: Some(format!("{e:#}")),
        },
    }
}

/// The `*.ext` files of `dir`, sorted. An entry with that extension that
/// cannot be read as a file (a dangling symlink, say) is an error, never
/// skipped: a missing module would only show at run time.
pub(crate) fn sorted_files(dir: &Path, ext: &str) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry
            .with_context(|| format!("listing {}", dir.display()))?
            .path();
        if path.extension() != Some(std::ffi::OsStr::new(ext)) {
            continue;
        }
        let meta =
            std::fs::metadata(&path).with_context(|| format!("cannot read {}", path.display()))?;
        if meta.is_file() {
            files.push(path);
        } else if !meta.is_dir() {
            bail!("cannot read {}: not a regular file", path.display());
        }
    }
    files.sort();
    if files.is_empty() {
        bail!("no .{ext} files in {}", dir.display());
    }
    Ok(files)
}
