//! The BIFs and NIFs a worker can call, and the table slots of the rest.
//!
//! AtomVM finds a BIF or NIF by name: `bifs.gperf` and `nifs.gperf` compile
//! to read-only tables of `{const char *name, const struct Nif *nif}` pairs
//! (8 bytes on wasm32), and each `struct Bif`/`struct Nif` is a function
//! type tag (`BIFFunctionType` 5, `GCBIFFunctionType` 6, `NIFFunctionType`
//! 2) followed by the implementation's function pointer, which in
//! WebAssembly is an index into the function table. [`named_slots`] reads
//! those pairs out of the module's data segments.
//!
//! A worker runs only its archive's code, and that code reaches a native
//! either by a call the module imports (`ImpT`) or through `apply` with a
//! function name held as an atom, the same premise the shake makes of
//! module names ([`avm::prune_functions`]). [`unused_slots`] gives the
//! table slots of the natives neither names: [`super::prune`] then stops
//! counting them as roots, and the implementations only they reached become
//! `unreachable`. A slot stays when the same value is stored anywhere else
//! in the data (another struct, a platform NIF's, may hold the function).
//! Code that took an implementation's address would hold it as an
//! `i32.const`, but no code does: in AtomVM's sources at the pinned commit
//! and in our adapter, a BIF's or NIF's implementation is named only in its
//! struct's initializer or in direct calls (which keep it alive through the
//! call graph). An `i32.const` cannot tell an address from a number (the
//! slots here are 84 to 293), so checking the code for one kept 40 more of
//! the starter's natives for nothing.

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
    /// implementation.
    pub named: BTreeMap<String, u32>,
    /// Slots stored in the data other than in a name table's struct.
    held: HashSet<u32>,
}

/// The module's initial memory: its active data segments by address.
struct Memory<'a> {
    segments: Vec<(u32, &'a [u8])>,
}

impl<'a> Memory<'a> {
    fn bytes(&self, at: u32, len: usize) -> Option<&'a [u8]> {
        self.segments.iter().find_map(|&(start, data)| {
            let from = at.checked_sub(start)? as usize;
            data.get(from..from.checked_add(len)?)
        })
    }

    fn u32(&self, at: u32) -> Option<u32> {
        self.bytes(at, 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// The NUL-terminated string at `at`, if it looks like `m:f/arity`.
    fn native_name(&self, at: u32) -> Option<&'a str> {
        let (start, data) = *self
            .segments
            .iter()
            .find(|(s, d)| at >= *s && ((at - s) as usize) < d.len())?;
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
                            segments.push((value as u32, data.data));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let memory = Memory { segments };
    // Name-table pairs, and where each struct keeps its function pointer.
    let mut named = BTreeMap::new();
    let mut pointer_at: HashSet<u32> = HashSet::new();
    for &(start, data) in &memory.segments {
        let first = start.next_multiple_of(4);
        for at in (first..start + data.len() as u32).step_by(4) {
            let (Some(name_ptr), Some(nif)) = (memory.u32(at), memory.u32(at + 4)) else {
                continue;
            };
            let Some(name) = memory.native_name(name_ptr) else {
                continue;
            };
            let (Some(tag), Some(slot)) = (memory.u32(nif), memory.u32(nif + 4)) else {
                continue;
            };
            if NATIVE_TYPES.contains(&tag) && slot != 0 && u64::from(slot) < table_len {
                named.insert(name.to_string(), slot);
                pointer_at.insert(nif + 4);
            }
        }
    }
    let slots: HashSet<u32> = named.values().copied().collect();
    let mut held: HashSet<u32> = HashSet::new();
    for &(start, data) in &memory.segments {
        let first = start.next_multiple_of(4);
        for at in (first..start + data.len() as u32).step_by(4) {
            if let Some(v) = memory.u32(at) {
                if slots.contains(&v) && !pointer_at.contains(&at) {
                    held.insert(v);
                }
            }
        }
    }
    Ok(Natives { named, held })
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
        for (name, &slot) in &self.named {
            if used(name) {
                keep.insert(slot);
            }
        }
        self.named
            .values()
            .copied()
            .filter(|s| !keep.contains(s))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boot::prune::prune;
    use crate::boot::wasm_test::instance;

    /// A runtime in miniature: three natives named as AtomVM's gperf tables
    /// name them (a pair of pointers: the name, then a struct of a type tag
    /// and a table slot), an unnamed struct that shares `lists:bar/1`'s
    /// slot the way a platform NIF would, and `erlang:direct/0`, whose
    /// implementation other code also calls directly. `call(slot)` calls
    /// through the table, as the interpreter calls a native.
    fn runtime() -> Vec<u8> {
        // Data at 1024: names at 1024.., structs at 1100.., the table of
        // pairs at 1200.., the unnamed struct at 1300.
        let names = [
            ("erlang:abs/1", 1024),
            ("erlang:foo/2", 1040),
            ("lists:bar/1", 1056),
            ("erlang:direct/0", 1072),
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
        for (i, (_, name_at)) in names.iter().enumerate() {
            put(&mut data, 1200 + 8 * i, *name_at as u32);
            put(&mut data, 1204 + 8 * i, 1100 + 8 * i as u32);
        }
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
                 (elem (i32.const 11) $abs $foo $bar $direct)
                 (data (i32.const 1024) "{bytes}")
                 (type $native (func (result i32)))
                 (func $abs (result i32) i32.const 10)
                 (func $foo (result i32) i32.const 20)
                 (func $bar (result i32) i32.const 30)
                 (func $direct (result i32) i32.const 40)
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
                ("erlang:direct/0", 14),
                ("erlang:foo/2", 12),
                ("lists:bar/1", 13)
            ]
        );
        // Nothing imported or named: only `bar` is held, by the unnamed
        // struct.
        let none = natives.unused_slots(&set(&[]), &set(&[]));
        assert_eq!(none.into_iter().collect::<Vec<_>>(), [11, 12, 14]);
        // An import keeps its slot; an atom keeps every arity of its name.
        let unused = natives.unused_slots(&set(&["erlang:abs/1"]), &set(&["foo", "direct"]));
        assert!(unused.is_empty(), "{unused:?}");

        // `foo` and `direct` are cut from the table; `direct`'s direct caller
        // keeps it, so only `foo` is emptied.
        let unused = natives.unused_slots(&set(&["erlang:abs/1"]), &set(&[]));
        assert_eq!(unused.iter().copied().collect::<Vec<_>>(), [12, 14]);
        let pruned = prune(&wasm, &Default::default(), &[], &unused).unwrap();
        assert_eq!(pruned.emptied, 1);
        for (slot, answer) in [(11, 10), (13, 30), (14, 40)] {
            assert_eq!(call(&wasm, slot).unwrap(), answer);
            assert_eq!(call(&pruned.wasm, slot).unwrap(), answer);
        }
        assert_eq!(call(&wasm, 12).unwrap(), 20);
        let trap = call(&pruned.wasm, 12).unwrap_err();
        assert!(trap.to_string().contains("unreachable"), "{trap}");
    }
}
