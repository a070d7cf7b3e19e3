//! Helpers shared by the fixture tests (included with `mod common;`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The workspace root, so fixture paths read the same as in messages.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Every fixture set under `fixtures/packs/`: (name, directory).
pub fn pack_sets() -> Vec<(String, PathBuf)> {
    let mut sets: Vec<_> = std::fs::read_dir(root().join("fixtures/packs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("ebin").is_dir())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    sets.sort();
    assert!(!sets.is_empty(), "no fixture sets found");
    sets
}

/// The startup file name of a set (its `start` file).
pub fn start_of(set: &Path) -> String {
    std::fs::read_to_string(set.join("start"))
        .unwrap()
        .trim()
        .to_owned()
}

/// The `.beam` files of a set's `ebin/`, sorted.
pub fn beams(set: &Path) -> Vec<PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(set.join("ebin"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "beam"))
        .collect();
    v.sort();
    v
}

/// The bad inputs with the given extension and their expected error line,
/// as workspace-relative paths.
pub fn bad_cases(ext: &str) -> Vec<(String, String)> {
    let dir = root().join("fixtures/bad");
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(&format!(".{ext}")))
        .map(|n| {
            let expected = std::fs::read_to_string(dir.join(format!("{n}.err")))
                .unwrap_or_else(|_| panic!("fixtures/bad/{n} has no {n}.err"));
            (format!("fixtures/bad/{n}"), expected.trim_end().to_owned())
        })
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no bad .{ext} fixtures");
    v
}

pub const REGENERATE: &str =
    "cargo xtask parity --reference PATH/TO/pack_avm.py --bless   (after fixtures/compile.sh if sources changed)";
