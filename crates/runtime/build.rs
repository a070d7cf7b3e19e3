//! Embeds the adapter's sources into the library, so that an installed
//! binary builds the runtime with no checkout of this repository: the C
//! sources and headers of `atomvm-wasi/src/` and the Erlang modules of
//! `atomvm-wasi/lib/` that the runtime's stdlib adds to AtomVM's. The files
//! sit inside this crate, so a packaged crate embeds them too.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("atomvm-wasi");
    let mut out = String::new();
    let adapter = embed(&mut out, "ADAPTER", &root.join("src"), |_| true);
    assert!(adapter > 0, "no adapter sources in {}", root.display());
    embed(&mut out, "STDLIB", &root.join("lib"), |p| {
        p.extension().is_some_and(|e| e == "erl")
    });
    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("adapter.rs");
    std::fs::write(dest, out).unwrap();
}

/// `pub static NAME: &[(file name, bytes)]` for the files of `dir` (not its
/// subdirectories) that `keep` accepts, sorted by name; returns how many.
fn embed(out: &mut String, name: &str, dir: &Path, keep: impl Fn(&Path) -> bool) -> usize {
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file() && keep(p))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => panic!("listing {}: {e}", dir.display()),
    };
    files.sort();
    writeln!(out, "pub static {name}: &[(&str, &[u8])] = &[").unwrap();
    for path in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        let file = path
            .file_name()
            .unwrap()
            .to_str()
            .expect("UTF-8 file names");
        writeln!(
            out,
            "    ({file:?}, include_bytes!({:?})),",
            path.display().to_string()
        )
        .unwrap();
    }
    out.push_str("];\n");
    files.len()
}
