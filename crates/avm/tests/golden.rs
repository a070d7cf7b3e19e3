//! Byte-exact goldens: every fixture set packed by the library must equal the
//! archive the reference packer produced. All mismatches are collected and
//! reported together.

mod common;

use common::*;

fn first_difference(a: &[u8], b: &[u8]) -> usize {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()))
}

#[test]
fn every_golden_matches_byte_for_byte() {
    let mut failures = Vec::new();
    for (name, dir) in pack_sets() {
        let start = start_of(&dir);
        let inputs: Vec<avm::PackInput> = beams(&dir)
            .into_iter()
            .map(|p| avm::PackInput {
                start: p.file_name().unwrap() == start.as_str(),
                bytes: std::fs::read(&p).unwrap(),
                path: p,
            })
            .collect();
        let expected = std::fs::read(dir.join("expected.avm")).unwrap();
        match avm::pack(&inputs, &avm::PackOptions::default()) {
            Err(e) => failures.push(format!("{name}: pack failed: {e}")),
            Ok(packed) => {
                if !packed.warnings.is_empty() {
                    failures.push(format!("{name}: unexpected warnings {:?}", packed.warnings));
                }
                if packed.bytes != expected {
                    let at = first_difference(&packed.bytes, &expected);
                    let section = avm::Archive::parse(&expected)
                        .ok()
                        .and_then(|a| {
                            a.sections
                                .iter()
                                .find(|s| {
                                    s.offset as usize <= at
                                        && at < (s.offset + s.size as u64) as usize
                                })
                                .map(|s| s.name.clone())
                        })
                        .unwrap_or_else(|| "-".into());
                    failures.push(format!(
                        "{name}: {} bytes vs golden {} bytes, first difference at byte {at} (section {section})",
                        packed.bytes.len(),
                        expected.len()
                    ));
                }
                // Single-threaded packing must give the same bytes.
                let one = avm::PackOptions {
                    threads: 1,
                    ..Default::default()
                };
                if avm::pack(&inputs, &one).map(|p| p.bytes).ok() != Some(packed.bytes) {
                    failures.push(format!("{name}: threads=1 output differs"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} golden mismatch(es):\n  {}\nregenerate with: {REGENERATE}",
        failures.len(),
        failures.join("\n  ")
    );
}

#[test]
fn goldens_read_back_and_round_trip() {
    for (name, dir) in pack_sets() {
        let bytes = std::fs::read(dir.join("expected.avm")).unwrap();
        let archive = avm::Archive::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(archive.sections.len(), beams(&dir).len(), "{name}");
        assert_eq!(
            archive.sections[0].flags, 3,
            "{name}: startup section first"
        );
        assert!(archive.sections[1..].iter().all(|s| s.flags == 2), "{name}");
        for s in &archive.sections {
            // Each stored BEAM is a valid BEAM again, with only kept chunks,
            // and names its own module.
            let beam =
                avm::Beam::parse(s.contents()).unwrap_or_else(|e| panic!("{name}/{}: {e}", s.name));
            assert_eq!(format!("{}.beam", beam.module_name()), s.name);
            for c in beam.chunks() {
                assert!(
                    avm::beam::KEPT_CHUNKS.contains(&c.id) || c.id == avm::beam::LITT,
                    "{name}/{}: chunk {:?} should have been stripped",
                    s.name,
                    String::from_utf8_lossy(&c.id)
                );
            }
        }
    }
}

/// The fixtures cover what the issue lists; this keeps them from drifting.
#[test]
fn fixtures_cover_the_listed_cases() {
    let erl = root().join("fixtures/packs/erlang/ebin");
    let read = |p: &str| std::fs::read(erl.join(p)).unwrap();

    // An uncompressed LitT (size field 0) is kept as LitT.
    let stored = read("lit_stored.beam");
    let beam = avm::Beam::parse(&stored).unwrap();
    assert_eq!(
        &beam.chunk(avm::beam::LITT).unwrap().data[..4],
        &[0, 0, 0, 0]
    );
    let stripped = beam.strip(avm::DEFAULT_INFLATE_CAP).unwrap();
    assert!(stripped.chunks().any(|(id, _)| id == avm::beam::LITT));
    assert!(beam
        .literal_atoms()
        .unwrap()
        .contains(&"answer".to_string()));

    // A compressed LitT becomes LitU; no literals at all means neither.
    let big = read("big_literals.beam");
    let beam = avm::Beam::parse(&big).unwrap();
    assert!(be32(beam.chunk(avm::beam::LITT).unwrap().data) > 1000);
    let ids: Vec<_> = beam
        .strip(avm::DEFAULT_INFLATE_CAP)
        .unwrap()
        .chunks()
        .map(|c| c.0)
        .collect();
    assert!(ids.contains(&avm::beam::LITU) && !ids.contains(&avm::beam::LITT));
    assert!(beam
        .literal_atoms()
        .unwrap()
        .contains(&"omicron".to_string()));
    let none = read("no_literals.beam");
    let beam = avm::Beam::parse(&none).unwrap();
    assert!(beam.chunk(avm::beam::LITT).is_none() && beam.chunk(avm::beam::LITU).is_none());

    // +debug_info and Elixir docs are present in the inputs (and stripped).
    assert!(avm::Beam::parse(&read("with_debug.beam"))
        .unwrap()
        .chunk(*b"Dbgi")
        .is_some_and(|c| c.data.len() > 100));
    let ex = root().join("fixtures/packs/elixir/ebin");
    let docs = std::fs::read(ex.join("Elixir.Fixture.Docs.beam")).unwrap();
    assert!(avm::Beam::parse(&docs).unwrap().chunk(*b"Docs").is_some());

    // Unicode module names; section names of every length mod 4.
    let uni = read("héllo_wörld.beam");
    let beam = avm::Beam::parse(&uni).unwrap();
    assert_eq!(beam.module_name(), "héllo_wörld");
    assert!(beam
        .literal_atoms()
        .unwrap()
        .contains(&"日本語".to_string()));
    let mut residues = [false; 4];
    for (_, dir) in pack_sets() {
        for p in beams(&dir) {
            residues[(p.file_name().unwrap().len() + 1) % 4] = true;
        }
    }
    assert_eq!(
        residues, [true; 4],
        "section name lengths cover every residue mod 4"
    );

    // Many funs.
    let funs = read("many_funs.beam");
    let funt = avm::Beam::parse(&funs)
        .unwrap()
        .chunk(avm::beam::FUNT)
        .unwrap();
    assert!(be32(funt.data) >= 15);
}

fn be32(d: &[u8]) -> u32 {
    u32::from_be_bytes(d[..4].try_into().unwrap())
}
