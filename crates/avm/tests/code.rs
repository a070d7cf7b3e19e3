//! `avm::code::code_refs` on real compiler output: every fixture module and
//! every module of the installed Elixir and OTP stdlib decodes, and the
//! references of known functions are what their source says.

use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/packs")
}

fn refs(path: &Path) -> avm::code::CodeRefs {
    let bytes = std::fs::read(path).unwrap();
    let beam = avm::Beam::parse(&bytes).unwrap();
    avm::code::code_refs(&beam, avm::DEFAULT_INFLATE_CAP)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn calls_and_funs_of_the_fixtures_are_found() {
    let hello = refs(&fixtures().join("erlang/ebin/hello.beam"));
    let start = &hello.functions[hello.function("start", 0).unwrap()];
    for (m, f, a) in [
        ("a", "id", 1),
        ("many_funs", "apply_all", 1),
        ("with_debug", "info", 0),
    ] {
        assert!(
            start.external.contains(&(m.into(), f.into(), a)),
            "{m}:{f}/{a} in {:?}",
            start.external
        );
    }

    let funs = refs(&fixtures().join("erlang/ebin/many_funs.beam"));
    let f = &funs.functions[funs.function("funs", 1).unwrap()];
    // Its funs are local functions (the fun bodies); `fun lists:reverse/1`
    // is an external reference, made through erlang:make_fun/3 or a literal.
    assert!(f.local.len() >= 16, "{:?}", f.local);
    assert!(
        f.local.iter().all(|(n, _)| n.starts_with("-funs/1-fun-")),
        "{:?}",
        f.local
    );
    let apply_all = &funs.functions[funs.function("apply_all", 1).unwrap()];
    assert!(
        apply_all.local.contains(&("funs".into(), 1)),
        "{:?}",
        apply_all.local
    );
    assert_eq!(funs.exports.len(), 4, "{:?}", funs.exports); // + module_info/0,1

    let ex = refs(&fixtures().join("elixir/ebin/Elixir.Fixture.Funs.beam"));
    let run = &ex.functions[ex.function("run", 1).unwrap()];
    assert!(
        run.external
            .contains(&("Elixir.Enum".into(), "map".into(), 2)),
        "{:?}",
        run.external
    );
    // `&Enum.reverse/1` is a literal external fun: its atoms are there.
    assert!(
        run.atoms.iter().any(|a| a == "Elixir.Enum"),
        "{:?}",
        run.atoms
    );
    assert!(run.atoms.iter().any(|a| a == "reverse"), "{:?}", run.atoms);
}

/// Every module of a directory decodes; returns how many.
fn decode_all(dir: &Path) -> usize {
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "beam") {
            let r = refs(&path);
            assert!(!r.functions.is_empty(), "{}", path.display());
            // The opcode scan reads every instruction and ends exactly at
            // int_code_end, the chunk's end.
            let bytes = std::fs::read(&path).unwrap();
            let ops = avm::code::opcodes(&avm::Beam::parse(&bytes).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(ops.contains(2) && ops.contains(3), "{}", path.display());
            n += 1;
        }
    }
    n
}

/// The installed Elixir's and OTP stdlib's ebin directories (Debian's
/// elixir and erlang packages put them under /usr/lib; CI installs both).
fn installed_stdlib() -> Option<(PathBuf, PathBuf)> {
    let elixir = PathBuf::from("/usr/lib/elixir/lib/elixir/ebin");
    let stdlib = std::fs::read_dir("/usr/lib/erlang/lib")
        .ok()
        .and_then(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path())).find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("stdlib-"))
            })
        })
        .map(|p| p.join("ebin"));
    match (stdlib, elixir.is_dir()) {
        (Some(stdlib), true) => Some((elixir, stdlib)),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "no Elixir/OTP installation under /usr/lib"
            );
            eprintln!("SKIPPED: no Elixir/OTP installation under /usr/lib");
            None
        }
    }
}

#[test]
fn the_installed_elixir_and_otp_stdlib_decode() {
    let Some((elixir, stdlib)) = installed_stdlib() else {
        return;
    };
    assert!(decode_all(&elixir) > 200);
    assert!(decode_all(&stdlib) > 50);
}

/// `compact_tables` renumbers atoms, imports, literals and funs without changing
/// what any instruction refers to: on every installed stdlib module, with
/// every other function cut first (as a shake leaves it), each function's
/// calls, funs, atoms and literals (their terms) decode to the same before
/// and after, the exports are the same, the code still ends at
/// `int_code_end`, and a second pass changes nothing; a module compacted
/// without its `Line` chunk has no `line` instruction left. The cut
/// modules' atom, import, literal and fun tables shrink by a good part.
#[test]
fn compacting_the_tables_changes_no_reference() {
    let Some((elixir, stdlib)) = installed_stdlib() else {
        return;
    };
    let (mut atoms, mut imports, mut literals) = ((0, 0), (0, 0), (0, 0));
    let mut lines_dropped = 0;
    let mut funs = (0, 0);
    let fun_rows = |b: &avm::Beam<'_>| {
        b.chunk(*b"FunT")
            .map_or(0, |c| u32::from_be_bytes(c.data[..4].try_into().unwrap()))
    };
    for dir in [elixir, stdlib] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "beam") {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap();
            let beam = avm::Beam::parse(&bytes).unwrap();
            let all = refs(&path);
            let keep: Vec<bool> = (0..all.functions.len()).map(|i| i % 2 == 0).collect();
            let cut =
                avm::code::strip_functions(&beam, &all, &keep, avm::DEFAULT_INFLATE_CAP).unwrap();
            let cut = avm::Beam::parse(&cut).unwrap();
            // Every other module also loses its `Line` chunk, and with it
            // its `line` instructions.
            let drop: &[avm::ChunkId] = if keep.len() % 2 == 0 {
                &[avm::beam::LINE]
            } else {
                &[]
            };
            let out = avm::code::compact_tables(&cut, drop)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let compact = avm::Beam::parse(&out).unwrap();
            let decode = |b: &avm::Beam<'_>| {
                let mut r = avm::code::code_refs(b, avm::DEFAULT_INFLATE_CAP)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                r.spans.clear();
                r.code_end = 0;
                let terms = literal_terms(b);
                let literals: Vec<Vec<Vec<u8>>> = r
                    .functions
                    .iter_mut()
                    .map(|f| {
                        let t = f.literals.iter().map(|&i| terms[i as usize].clone());
                        let t = t.collect();
                        f.literals.clear();
                        t
                    })
                    .collect();
                (r, literals)
            };
            assert_eq!(decode(&compact), decode(&cut), "{}", path.display());
            let ops = avm::code::opcodes(&compact).unwrap();
            if !drop.is_empty() {
                assert!(!ops.contains(153), "{}: a line instruction", path.display());
                assert!(compact.chunk(avm::beam::LINE).is_none());
                lines_dropped += 1;
            }
            assert_eq!(compact.module_name(), beam.module_name());
            assert_eq!(avm::code::compact_tables(&compact, drop).unwrap(), out);
            atoms.0 += cut.atoms().len();
            atoms.1 += compact.atoms().len();
            imports.0 += cut.imports().len();
            imports.1 += compact.imports().len();
            funs.0 += fun_rows(&cut);
            funs.1 += fun_rows(&compact);
            literals.0 += literal_terms(&cut).len();
            literals.1 += literal_terms(&compact).len();
        }
    }
    assert!(atoms.1 * 10 < atoms.0 * 9, "atoms {atoms:?}");
    assert!(imports.1 * 10 < imports.0 * 9, "imports {imports:?}");
    assert!(literals.1 * 10 < literals.0 * 9, "literals {literals:?}");
    assert!(funs.1 * 10 < funs.0 * 9, "funs {funs:?}");
    assert!(lines_dropped > 100, "{lines_dropped} modules without lines");
}

/// The terms of a module's literal table, in index order.
fn literal_terms(beam: &avm::Beam<'_>) -> Vec<Vec<u8>> {
    match beam.literal_table(avm::DEFAULT_INFLATE_CAP).unwrap() {
        Some(table) => literals(&table),
        None => Vec::new(),
    }
}

/// `strip_functions` keeps exactly the marked functions: the result loads
/// as a BEAM whose functions, exports and local table are those, in order,
/// with their code byte for byte, and whose code is smaller; its literal
/// table has every literal a kept function loads, byte for byte at its
/// index, and `[]` at every other index.
#[test]
fn stripping_keeps_exactly_the_marked_functions() {
    let otp = |name: &str| {
        PathBuf::from(
            avm_otp_beam(name).unwrap_or_else(|| panic!("OTP's {name}.beam is not installed")),
        )
    };
    for path in [
        fixtures().join("erlang/ebin/many_funs.beam"),
        otp("lists"),
        otp("unicode_util"),
    ] {
        let bytes = std::fs::read(&path).unwrap();
        let beam = avm::Beam::parse(&bytes).unwrap();
        let all = refs(&path);
        // Every other function, and always the first (with the prologue).
        let keep: Vec<bool> = (0..all.functions.len()).map(|i| i % 2 == 0).collect();
        let out = avm::code::strip_functions(&beam, &all, &keep, avm::DEFAULT_INFLATE_CAP).unwrap();
        let stripped = avm::Beam::parse(&out).unwrap();
        let left = avm::code::code_refs(&stripped, avm::DEFAULT_INFLATE_CAP).unwrap();
        // A stripped module's code still ends with int_code_end, its
        // opcodes a subset of the original's.
        let (before, after) = (
            avm::code::opcodes(&beam).unwrap(),
            avm::code::opcodes(&stripped).unwrap(),
        );
        assert!((0..=255).all(|op| !after.contains(op) || before.contains(op)));
        let want: Vec<(&str, u32)> = all
            .functions
            .iter()
            .zip(&keep)
            .filter(|(_, &k)| k)
            .map(|(f, _)| (f.name.as_str(), f.arity))
            .collect();
        let got: Vec<(&str, u32)> = left
            .functions
            .iter()
            .map(|f| (f.name.as_str(), f.arity))
            .collect();
        assert_eq!(got, want, "{}", path.display());
        let code = |b: &avm::Beam<'_>| b.chunk(*b"Code").unwrap().data.to_vec();
        let (before, after) = (code(&beam), code(&stripped));
        assert!(after.len() < before.len(), "{}", path.display());
        for (i, span) in left.spans.iter().enumerate() {
            let j = all
                .functions
                .iter()
                .position(|f| (f.name.as_str(), f.arity) == got[i])
                .unwrap();
            assert_eq!(&after[span.clone()], &before[all.spans[j].clone()]);
        }
        for (name, arity) in stripped.exports() {
            assert!(
                want.contains(&(name.as_str(), arity)),
                "{name}/{arity} exported"
            );
        }
        assert!(stripped.exports().len() < beam.exports().len() || beam.exports().len() <= 1);

        let table = |b: &avm::Beam<'_>| {
            b.literal_table(avm::DEFAULT_INFLATE_CAP)
                .unwrap()
                .map(|t| literals(&t))
                .unwrap_or_default()
        };
        let (was, now) = (table(&beam), table(&stripped));
        assert_eq!(now.len(), was.len(), "{}", path.display());
        let used: Vec<u32> = left
            .functions
            .iter()
            .flat_map(|f| f.literals.clone())
            .collect();
        for (i, (w, n)) in was.iter().zip(&now).enumerate() {
            if used.contains(&(i as u32)) {
                assert_eq!(n, w, "literal {i} of {}", path.display());
            } else {
                assert_eq!(n, &[131, 106], "literal {i} of {}", path.display());
            }
        }
        assert!(
            stripped.chunk(*b"LitT").is_none(),
            "{}: the literal table is written as LitU",
            path.display()
        );
    }
    // unicode_util's tables serve its normalisation and case functions:
    // with only `gc/1` kept, most of its literal bytes go.
    let path = otp("unicode_util");
    let bytes = std::fs::read(&path).unwrap();
    let beam = avm::Beam::parse(&bytes).unwrap();
    let all = refs(&path);
    let keep: Vec<bool> = all.functions.iter().map(|f| f.name == "gc").collect();
    let out = avm::code::strip_functions(&beam, &all, &keep, avm::DEFAULT_INFLATE_CAP).unwrap();
    let stripped = avm::Beam::parse(&out).unwrap();
    let size = |b: &avm::Beam<'_>| {
        b.literal_table(avm::DEFAULT_INFLATE_CAP)
            .unwrap()
            .unwrap()
            .len()
    };
    assert!(
        size(&stripped) * 4 < size(&beam),
        "{} -> {}",
        size(&beam),
        size(&stripped)
    );
}

/// The literals of a literal table (`[count u32]`, then `[size u32][term]`).
fn literals(table: &[u8]) -> Vec<Vec<u8>> {
    let be32 = |at: usize| u32::from_be_bytes(table[at..at + 4].try_into().unwrap()) as usize;
    let mut at = 4;
    (0..be32(0))
        .map(|_| {
            let size = be32(at);
            at += 4 + size;
            table[at - size..at].to_vec()
        })
        .collect()
}

/// OTP's own `name.beam` on this machine, through `erl`.
fn avm_otp_beam(name: &str) -> Option<String> {
    let out = std::process::Command::new("erl")
        .args([
            "-noshell",
            "-eval",
            &format!("io:format(\"~s\", [code:which({name})]), halt()."),
        ])
        .output()
        .ok()?;
    Some(String::from_utf8(out.stdout).ok()?).filter(|p| p.ends_with(".beam"))
}

/// `opcodes` gives the opcodes of the module's code: for the fixture, what
/// OTP's `beam_disasm` lists for its functions (mapped through
/// `beam_opcodes:opcode/2`) and `int_code_end`.
#[test]
fn the_opcodes_of_a_module_are_those_of_its_instructions() {
    let bytes = std::fs::read(fixtures().join("erlang/ebin/hello.beam")).unwrap();
    let set = avm::code::opcodes(&avm::Beam::parse(&bytes).unwrap()).unwrap();
    let expected = [1, 2, 3, 7, 12, 16, 18, 19, 64, 69, 78, 153, 164, 172];
    let found: Vec<u8> = (0..=255).filter(|&op| set.contains(op)).collect();
    assert_eq!(found, expected);
    assert_eq!(set.len(), expected.len());
}
