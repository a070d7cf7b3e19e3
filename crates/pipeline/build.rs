//! Embeds the Elixir framework sources (`crates/pipeline/framework/lib/**/*.ex`) and the
//! JS worker shim (`crates/pipeline/worker/src/**`) into the binary, so an installed
//! `elixir-workers` needs nothing from the source tree but the runtime.
//!
//! Both live inside this crate, so a packaged crate embeds them too; a
//! missing or empty directory fails the build here rather than shipping a
//! binary without its framework.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let mut out = String::new();
    table(
        &mut out,
        "FRAMEWORK",
        &manifest.join("framework/lib"),
        Some("ex"),
    );
    table(&mut out, "WORKER", &manifest.join("worker/src"), None);
    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("embedded.rs");
    std::fs::write(dest, out).unwrap();
}

fn table(out: &mut String, name: &str, dir: &Path, ext: Option<&str>) {
    // Watching the directory (or its parent while it does not exist yet)
    // re-runs this script when files appear, change or go away.
    let watch = if dir.exists() {
        dir.to_path_buf()
    } else {
        dir.parent().unwrap().to_path_buf()
    };
    println!("cargo:rerun-if-changed={}", watch.display());
    let mut files = Vec::new();
    assert!(dir.is_dir(), "{} is missing", dir.display());
    collect(dir, dir, ext, &mut files);
    assert!(!files.is_empty(), "no files to embed in {}", dir.display());
    files.sort();
    writeln!(out, "pub static {name}: &[(&str, &[u8])] = &[").unwrap();
    for (rel, abs) in &files {
        println!("cargo:rerun-if-changed={}", abs.display());
        writeln!(
            out,
            "    ({rel:?}, include_bytes!({:?})),",
            abs.display().to_string()
        )
        .unwrap();
    }
    out.push_str("];\n");
}

fn collect(root: &Path, dir: &Path, ext: Option<&str>, files: &mut Vec<(String, PathBuf)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(root, &path, ext, files);
        } else if ext.is_none_or(|ext| path.extension().is_some_and(|e| e == ext)) {
            let rel = path.strip_prefix(root).unwrap();
            let rel = rel
                .components()
                .map(|c| c.as_os_str().to_str().expect("embedded paths are UTF-8"))
                .collect::<Vec<_>>()
                .join("/");
            files.push((rel, path));
        }
    }
}
