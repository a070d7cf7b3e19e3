//! The build state file (`_build/.elixir-workers/state.json`): what the
//! last successful steps saw, so the next build can skip them.
//!
//! A missing or unreadable state file only costs a full build.

use crate::summary::Summary;
use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const FILE: &str = "state.json";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// The elixir-workers binary that wrote this state ([`tool_key`]).
    pub toolchain: String,
    pub framework_key: String,
    pub sources: Vec<SourceStamp>,
    pub pack_key: String,
    pub archive: Option<FileStamp>,
    pub wasm: Option<WasmStamp>,
    pub summary: Option<Summary>,
    /// What `_build/consolidated/` was made from (see `protocols::key`).
    #[serde(default)]
    pub consolidated_key: String,
}

/// A source file as last compiled. Size and mtime are a shortcut: when they
/// match, the recorded hash is trusted; otherwise the file is hashed again,
/// so touching a file without changing it does not recompile.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SourceStamp {
    pub path: String,
    pub sha256: String,
    #[serde(skip)]
    pub size: u64,
    #[serde(skip)]
    pub mtime_ns: u64,
}

impl PartialEq for SourceStamp {
    /// Same file, same content; size and mtime are only a shortcut.
    fn eq(&self, other: &Self) -> bool {
        self.path == other.path && self.sha256 == other.sha256
    }
}

impl Eq for SourceStamp {}

/// Size/mtime of a source file as a separate record: kept outside
/// `SourceStamp` equality so a touch alone does not count as a change.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Meta {
    path: String,
    size: u64,
    mtime_ns: u64,
}

/// A file we wrote, to notice when someone else replaced it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStamp {
    pub size: u64,
    pub mtime_ns: u64,
    pub sha256: String,
}

impl FileStamp {
    pub fn of(path: &Path, bytes: &[u8]) -> Result<FileStamp> {
        let meta = path
            .metadata()
            .with_context(|| format!("could not read {}", path.display()))?;
        Ok(FileStamp {
            size: meta.len(),
            mtime_ns: mtime_ns(&meta),
            sha256: ew_runtime::digest::sha256_hex(bytes),
        })
    }

    /// Still the file we wrote (same size and modification time)?
    pub fn matches(&self, path: &Path) -> bool {
        path.metadata()
            .is_ok_and(|m| m.len() == self.size && mtime_ns(&m) == self.mtime_ns)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceMeta {
    pub path: String,
    pub size: u64,
    pub mtime_ns: u64,
}

/// The worker's `atomvm.wasm` and `boot.bin` as last written: made from the
/// runtime's module (`source`) and the archive with sha256 `archive`, by
/// the binary [`tool_key`] names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WasmStamp {
    #[serde(default)]
    pub tool: String,
    pub source: SourceMeta,
    pub archive: String,
    pub copy: FileStamp,
    pub gzip_bytes: u64,
    pub image: FileStamp,
    pub image_gzip_bytes: u64,
    /// How far the worker's copy of the interpreter was cut.
    #[serde(default)]
    pub opcodes: crate::boot::OpcodeCut,
    /// How many of the runtime's BIFs and NIFs the worker's copy keeps.
    #[serde(default)]
    pub natives: crate::boot::NativeCut,
}

#[derive(Serialize, Deserialize)]
struct OnDisk {
    #[serde(flatten)]
    state: State,
    source_meta: Vec<Meta>,
}

impl State {
    pub fn load(dir: &Path) -> State {
        let Ok(text) = std::fs::read_to_string(dir.join(FILE)) else {
            return State::default();
        };
        let Ok(disk) = serde_json::from_str::<OnDisk>(&text) else {
            return State::default();
        };
        let mut state = disk.state;
        let meta: HashMap<&str, &Meta> = disk
            .source_meta
            .iter()
            .map(|m| (m.path.as_str(), m))
            .collect();
        for s in &mut state.sources {
            if let Some(m) = meta.get(s.path.as_str()) {
                s.size = m.size;
                s.mtime_ns = m.mtime_ns;
            }
        }
        state
    }

    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("could not create {}", dir.display()))?;
        let disk = OnDisk {
            state: self.clone(),
            source_meta: self
                .sources
                .iter()
                .map(|s| Meta {
                    path: s.path.clone(),
                    size: s.size,
                    mtime_ns: s.mtime_ns,
                })
                .collect(),
        };
        let text = serde_json::to_vec_pretty(&disk).context("could not encode the build state")?;
        crate::atomic::write(&dir.join(FILE), &text)
    }
}

pub fn mtime_ns(meta: &std::fs::Metadata) -> u64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Stamps the current sources, hashing only files whose size or mtime
/// differ from the previous stamp.
pub fn stamp_sources(
    root: &Path,
    sources: &[PathBuf],
    previous: &[SourceStamp],
) -> Result<Vec<SourceStamp>> {
    let prev: HashMap<&str, &SourceStamp> = previous.iter().map(|s| (s.path.as_str(), s)).collect();
    let mut out = Vec::with_capacity(sources.len());
    for path in sources {
        let rel = path
            .strip_prefix(root)
            .unwrap_or(path)
            .display()
            .to_string();
        let meta = path
            .metadata()
            .with_context(|| format!("could not read {}", path.display()))?;
        let (size, mtime) = (meta.len(), mtime_ns(&meta));
        let sha256 = match prev.get(rel.as_str()) {
            Some(p) if p.size == size && p.mtime_ns == mtime && mtime != 0 => p.sha256.clone(),
            _ => {
                let bytes = std::fs::read(path)
                    .with_context(|| format!("could not read {}", path.display()))?;
                ew_runtime::digest::sha256_hex(&bytes)
            }
        };
        out.push(SourceStamp {
            path: rel,
            sha256,
            size,
            mtime_ns: mtime,
        });
    }
    Ok(out)
}

/// Which elixir-workers binary made an output: its version, and the size
/// and modification time of its executable. Two builds of one version can
/// cut, pack and lay out differently (a development build, a reinstall), so
/// outputs cached by one are not taken for another's.
pub fn tool_key() -> &'static str {
    static KEY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        let version = env!("CARGO_PKG_VERSION");
        let exe = std::env::current_exe().and_then(|p| p.metadata());
        match exe {
            Ok(meta) => format!("{version}+{}.{}", meta.len(), mtime_ns(&meta)),
            Err(_) => version.to_string(),
        }
    })
}
