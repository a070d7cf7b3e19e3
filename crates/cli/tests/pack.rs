//! The `pack`, `inspect` and `extract` commands, driven through the real
//! binary: goldens, the readable dumps, JSON, extraction, warnings, and every
//! bad input (non-zero exit, file/chunk/offset in the message, no output).

use std::path::{Path, PathBuf};
use std::process::Command;
use test_support::Run;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Runs the binary from the workspace root, so relative fixture paths in
/// messages match the `.err` files.
fn run(args: &[&str]) -> Run {
    test_support::run(
        Command::new(test_support::cli::bin())
            .args(args)
            .current_dir(root()),
    )
}

/// `pack [flags...] -o OUT --start START INPUTS...`.
fn pack(flags: &[&str], out: &Path, start: &str, inputs: &[&str]) -> Run {
    let mut args = vec!["pack"];
    args.extend(flags);
    args.extend(["-o", s(out), "--start", start]);
    args.extend(inputs);
    run(&args)
}

fn stderr(o: &Run) -> String {
    o.stderr.clone()
}

fn sets() -> Vec<PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(root().join("fixtures/packs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("ebin").is_dir())
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no fixture sets under fixtures/packs");
    v
}

fn start_of(set: &Path) -> PathBuf {
    set.join("ebin")
        .join(std::fs::read_to_string(set.join("start")).unwrap().trim())
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn pack_reproduces_every_golden_and_inspect_its_dump() {
    let tmp = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for set in sets() {
        let name = set.file_name().unwrap().to_string_lossy().into_owned();
        let out = tmp.path().join(format!("{name}.avm"));
        let o = pack(&[], &out, s(&start_of(&set)), &[s(&set.join("ebin"))]);
        if !o.success() {
            failures.push(format!("{name}: pack failed: {}", stderr(&o)));
            continue;
        }
        if stderr(&o).contains("warning") {
            failures.push(format!("{name}: unexpected warning: {}", stderr(&o)));
        }
        if std::fs::read(&out).unwrap() != std::fs::read(set.join("expected.avm")).unwrap() {
            failures.push(format!("{name}: packed archive differs from expected.avm"));
        }
        let o = run(&["inspect", s(&set.join("expected.avm"))]);
        let dump = std::fs::read_to_string(set.join("expected.txt")).unwrap();
        if !o.success() || o.stdout != dump {
            failures.push(format!("{name}: inspect output differs from expected.txt"));
        }
    }
    assert!(
        failures.is_empty(),
        "{}\nregenerate with: cargo xtask parity --reference PATH/TO/pack_avm.py --bless",
        failures.join("\n")
    );
}

#[test]
fn inspect_json_is_one_document_with_every_section() {
    let set = root().join("fixtures/packs/erlang");
    let o = run(&["inspect", "--json", s(&set.join("expected.avm"))]);
    assert!(o.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&o.stdout).expect("valid JSON on stdout");
    let sections = v["sections"].as_array().unwrap();
    assert_eq!(sections.len(), 11);
    assert_eq!(sections[0]["name"], "hello.beam");
    assert_eq!(sections[0]["flags"], 3);
    assert_eq!(sections[0]["offset"], 24);
    assert_eq!(sections[0]["chunks"][0]["id"], "AtU8");
    assert_eq!(
        v["size"],
        std::fs::metadata(set.join("expected.avm")).unwrap().len()
    );
}

#[test]
fn extract_writes_each_section_back_out() {
    let set = root().join("fixtures/packs/elixir");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let o = run(&["extract", s(&set.join("expected.avm")), "-o", s(&dir)]);
    assert!(o.success(), "{}", stderr(&o));
    let bytes = std::fs::read(set.join("expected.avm")).unwrap();
    let archive = avm::Archive::parse(&bytes).unwrap();
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut expected: Vec<_> = archive.sections.iter().map(|s| s.name.clone()).collect();
    expected.sort();
    assert_eq!(names, expected);
    for sec in &archive.sections {
        let file = std::fs::read(dir.join(&sec.name)).unwrap();
        assert_eq!(file, sec.contents());
        // What comes out is a loadable BEAM again (FOR1 form, kept chunks only).
        avm::Beam::parse(&file).unwrap();
    }
    // Packing the extracted files again gives the same archive: stripping is
    // idempotent and the names are the modules' own.
    let start = dir.join("Elixir.Fixture.App.beam");
    let again = tmp.path().join("again.avm");
    let o = pack(&["-q"], &again, s(&start), &[s(&dir)]);
    assert!(o.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read(&again).unwrap(), bytes);
}

#[test]
fn file_name_differing_from_module_warns_and_uses_the_module_atom() {
    let tmp = tempfile::tempdir().unwrap();
    let ebin = root().join("fixtures/packs/erlang/ebin");
    let renamed = tmp.path().join("renamed.beam");
    std::fs::copy(ebin.join("a.beam"), &renamed).unwrap();
    let out = tmp.path().join("out.avm");
    let o = pack(&[], &out, s(&ebin.join("hello.beam")), &[s(&renamed)]);
    assert!(o.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("warning:") && err.contains("renamed.beam") && err.contains("`a`"),
        "stderr: {err}"
    );
    let bytes = std::fs::read(&out).unwrap();
    let names: Vec<_> = avm::Archive::parse(&bytes)
        .unwrap()
        .sections
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["hello.beam", "a.beam"]);
}

#[test]
fn startup_inside_an_input_directory_is_packed_once_and_first() {
    let tmp = tempfile::tempdir().unwrap();
    let ebin = root().join("fixtures/packs/erlang/ebin");
    let out = tmp.path().join("out.avm");
    // Files and a directory mixed; the start file is also listed explicitly.
    let start = ebin.join("hello.beam");
    let o = pack(&[], &out, s(&start), &[s(&start), s(&ebin)]);
    assert!(o.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(root().join("fixtures/packs/erlang/expected.avm")).unwrap()
    );
}

/// `pack -o OUT --start START INPUTS...` fails with `expected` on stderr.
/// Leaves a sentinel where the output goes: a failed run must neither
/// create an output nor replace an existing one, nor leave temp files.
fn assert_fails_cleanly(start: &str, inputs: &[&str], expected: &str, what: &str) {
    let tmp = tempfile::tempdir().unwrap();
    for existing in [false, true] {
        let out = tmp.path().join("out.avm");
        if existing {
            std::fs::write(&out, b"previous archive").unwrap();
        }
        let o = pack(&[], &out, start, inputs);
        assert!(!o.success(), "{what}: exited 0");
        let err = stderr(&o);
        assert!(
            err.contains(expected),
            "{what}:\n  stderr   {err}\n  expected {expected}"
        );
        if existing {
            assert_eq!(
                std::fs::read(&out).unwrap(),
                b"previous archive",
                "{what}: output replaced"
            );
        } else {
            assert!(!out.exists(), "{what}: output left behind");
        }
        let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n != "out.avm")
            .collect();
        assert!(leftovers.is_empty(), "{what}: left {leftovers:?}");
        let _ = std::fs::remove_file(&out);
    }
}

/// The files of `fixtures/bad/` ending in `ext`, each with the error the CLI
/// must print for it (`NAME.err`, prefixed with `error: `).
fn bad_fixtures(ext: &str) -> Vec<(String, String)> {
    let bad = root().join("fixtures/bad");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&bad).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(ext) {
            let expected = std::fs::read_to_string(bad.join(format!("{name}.err"))).unwrap();
            out.push((name, format!("error: {}", expected.trim_end())));
        }
    }
    out
}

#[test]
fn every_bad_beam_fails_with_its_error_and_writes_nothing() {
    let mut n = 0;
    for (name, expected) in bad_fixtures(".beam") {
        n += 1;
        // Names file, chunk and offset.
        assert!(
            expected.contains(" at byte ") && expected.contains("chunk "),
            "{name}.err: {expected}"
        );
        let rel = format!("fixtures/bad/{name}");
        assert_fails_cleanly(
            &rel,
            &["fixtures/packs/erlang/ebin/a.beam"],
            &expected,
            &name,
        );
        // A bad module that is not the startup module fails the same way.
        if name != "no_start.beam" {
            assert_fails_cleanly(
                "fixtures/packs/erlang/ebin/hello.beam",
                &[&rel],
                &expected,
                &name,
            );
        }
    }
    assert!(n >= 10, "only {n} bad beams");
}

#[test]
fn every_bad_archive_fails_inspect_and_extract_and_writes_nothing() {
    let mut n = 0;
    for (name, expected) in bad_fixtures(".avm") {
        n += 1;
        let rel = format!("fixtures/bad/{name}");
        let o = run(&["inspect", &rel]);
        assert!(
            !o.success() && stderr(&o).contains(&expected),
            "{name}: {}",
            stderr(&o)
        );
        assert!(o.stdout.is_empty(), "{name}: inspect printed something");
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        let o = run(&["extract", &rel, "-o", s(&dir)]);
        assert!(
            !o.success() && stderr(&o).contains(&expected),
            "{name}: {}",
            stderr(&o)
        );
        assert!(
            !dir.exists(),
            "{name}: extract created its output directory"
        );
    }
    assert!(n >= 5, "only {n} bad archives");
}

#[test]
fn missing_startup_module_fails_and_writes_nothing() {
    assert_fails_cleanly(
        "fixtures/bad/does_not_exist.beam",
        &["fixtures/packs/erlang/ebin"],
        "error: cannot read startup module fixtures/bad/does_not_exist.beam",
        "missing start",
    );
}

#[test]
fn empty_input_directory_fails_and_writes_nothing() {
    let empty = tempfile::tempdir().unwrap();
    assert_fails_cleanly(
        "fixtures/packs/erlang/ebin/hello.beam",
        &[s(empty.path())],
        "no .beam files in this directory",
        "empty directory",
    );
}

/// A symlinked `*.beam` in an input directory is packed like the file it
/// points to; a dangling one is an unreadable input, not a module quietly
/// missing from the archive.
#[cfg(unix)]
#[test]
fn symlinked_beams_are_packed_and_a_dangling_one_is_refused() {
    use std::os::unix::fs::symlink;
    let set = root().join("fixtures/packs/erlang");
    let tmp = tempfile::tempdir().unwrap();
    let ebin = tmp.path().join("ebin");
    std::fs::create_dir(&ebin).unwrap();
    for entry in std::fs::read_dir(set.join("ebin")).unwrap() {
        let path = entry.unwrap().path();
        symlink(&path, ebin.join(path.file_name().unwrap())).unwrap();
    }
    let out = tmp.path().join("out.avm");
    let start = ebin.join("hello.beam");
    let o = pack(&["-q"], &out, s(&start), &[s(&ebin)]);
    assert!(o.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(set.join("expected.avm")).unwrap()
    );

    let gone = ebin.join("gone.beam");
    symlink(tmp.path().join("no_such_file.beam"), &gone).unwrap();
    assert_fails_cleanly(
        s(&start),
        &[s(&ebin)],
        &format!(
            "error: cannot read input {}: No such file or directory",
            gone.display()
        ),
        "dangling symlink",
    );
}

#[test]
fn pack_requires_output_start_and_inputs() {
    for args in [
        &["pack", "--start", "x.beam", "dir"][..],
        &["pack", "-o", "x.avm", "dir"][..],
        &["pack", "-o", "x.avm", "--start", "x.beam"][..],
    ] {
        let o = run(args);
        assert_eq!(o.code, Some(2), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn a_smaller_inflate_cap_refuses_a_table_the_default_accepts() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out.avm");
    let ebin = "fixtures/packs/erlang/ebin";
    let o = pack(
        &["--inflate-cap", "1000"],
        &out,
        &format!("{ebin}/hello.beam"),
        &[ebin],
    );
    assert!(!o.success());
    let err = stderr(&o);
    assert!(
        err.contains("big_literals.beam: chunk LitT at byte")
            && err.contains("inflate cap of 1000"),
        "{err}"
    );
    assert!(!out.exists());
}
