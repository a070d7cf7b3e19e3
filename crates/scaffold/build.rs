//! Embeds `crates/scaffold/templates/**` into the binary so that an installed
//! `elixir-workers` needs no files from the source tree.
//!
//! A generated table of `(relative path, contents)` is used instead of a
//! directory-embedding crate so that the template list is plain Rust data we
//! can sort and test, and so a missing directory is a clear build error.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.join("templates");
    let root = root.canonicalize().unwrap_or_else(|e| {
        panic!(
            "crates/scaffold/templates not found at {}: {e}",
            root.display()
        )
    });
    println!("cargo:rerun-if-changed={}", root.display());

    let mut files = Vec::new();
    collect(&root, &root, &mut files);
    files.sort();

    let mut out = String::from("/// Every file under `crates/scaffold/templates/`, sorted by path.\npub static TEMPLATES: &[(&str, &str)] = &[\n");
    for (rel, abs) in &files {
        println!("cargo:rerun-if-changed={}", abs.display());
        writeln!(
            out,
            "    ({rel:?}, include_str!({:?})),",
            abs.display().to_string()
        )
        .unwrap();
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("templates.rs");
    std::fs::write(dest, out).unwrap();
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(root, &path, files);
        } else {
            let rel = path.strip_prefix(root).unwrap();
            let rel = rel
                .components()
                .map(|c| c.as_os_str().to_str().expect("template paths are UTF-8"))
                .collect::<Vec<_>>()
                .join("/");
            files.push((rel, path));
        }
    }
}
