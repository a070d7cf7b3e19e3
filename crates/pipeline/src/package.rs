//! `package`: the built worker as one `.tar.gz` for CI artifact stores.
//!
//! The archive holds `_build/worker/**` and `wrangler.jsonc` at the same
//! relative paths as in the project (so `wrangler deploy` works in the
//! unpacked directory) plus `elixir-workers-manifest.json`.

use crate::build::{build, BuildOptions};
use crate::project::Project;
use crate::runtime::Runtime;
use crate::summary::Summary;
use crate::Reporter;
use anyhow::{Context as _, Result};
use ew_runtime::digest::sha256_hex;
use serde::Serialize;
use std::path::{Path, PathBuf};

pub const MANIFEST_NAME: &str = "elixir-workers-manifest.json";

#[derive(Debug, Clone)]
pub struct PackageOptions {
    pub build: BuildOptions,
    pub output: PathBuf,
}

#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    pub toolchain_version: String,
    pub project: String,
    pub startup_module: String,
    pub runtime_sha256: String,
    /// `runtime.json` of the runtime used, when it has one.
    pub runtime: Option<serde_json::Value>,
    pub modules: Vec<String>,
    pub files: Vec<ManifestFile>,
    pub gzip_total_bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ManifestFile {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

/// Builds, then writes the package; returns the summary and the manifest.
pub fn package(
    project: &Project,
    opts: &PackageOptions,
    report: Reporter<'_>,
) -> Result<(Summary, Manifest)> {
    let summary = build(project, &opts.build, report)?;
    let runtime = Runtime::locate()?;
    let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
    let worker = project.worker_dir();
    for entry in walkdir::WalkDir::new(&worker).sort_by_file_name() {
        let entry = entry.with_context(|| format!("could not list {}", worker.display()))?;
        if entry.file_type().is_file() {
            let bytes = std::fs::read(entry.path())
                .with_context(|| format!("could not read {}", entry.path().display()))?;
            entries.push((relative(project, entry.path()), bytes));
        }
    }
    let config = project
        .wrangler_config()
        .with_context(|| format!("{} has no wrangler.jsonc", project.root.display()))?;
    let bytes =
        std::fs::read(&config).with_context(|| format!("could not read {}", config.display()))?;
    entries.push((relative(project, &config), bytes));

    let wasm = std::fs::read(runtime.wasm())
        .with_context(|| format!("could not read {}", runtime.wasm().display()))?;
    let manifest = Manifest {
        toolchain_version: env!("CARGO_PKG_VERSION").to_string(),
        project: summary.project.clone(),
        startup_module: summary.startup_module.clone(),
        runtime_sha256: sha256_hex(&wasm),
        runtime: runtime.info.clone(),
        modules: summary.module_list.clone(),
        files: entries
            .iter()
            .map(|(path, bytes)| ManifestFile {
                path: path.clone(),
                bytes: bytes.len() as u64,
                sha256: sha256_hex(bytes),
            })
            .collect(),
        gzip_total_bytes: summary.gzip_total_bytes,
    };
    let json = serde_json::to_vec_pretty(&manifest).context("could not encode the manifest")?;
    entries.push((MANIFEST_NAME.to_string(), json));
    ew_runtime::bundle::write_tar_gz(&opts.output, &entries)?;
    Ok((summary, manifest))
}

fn relative(project: &Project, path: &Path) -> String {
    path.strip_prefix(&project.root)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}
