//! The BIFs and NIFs a worker can call, and the table slots of the rest.
//!
//! AtomVM finds a BIF or NIF by name in tables that gperf compiles to
//! read-only data. `nifs.gperf` (and our platform table) hold
//! `{const char *name, const struct Nif *nif}` pairs, 8 bytes on wasm32,
//! each `struct Nif` a function type tag (`NIFFunctionType` 2) and the
//! implementation's function pointer; `bifs.gperf` holds the struct inline,
//! `{name, tag, pointer}` in 12 bytes (`BIFFunctionType` 5,
//! `GCBIFFunctionType` 6). A function pointer in WebAssembly is an index
//! into the function table. [`named_slots`] reads both forms out of the
//! module's data segments.
//!
//! A worker runs only its archive's code, and that code reaches a native
//! either by a call the module imports (`ImpT`) or through `apply` with a
//! function name held as an atom, the same premise the shake makes of
//! module names ([`avm::prune_functions`]). [`Natives::unused_slots`] gives
//! the table slots of the natives neither names: [`super::prune`] then stops
//! counting them as roots, and the implementations only they reached become
//! `unreachable`; [`Natives::forget_unused`] makes their names match no
//! lookup. A slot stays when the same value is stored anywhere else
//! in the data (another struct, a platform NIF's, may hold the function).
//! Code that took an implementation's address would hold it as an
//! `i32.const`, but no code does: in AtomVM's sources at the pinned commit
//! and in our adapter, a BIF's or NIF's implementation is named only in its
//! struct's initializer or in direct calls (which keep it alive through the
//! call graph). An `i32.const` cannot tell an address from a number (the
//! slots are a few hundred), so checking the code for one kept 40 more of
//! the starter's NIFs for nothing.

use anyhow::{Context as _, Result};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use wasmparser::{DataKind, Operator, Parser, Payload};

/// Function type tags of `struct ExportedFunction` (AtomVM's
/// `exportedfunction.h`) that a name table points at.
const NATIVE_TYPES: [u32; 3] = [2, 5, 6];

/// The longest native name read (`module:function/arity`).
const MAX_NAME: usize = 96;

/// What the module's data and code say about its natives.
#[derive(Debug, Clone, Default)]
pub struct Natives {
    /// Each named native (`erlang:abs/1`) and the table slot of its
    /// implementation (the last table's, for a name two tables hold).
    pub named: BTreeMap<String, u32>,
    /// Every table entry, in table order.
    entries: Vec<Entry>,
    /// Slots stored in the data other than in a name table's entry.
    held: HashSet<u32>,
}

/// One entry of a name table.
#[derive(Debug, Clone)]
struct Entry {
    name: String,
    slot: u32,
    /// Where the name's first byte is, in memory and in the module's file,
    /// when it starts a string of its own.
    start: Option<(u32, usize)>,
}

/// The module's initial memory: its active data segments by address, each
/// with where its bytes are in the module's file.
struct Memory<'a> {
    segments: Vec<(u32, &'a [u8], usize)>,
}

impl<'a> Memory<'a> {
    fn bytes(&self, at: u32, len: usize) -> Option<&'a [u8]> {
        self.segments.iter().find_map(|&(start, data, _)| {
            let from = at.checked_sub(start)? as usize;
            data.get(from..from.checked_add(len)?)
        })
    }

    /// Where the byte at `at` is in the module's file, when the byte before
    /// it is a NUL of the same segment (`at` starts a string, not the tail
    /// of a longer one the linker merged it into).
    fn string_start(&self, at: u32) -> Option<usize> {
        self.segments.iter().find_map(|&(start, data, file)| {
            let from = at.checked_sub(start)? as usize;
            (from >= 1 && from < data.len() && data[from - 1] == 0).then_some(file + from)
        })
    }

    fn u32(&self, at: u32) -> Option<u32> {
        self.bytes(at, 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// The NUL-terminated string at `at`, if it looks like `m:f/arity`.
    fn native_name(&self, at: u32) -> Option<&'a str> {
        let (start, data, _) = *self
            .segments
            .iter()
            .find(|(s, d, _)| at >= *s && ((at - s) as usize) < d.len())?;
        let rest = &data[(at - start) as usize..];
        let end = rest.iter().take(MAX_NAME).position(|&b| b == 0)?;
        let name = std::str::from_utf8(&rest[..end]).ok()?;
        let (module, fa) = name.split_once(':')?;
        let (function, arity) = fa.rsplit_once('/')?;
        let ok = !module.is_empty()
            && module
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
            && !function.is_empty()
            && function.bytes().all(|b| b.is_ascii_graphic())
            && !arity.is_empty()
            && arity.bytes().all(|b| b.is_ascii_digit());
        ok.then_some(name)
    }
}

/// Reads the native name tables of `wasm` (see the module's docs).
pub fn named_slots(wasm: &[u8]) -> Result<Natives> {
    let mut segments = Vec::new();
    let mut table_len = 0u64;
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.context("atomvm.wasm: cannot parse the module")? {
            Payload::TableSection(reader) => {
                for table in reader {
                    table_len = table_len.max(table?.ty.initial);
                }
            }
            Payload::DataSection(reader) => {
                for data in reader {
                    let data = data?;
                    if let DataKind::Active { offset_expr, .. } = data.kind {
                        if let Some(Ok(Operator::I32Const { value })) =
                            offset_expr.get_operators_reader().into_iter().next()
                        {
                            let file = data.data.as_ptr() as usize - wasm.as_ptr() as usize;
                            segments.push((value as u32, data.data, file));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let memory = Memory { segments };
    // Name-table entries, and where each keeps its function pointer: a
    // pair's struct elsewhere, or the struct inline after the name.
    let mut entries = Vec::new();
    let mut pointer_at: HashSet<u32> = HashSet::new();
    let slot_ok = |slot: u32| slot != 0 && u64::from(slot) < table_len;
    for &(start, data, _) in &memory.segments {
        let first = start.next_multiple_of(4);
        for at in (first..start + data.len() as u32).step_by(4) {
            let (Some(name_ptr), Some(next)) = (memory.u32(at), memory.u32(at + 4)) else {
                continue;
            };
            let Some(name) = memory.native_name(name_ptr) else {
                continue;
            };
            let inline = memory
                .u32(at + 8)
                .filter(|&slot| NATIVE_TYPES[1..].contains(&next) && slot_ok(slot));
            let pair = || match (memory.u32(next), memory.u32(next + 4)) {
                (Some(tag), Some(slot)) if NATIVE_TYPES.contains(&tag) && slot_ok(slot) => {
                    Some(slot)
                }
                _ => None,
            };
            let (slot, pointer) = match inline {
                Some(slot) => (slot, at + 8),
                None => match pair() {
                    Some(slot) => (slot, next + 4),
                    None => continue,
                },
            };
            entries.push(Entry {
                name: name.to_string(),
                slot,
                start: memory.string_start(name_ptr).map(|file| (name_ptr, file)),
            });
            pointer_at.insert(pointer);
        }
    }
    let named: BTreeMap<String, u32> = entries.iter().map(|e| (e.name.clone(), e.slot)).collect();
    let slots: HashSet<u32> = entries.iter().map(|e| e.slot).collect();
    let mut held: HashSet<u32> = HashSet::new();
    for &(start, data, _) in &memory.segments {
        let first = start.next_multiple_of(4);
        for at in (first..start + data.len() as u32).step_by(4) {
            if let Some(v) = memory.u32(at) {
                if slots.contains(&v) && !pointer_at.contains(&at) {
                    held.insert(v);
                }
            }
        }
    }
    Ok(Natives {
        named,
        entries,
        held,
    })
}

impl Natives {
    /// The slots to stop counting as roots: those whose every name is
    /// neither imported (`m:f/a`) nor has its function name among `atoms`,
    /// and that nothing else holds.
    pub fn unused_slots(
        &self,
        imports: &HashSet<String>,
        atoms: &HashSet<String>,
    ) -> BTreeSet<u32> {
        let used = |name: &str| {
            imports.contains(name)
                || name
                    .split_once(':')
                    .and_then(|(_, fa)| fa.rsplit_once('/'))
                    .is_some_and(|(f, _)| atoms.contains(f))
        };
        let mut keep: HashSet<u32> = self.held.clone();
        for e in &self.entries {
            if used(&e.name) {
                keep.insert(e.slot);
            }
        }
        self.entries
            .iter()
            .map(|e| e.slot)
            .filter(|s| !keep.contains(s))
            .collect()
    }

    /// The names of the natives whose slots are in `slots`, in table order.
    pub fn names_in<'n>(&'n self, slots: &BTreeSet<u32>) -> Vec<&'n str> {
        self.entries
            .iter()
            .filter(|e| slots.contains(&e.slot))
            .map(|e| e.name.as_str())
            .collect()
    }

    /// Makes every lookup of a native whose slot is `unused` fail, in
    /// `wasm` (the module [`named_slots`] read): the first byte of its name
    /// becomes 0xFF, which no name a lookup compares with starts with. A
    /// call by such a name (built at run time) is then AtomVM's `undef`, an
    /// `UndefinedFunctionError` the app can rescue, rather than a trap in
    /// the cut implementation. A name that does not start a string of its
    /// own, or whose address `covered` says the boot image writes over, is
    /// left as it is. Returns how many names it changed.
    pub fn forget_unused(
        &self,
        wasm: &mut [u8],
        unused: &BTreeSet<u32>,
        covered: impl Fn(u32) -> bool,
    ) -> usize {
        let mut changed = 0;
        for e in &self.entries {
            if let Some((at, file)) = e.start {
                if unused.contains(&e.slot) && !covered(at) {
                    wasm[file] = 0xFF;
                    changed += 1;
                }
            }
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boot::prune::prune;
    use crate::boot::wasm_test::instance;

    /// A runtime in miniature: natives named as AtomVM's gperf tables name
    /// them (a pair of pointers: the name, then a struct of a type tag and a
    /// table slot; or, for `erlang:bif/1`, the name and the struct inline),
    /// an unnamed struct that shares `lists:bar/1`'s
    /// slot the way a platform NIF would, and `erlang:direct/0`, whose
    /// implementation other code also calls directly. `call(slot)` calls
    /// through the table, as the interpreter calls a native.
    fn runtime() -> Vec<u8> {
        // Data at 1024: names at 1024.. (and 1140), structs at 1100.., the
        // table of pairs at 1200.., the inline entry at 1260, the unnamed
        // struct at 1296.
        let names = [
            ("erlang:abs/1", 1024),
            ("erlang:foo/2", 1040),
            ("lists:bar/1", 1056),
            ("erlang:direct/0", 1072),
            ("erlang:bif/1", 1140),
        ];
        let mut data = vec![0u8; 300];
        for (name, at) in names {
            let o = at - 1024;
            data[o..o + name.len()].copy_from_slice(name.as_bytes());
        }
        let put = |data: &mut Vec<u8>, at: usize, v: u32| {
            data[at - 1024..at - 1020].copy_from_slice(&v.to_le_bytes());
        };
        // Structs: NIF (2), BIF (5), GC BIF (6), NIF; slots 11..=14.
        for (i, tag) in [2u32, 5, 6, 2].into_iter().enumerate() {
            put(&mut data, 1100 + 8 * i, tag);
            put(&mut data, 1104 + 8 * i, i as u32 + 11);
        }
        for (i, (_, name_at)) in names[..4].iter().enumerate() {
            put(&mut data, 1200 + 8 * i, *name_at as u32);
            put(&mut data, 1204 + 8 * i, 1100 + 8 * i as u32);
        }
        // A BIF table entry, its struct inline: name, BIF tag, slot 15.
        put(&mut data, 1260, 1140);
        put(&mut data, 1264, 5);
        put(&mut data, 1268, 15);
        // gperf's empty entries: a pointer to "" and no struct.
        put(&mut data, 1232, 1099);
        put(&mut data, 1236, 0);
        put(&mut data, 1296, 2);
        put(&mut data, 1300, 13);
        let bytes: String = data.iter().map(|b| format!("\\{b:02x}")).collect();
        wat::parse_str(format!(
            r#"(module
                 (memory (export "memory") 1)
                 (table 16 funcref)
                 (elem (i32.const 11) $abs $foo $bar $direct $bif)
                 (data (i32.const 1024) "{bytes}")
                 (type $native (func (result i32)))
                 (func $abs (result i32) i32.const 10)
                 (func $foo (result i32) i32.const 20)
                 (func $bar (result i32) i32.const 30)
                 (func $direct (result i32) i32.const 40)
                 (func $bif (result i32) i32.const 50)
                 (func (export "direct") (result i32) call $direct)
                 (func (export "call") (param i32) (result i32)
                   local.get 0 call_indirect (type $native)))"#
        ))
        .unwrap()
    }

    fn call(wasm: &[u8], slot: i32) -> Result<i32, wasmi::Error> {
        let (mut store, instance) = instance(wasm)?;
        let f = instance.get_func(&store, "call").unwrap();
        f.typed::<i32, i32>(&store)?.call(&mut store, slot)
    }

    fn set(items: &[&str]) -> HashSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_name_tables_are_read_and_only_the_slots_nothing_names_or_holds_go() {
        let wasm = runtime();
        let natives = named_slots(&wasm).unwrap();
        let named: Vec<(&str, u32)> = natives
            .named
            .iter()
            .map(|(n, s)| (n.as_str(), *s))
            .collect();
        assert_eq!(
            named,
            [
                ("erlang:abs/1", 11),
                ("erlang:bif/1", 15),
                ("erlang:direct/0", 14),
                ("erlang:foo/2", 12),
                ("lists:bar/1", 13)
            ]
        );
        // Nothing imported or named: only `bar` is held, by the unnamed
        // struct.
        let none = natives.unused_slots(&set(&[]), &set(&[]));
        assert_eq!(none.into_iter().collect::<Vec<_>>(), [11, 12, 14, 15]);
        // An import keeps its slot; an atom keeps every arity of its name.
        let unused = natives.unused_slots(&set(&["erlang:abs/1"]), &set(&["foo", "direct", "bif"]));
        assert!(unused.is_empty(), "{unused:?}");

        // `foo` and `direct` are cut from the table; `direct`'s direct caller
        // keeps it, so only `foo` is emptied.
        let unused = natives.unused_slots(&set(&["erlang:abs/1"]), &set(&["bif"]));
        assert_eq!(unused.iter().copied().collect::<Vec<_>>(), [12, 14]);
        assert_eq!(
            natives.names_in(&unused),
            ["erlang:foo/2", "erlang:direct/0"]
        );
        let pruned = prune(&wasm, &Default::default(), &[], &unused).unwrap();
        assert_eq!(pruned.emptied, 1);
        // Their names no longer match a lookup; a byte the boot image writes
        // over is left alone.
        let mut forgot = wasm.clone();
        assert_eq!(
            natives.forget_unused(&mut forgot, &unused, |at| at == 1072),
            1
        );
        let after: Vec<String> = named_slots(&forgot).unwrap().named.into_keys().collect();
        assert_eq!(
            after,
            [
                "erlang:abs/1",
                "erlang:bif/1",
                "erlang:direct/0",
                "lists:bar/1"
            ]
        );
        for (slot, answer) in [(11, 10), (13, 30), (14, 40)] {
            assert_eq!(call(&wasm, slot).unwrap(), answer);
            assert_eq!(call(&pruned.wasm, slot).unwrap(), answer);
        }
        assert_eq!(call(&wasm, 12).unwrap(), 20);
        let trap = call(&pruned.wasm, 12).unwrap_err();
        assert!(trap.to_string().contains("unreachable"), "{trap}");
    }
}
