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

/// A module's section as the CLI makes it (`SectionPlan`) is the section
/// `pack` writes, or fails with the error `pack` gives: on every fixture
/// module, good and bad, and on each of them with bytes changed at places
/// a fixed generator picks (the fuzz target checks the same on any input).
#[test]
fn a_planned_section_agrees_with_pack_on_changed_modules() {
    let cap = 1 << 20;
    let mut paths: Vec<std::path::PathBuf> = Vec::new();
    for dir in ["fixtures/bad"].into_iter().map(|d| root().join(d)).chain(
        std::fs::read_dir(root().join("fixtures/packs"))
            .unwrap()
            .map(|e| e.unwrap().path().join("ebin")),
    ) {
        for e in std::fs::read_dir(&dir).into_iter().flatten() {
            let p = e.unwrap().path();
            let bomb = p.to_string_lossy().contains("bomb");
            if p.extension().is_some_and(|x| x == "beam") && !bomb {
                paths.push(p);
            }
        }
    }
    paths.sort();
    assert!(paths.len() > 20, "{paths:?}");
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let opts = avm::PackOptions {
        inflate_cap: cap,
        threads: 1,
    };
    let (mut agreed, mut failed) = (0, 0);
    for path in &paths {
        let original = std::fs::read(path).unwrap();
        for round in 0..120 {
            let mut bytes = original.clone();
            if round > 0 && !bytes.is_empty() {
                for _ in 0..1 + next() % 3 {
                    let at = (next() % bytes.len() as u64) as usize;
                    bytes[at] ^= 1 << (next() % 8);
                }
            }
            let packed = avm::pack(
                &[avm::PackInput {
                    path: path.clone(),
                    bytes: bytes.clone(),
                    start: true,
                }],
                &opts,
            );
            let planned = avm::SectionPlan::new(path, &bytes, true, cap).and_then(|plan| {
                let mut section = vec![0; plan.len()];
                plan.write_into(path, &mut section)?;
                Ok(section)
            });
            match (packed, planned) {
                (Ok(p), Ok(section)) => {
                    let header = avm::archive::HEADER.len();
                    let end = p.bytes.len() - avm::archive::END.len();
                    assert_eq!(p.bytes[header..end], section[..], "{}", path.display());
                }
                (Err(p), Err(s)) => {
                    assert_eq!(p, s, "{} round {round}", path.display());
                    failed += 1;
                }
                (p, s) => panic!(
                    "{} round {round}: pack {:?}, SectionPlan {:?}",
                    path.display(),
                    p.map(|_| ()),
                    s.map(|_| ())
                ),
            }
            agreed += 1;
        }
    }
    // Both outcomes were exercised.
    assert!(
        failed > 100 && agreed - failed > 100,
        "{agreed} cases, {failed} failing"
    );
}
