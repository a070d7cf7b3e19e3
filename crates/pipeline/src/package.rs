//! `package`: the built worker as one `.tar.gz` for CI artifact stores.
//!
//! The archive holds `_build/worker/**`, the static assets' directory
//! (`public/**`) and `wrangler.jsonc` at the same relative paths as in the
//! project (so `wrangler deploy` works in the unpacked directory) plus
//! `elixir-workers-manifest.json`.

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
    add_dir(project, &project.worker_dir(), &mut entries)?;
    let config = project
        .wrangler_config()
        .with_context(|| format!("{} has no wrangler.jsonc", project.root.display()))?;
    if let Some(assets) = assets_dir(project, &config)? {
        add_dir(project, &assets, &mut entries)?;
    }
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

/// Every file under `dir`, by path relative to the project.
fn add_dir(project: &Project, dir: &Path, entries: &mut Vec<(String, Vec<u8>)>) -> Result<()> {
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.with_context(|| format!("could not list {}", dir.display()))?;
        if entry.file_type().is_file() {
            let bytes = std::fs::read(entry.path())
                .with_context(|| format!("could not read {}", entry.path().display()))?;
            entries.push((relative(project, entry.path()), bytes));
        }
    }
    Ok(())
}

/// `assets.directory` of a JSON(C) wrangler config, when it is a directory
/// inside the project (wrangler refuses to deploy without it).
fn assets_dir(project: &Project, config: &Path) -> Result<Option<PathBuf>> {
    if config.extension().is_some_and(|e| e == "toml") {
        return Ok(None);
    }
    let value = crate::jsonc::read(config)?;
    let Some(dir) = value["assets"]["directory"].as_str() else {
        return Ok(None);
    };
    let dir = project.root.join(dir);
    let inside = dir.canonicalize().is_ok_and(|d| {
        d.is_dir() && d.starts_with(project.root.canonicalize().unwrap_or_default())
    });
    Ok(inside.then_some(dir))
}

fn relative(project: &Project, path: &Path) -> String {
    path.strip_prefix(&project.root)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}
