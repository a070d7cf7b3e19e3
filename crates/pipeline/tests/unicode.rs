//! OTP's `unicode_util` with compact tables (`pipeline::unicode`) answers
//! exactly as OTP's own module does, on the real BEAM.

use std::path::{Path, PathBuf};
use std::process::Command;
use test_support::{run, tempdir, tool, workspace_root};

const DIGEST: &str = include_str!("unicode/digest.erl");

/// The digest line of `digest.erl`, with the modules in `dir` loaded first.
fn digest(dir: Option<&Path>) -> String {
    let mut cmd = Command::new(tool("ERL", "erl"));
    cmd.args(["-noshell", "-eval", DIGEST]);
    if let Some(dir) = dir {
        cmd.arg("-extra").arg(dir);
    }
    run(&mut cmd).ok().stdout.trim().to_string()
}

/// `module`.beam of the installed OTP's stdlib.
fn otp_beam(module: &str) -> PathBuf {
    let toolchain = pipeline::toolchain::Toolchain::detect(&workspace_root()).unwrap();
    let ebin = toolchain.otp_stdlib_ebin.expect("OTP's stdlib beside erl");
    ebin.join(format!("{module}.beam"))
}

#[test]
fn compact_unicode_tables_answer_as_otps_own_module() {
    let otp = otp_beam("unicode_util");
    let dir = tempdir();
    let cache = dir.path().join("unicode");
    let made = pipeline::unicode::compact_tables(dir.path(), &cache, &otp)
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(made.len(), 2);
    let tables = made[0].parent().unwrap().to_path_buf();
    assert_eq!(made[1].parent(), Some(tables.as_path()));
    // Made once: a second call finds the same files.
    let again = pipeline::unicode::compact_tables(dir.path(), &cache, &otp).unwrap();
    assert_eq!(again, made);

    // The patched module calls ew_unicode for its three tables and holds
    // none of their literals; the tables are a fraction of the clauses.
    let patched = std::fs::read(&made[0]).unwrap();
    let beam = avm::Beam::parse(&patched).unwrap();
    let refs = avm::code::code_refs(&beam, avm::DEFAULT_INFLATE_CAP).unwrap();
    for &(name, arity) in pipeline::unicode::TABLE_FUNCTIONS {
        let f = &refs.functions[refs.function(name, arity).unwrap()];
        let target = ("ew_unicode".to_string(), name.to_string(), arity);
        assert_eq!(f.external, [target], "{name}/{arity}");
        assert!(f.literals.is_empty(), "{name}/{arity}");
    }
    let original = std::fs::metadata(&otp).unwrap().len();
    let tables_len = std::fs::metadata(&made[1]).unwrap().len();
    assert!(tables_len * 5 < original, "{tables_len} B of tables");

    let (ours, theirs) = std::thread::scope(|s| {
        let ours = s.spawn(|| digest(Some(&tables)));
        (ours.join().unwrap(), digest(None))
    });
    let (ours_md5, ours_from) = ours.split_once(' ').unwrap();
    let (theirs_md5, theirs_from) = theirs.split_once(' ').unwrap();
    assert_eq!(Path::new(ours_from), tables.join("unicode_util.beam"));
    assert_eq!(Path::new(theirs_from), otp);
    assert_eq!(ours_md5, theirs_md5);
}

/// A module whose tables the script cannot read is refused with an error
/// naming it (the build then keeps OTP's own module, with a warning), and
/// leaves in the cache only the record of that, which the next call gives
/// back instead of trying again.
#[test]
fn a_module_without_the_tables_is_refused() {
    let lists = otp_beam("lists");
    let dir = tempdir();
    let cache = dir.path().join("unicode");
    let err = pipeline::unicode::compact_tables(dir.path(), &cache, &lists).unwrap_err();
    let text = format!("{err:#}");
    assert!(
        text.contains("reading the tables of") && text.contains("lists.beam"),
        "{text}"
    );
    let left: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(
        matches!(left.as_slice(), [one] if one.extension().is_some_and(|e| e == "failed")),
        "{left:?}"
    );
    let again = format!(
        "{:#}",
        pipeline::unicode::compact_tables(dir.path(), &cache, &lists).unwrap_err()
    );
    assert!(
        again.starts_with(&text) && again.contains("earlier build"),
        "{again}"
    );
}
