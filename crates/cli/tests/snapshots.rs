//! Snapshot tests: `new` as `in/` → `out/` directory trees (cargo's
//! `cargo_new` tests), and the `--help` texts.
//!
//! Regenerate after an intended change with
//! `SNAPSHOTS=overwrite cargo test -p elixir-workers --test snapshots`
//! and review the diff.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use test_support::cli::ew;
use test_support::{run, tempdir, Run};

fn snapshots() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots")
}

fn overwrite() -> bool {
    std::env::var("SNAPSHOTS").is_ok_and(|v| v == "overwrite")
}

/// Every file under `dir`, by relative path.
fn tree(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if !dir.exists() {
        return out;
    }
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let rel = entry
                .path()
                .strip_prefix(dir)
                .unwrap()
                .display()
                .to_string();
            out.insert(rel, std::fs::read_to_string(entry.path()).unwrap());
        }
    }
    out
}

fn copy_tree(from: &Path, to: &Path) {
    for (rel, text) in tree(from) {
        let path = to.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

/// Runs `elixir-workers ARGS` in a copy of `new/CASE/in` and compares the
/// resulting tree with `new/CASE/out`. Returns the run.
fn new_case(case: &str, args: &[&str]) -> Run {
    let dir = snapshots().join("new").join(case);
    let tmp = tempdir();
    let work = tmp.path().join("work");
    std::fs::create_dir(&work).unwrap();
    copy_tree(&dir.join("in"), &work);
    let no_runtime = tmp.path().join("unused-runtime");
    let result = run(ew(&work, &no_runtime).args(args));
    let actual = tree(&work);
    if overwrite() {
        let out = dir.join("out");
        if out.exists() {
            std::fs::remove_dir_all(&out).unwrap();
        }
        copy_tree(&work, &out);
        return result;
    }
    let expected = tree(&dir.join("out"));
    let actual_paths: Vec<_> = actual.keys().collect();
    let expected_paths: Vec<_> = expected.keys().collect();
    assert_eq!(
        actual_paths, expected_paths,
        "files differ for new/{case}\nstderr:\n{}",
        result.stderr
    );
    for (path, text) in &expected {
        assert_eq!(
            &actual[path], text,
            "new/{case}: {path} differs (SNAPSHOTS=overwrite to regenerate)"
        );
    }
    result
}

#[test]
fn new_default() {
    let out = new_case("default", &["new", "my_app", "--no-install"]).ok();
    assert!(
        out.stderr.contains("cd my_app") && out.stderr.contains("elixir-workers dev"),
        "next steps:\n{}",
        out.stderr
    );
}

#[test]
fn new_with_path_and_module() {
    new_case(
        "path_and_module",
        &[
            "new",
            "shop",
            "--path",
            "apps/storefront",
            "--module",
            "Acme.Shop",
            "--no-install",
        ],
    )
    .ok();
}

#[test]
fn new_refuses_an_existing_directory() {
    let out = new_case("existing", &["new", "taken", "--no-install"]);
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("destination already exists") && out.stderr.contains("taken"),
        "{}",
        out.stderr
    );
}

#[test]
fn new_refuses_bad_names() {
    for (name, why) in [
        ("MyApp", "must start with a lowercase letter"),
        ("my-app", "contains `-`"),
        ("9lives", "must start with a lowercase letter"),
        ("end", "reserved word"),
        ("enum", "shadow Elixir's own `Enum`"),
    ] {
        let out = new_case("bad_name", &["new", name, "--no-install"]);
        assert_eq!(out.code, Some(1), "{name}");
        assert!(out.stderr.contains(why), "{name}: {}", out.stderr);
    }
    let out = new_case(
        "bad_name",
        &["new", "ok_name", "--module", "lower.Case", "--no-install"],
    );
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("invalid module name"), "{}", out.stderr);
}

#[test]
fn help_texts() {
    let dir = snapshots().join("help");
    let tmp = tempdir();
    let cases: &[(&str, &[&str])] = &[
        ("top", &["--help"]),
        ("new", &["new", "--help"]),
        ("build", &["build", "--help"]),
        ("dev", &["dev", "--help"]),
        ("deploy", &["deploy", "--help"]),
        ("package", &["package", "--help"]),
        ("test", &["test", "--help"]),
        ("doctor", &["doctor", "--help"]),
        ("completions", &["completions", "--help"]),
    ];
    for (name, args) in cases {
        let out = run(ew(tmp.path(), tmp.path()).args(*args).env("COLUMNS", "100")).ok();
        let file = dir.join(format!("{name}.txt"));
        if overwrite() {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&file, &out.stdout).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&file)
            .unwrap_or_else(|_| panic!("{} missing (SNAPSHOTS=overwrite)", file.display()));
        assert_eq!(
            out.stdout,
            expected,
            "`elixir-workers {}` changed (SNAPSHOTS=overwrite to regenerate)",
            args.join(" ")
        );
    }
}
