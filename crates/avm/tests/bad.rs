//! Every malformed input in `fixtures/bad/` gives exactly its expected error.

mod common;

use common::*;

#[test]
fn every_bad_beam_gives_its_error() {
    let good = root().join("fixtures/packs/erlang/ebin/a.beam");
    let mut failures = Vec::new();
    for (rel, expected) in bad_cases("beam") {
        let bytes = std::fs::read(root().join(&rel)).unwrap();
        let inputs = [
            avm::PackInput {
                path: rel.clone().into(),
                bytes,
                start: true,
            },
            avm::PackInput {
                path: good.clone(),
                bytes: std::fs::read(&good).unwrap(),
                start: false,
            },
        ];
        match avm::pack(&inputs, &avm::PackOptions::default()) {
            Ok(_) => failures.push(format!("{rel}: packed without error")),
            Err(e) => {
                if e.to_string() != expected {
                    failures.push(format!("{rel}:\n    got      {e}\n    expected {expected}"));
                }
                if e.file().is_none() || e.offset().is_none() {
                    failures.push(format!("{rel}: error lacks file or offset: {e:?}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_bad_archive_gives_its_error() {
    let mut failures = Vec::new();
    for (rel, expected) in bad_cases("avm") {
        let bytes = std::fs::read(root().join(&rel)).unwrap();
        match avm::Archive::parse(&bytes) {
            Ok(_) => failures.push(format!("{rel}: parsed without error")),
            Err(e) => {
                let e = e.with_file(&rel);
                if e.to_string() != expected {
                    failures.push(format!("{rel}:\n    got      {e}\n    expected {expected}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
