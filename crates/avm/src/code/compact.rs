//! A module's atom, import, literal and fun tables cut to what its code
//! still uses.
//!
//! [`super::strip_functions`] leaves `AtU8`, `ImpT` and `FunT` whole and
//! the literals of cut functions as `[]`, so that no instruction changes;
//! the atoms, imports, literals and funs (with their lambdas' long names)
//! only the cut functions used stay behind, about half of each in a
//! worker's archive. AtomVM keeps every atom of a
//! loaded module in its global atom table and resolves every import at
//! load, so they cost the boot image too. [`compact_tables`] renumbers all
//! four: each instruction is copied as it is except its atom and literal
//! operands, the import operand of a `call_ext`/`bif`/`gc_bif` and the fun
//! operand of a `make_fun2`/`make_fun3`, which are encoded again with the
//! new index (a `FunT` row keeps its old index and uniq columns, which
//! only name the fun). Code refers to code by label number,
//! never by offset, so the instructions that become shorter move nothing
//! that anything points at, and so do the `line` instructions it leaves
//! out when the module loses its `Line` chunk (as an archive's modules do).

use super::{u32_table, Reader, ARITY};
use crate::beam::{Beam, FormWriter, ATU8, AVMN, CODE, EXPT, FUNT, IMPT, LINE, LITT, LITU, LOCT};
use crate::error::{Error, ErrorKind, Result};
use crate::ChunkId;

/// `line Index`: an index into the `Line` chunk, for stack traces.
const LINE_OP: u8 = 153;

/// The top-level operand of `op` that is an index into `ImpT`.
fn import_operand(op: u8) -> Option<usize> {
    match op {
        // bif0 Bif Reg
        9 => Some(0),
        // call_ext, call_ext_last, call_ext_only: Arity Import ...;
        // bif1, bif2: Fail Bif ...
        7 | 8 | 78 | 10 | 11 => Some(1),
        // gc_bif1..3: Fail Live Bif ...
        124 | 125 | 152 => Some(2),
        _ => None,
    }
}

/// `v` in the compact term encoding with `tag` (as the compiler writes it:
/// the shortest form, a leading zero byte when the top bit is set).
pub(super) fn put_value(tag: u8, v: u64, out: &mut Vec<u8>) {
    if v < 16 {
        out.push(((v as u8) << 4) | tag);
    } else if v < 0x800 {
        out.push((((v >> 3) & 0xE0) as u8) | 0x08 | tag);
        out.push(v as u8);
    } else {
        let be = v.to_be_bytes();
        let first = be.iter().position(|&b| b != 0).unwrap_or(7);
        let mut bytes = be[first..].to_vec();
        if bytes[0] & 0x80 != 0 {
            bytes.insert(0, 0);
        }
        out.push((((bytes.len() - 2) as u8) << 5) | 0x18 | tag);
        out.extend_from_slice(&bytes);
    }
}

/// The new index of each old one (`None`: unused), numbering the used ones
/// from `first` in their old order.
fn renumber(used: &[bool], first: u32) -> Vec<Option<u32>> {
    let mut next = first;
    used.iter()
        .map(|&u| {
            u.then(|| {
                next += 1;
                next - 1
            })
        })
        .collect()
}

/// The tables' maps, or none yet (the scanning pass).
#[derive(Clone, Copy)]
struct Maps<'m> {
    atoms: &'m [Option<u32>],
    imports: &'m [Option<u32>],
    literals: &'m [Option<u32>],
    funs: &'m [Option<u32>],
}

/// What the code uses of each table, by index (atom 0 unused).
struct Used {
    atoms: Vec<bool>,
    imports: Vec<bool>,
    literals: Vec<bool>,
    funs: Vec<bool>,
}

/// The top-level operand of `op` that is an index into `FunT`:
/// `make_fun2 Fun` and `make_fun3 Fun Dst FreeVars`.
fn fun_operand(op: u8) -> Option<usize> {
    matches!(op, 103 | 171).then_some(0)
}

/// Copies the code's instructions into `out`, marking the atoms, imports,
/// literals and funs they use in `used`, with the indices `maps` gives when
/// there are maps, and leaving out `line` instructions unless `lines`.
fn copy_code(
    r: &mut Reader<'_>,
    out: &mut Vec<u8>,
    maps: Option<Maps<'_>>,
    used: &mut Used,
    lines: bool,
) -> Result<()> {
    loop {
        let op = r.byte()?;
        if op == LINE_OP && !lines {
            r.operand()?;
            r.pending.clear();
            continue;
        }
        out.push(op);
        if op == 3 {
            return if r.pos == r.d.len() {
                Ok(())
            } else {
                Err(r.err("code after int_code_end".into()))
            };
        }
        let arity = *ARITY
            .get(op as usize)
            .filter(|_| op != 0)
            .ok_or_else(|| r.err(format!("unknown opcode {op}")))?;
        for k in 0..usize::from(arity) {
            let table = if import_operand(op) == Some(k) {
                Some((&mut used.imports, maps.map(|m| m.imports), "import"))
            } else if fun_operand(op) == Some(k) {
                Some((&mut used.funs, maps.map(|m| m.funs), "fun"))
            } else {
                None
            };
            if let Some((marks, map, what)) = table {
                let start = r.pos;
                let b = r.byte()?;
                if b & 7 != 0 {
                    return Err(r.err(format!("opcode {op}: its {what} is not a number")));
                }
                let v = r.value(b)? as usize;
                *marks
                    .get_mut(v)
                    .ok_or_else(|| r.err(format!("{what} {v} past its table")))? = true;
                match map.and_then(|m| m[v]) {
                    Some(new) => put_value(0, u64::from(new), out),
                    None => out.extend_from_slice(&r.d[start..r.pos]),
                }
            } else {
                copy_operand(r, out, maps, used)?;
            }
        }
    }
}

fn copy_operand(
    r: &mut Reader<'_>,
    out: &mut Vec<u8>,
    maps: Option<Maps<'_>>,
    used: &mut Used,
) -> Result<()> {
    let start = r.pos;
    let b = r.byte()?;
    let tag = b & 7;
    if tag != 7 {
        let v = r.value(b)?;
        // Atom 0 is `[]`.
        if tag == 2 && v > 0 {
            *used
                .atoms
                .get_mut(v as usize)
                .ok_or_else(|| r.err(format!("atom {v} past the atom table")))? = true;
            if let Some(new) = maps.and_then(|m| m.atoms[v as usize]) {
                put_value(2, u64::from(new), out);
                return Ok(());
            }
        }
        out.extend_from_slice(&r.d[start..r.pos]);
        return Ok(());
    }
    if b >> 4 == 1 {
        // A list: its length, then its operands (select_val's atoms).
        let n = r.unsigned()?;
        out.extend_from_slice(&r.d[start..r.pos]);
        for _ in 0..n {
            copy_operand(r, out, maps, used)?;
        }
        return Ok(());
    }
    if b >> 4 == 4 {
        // A literal: its index in the literal table.
        let v = r.unsigned()? as usize;
        *used
            .literals
            .get_mut(v)
            .ok_or_else(|| r.err(format!("literal {v} past the literal table")))? = true;
        match maps.and_then(|m| m.literals[v]) {
            Some(new) => {
                out.push(b);
                put_value(0, u64::from(new), out);
            }
            None => out.extend_from_slice(&r.d[start..r.pos]),
        }
        return Ok(());
    }
    // Floats, float registers, allocation lists, typed registers: no atom
    // or literal in any. Read again from the tag byte, whole.
    r.pos = start;
    r.operand()?;
    r.pending.clear();
    out.extend_from_slice(&r.d[start..r.pos]);
    Ok(())
}

fn malformed(chunk: ChunkId, what: &str) -> Error {
    Error::new(ErrorKind::Malformed(what.to_string())).with_chunk(chunk)
}

/// `beam` with `AtU8` and `ImpT` holding only what its code, its export
/// and local tables and its used imports and funs name, the literal table
/// (written as `LitU`) only the literals its code loads and `FunT` only the
/// funs it makes (see the module's docs). The chunks `drop` names are left out; when that leaves no `Line`
/// chunk, the `line` instructions go too. A module with an `AVMN` chunk
/// (AtomVM's precompiled native code, which refers to atoms and imports
/// too), or whose atom table is in OTP 28's compact form, keeps its tables
/// as they are. Returns the whole BEAM file.
pub fn compact_tables(beam: &Beam<'_>, drop: &[ChunkId]) -> Result<Vec<u8>> {
    let Some(atu8) = beam.chunk(ATU8) else {
        return Err(Error::new(ErrorKind::MissingChunk(ATU8)));
    };
    let compact_form = atu8.data.get(..4).is_some_and(|b| b[0] & 0x80 != 0);
    if compact_form || beam.chunk(AVMN).is_some() {
        return Ok(beam.without(drop));
    }
    let atoms = beam.atoms();
    let table = |id: ChunkId, width: usize| -> Result<Vec<Vec<u32>>> {
        match beam.chunk(id) {
            Some(c) => u32_table(c.data, width).ok_or_else(|| malformed(id, "a bad table")),
            None => Ok(Vec::new()),
        }
    };
    let imports = table(IMPT, 3)?;
    let (exports, locals, funs) = (table(EXPT, 3)?, table(LOCT, 3)?, table(FUNT, 6)?);

    let literal_table = beam.literal_table(crate::DEFAULT_INFLATE_CAP)?;
    let literals = match &literal_table {
        Some(t) => {
            super::split_literals(t).ok_or_else(|| malformed(LITU, "a bad literal table"))?
        }
        None => Vec::new(),
    };

    let mut used = Used {
        atoms: vec![false; atoms.len() + 1],
        imports: vec![false; imports.len()],
        literals: vec![false; literals.len()],
        funs: vec![false; funs.len()],
    };
    // Without the `Line` chunk a `line` instruction indexes nothing, and
    // AtomVM still decodes it every time it runs.
    let lines = beam.chunk(LINE).is_some() && !drop.contains(&LINE);
    let (code, mut r) = super::instructions(beam)?;
    let header = r.pos;
    let mut scratch = Vec::new();
    copy_code(&mut r, &mut scratch, None, &mut used, lines)?;
    used.atoms[1] = true;
    let mut mark = |i: u32, id: ChunkId| -> Result<()> {
        *used
            .atoms
            .get_mut(i as usize)
            .filter(|_| i > 0)
            .ok_or_else(|| malformed(id, "an atom index past the atom table"))? = true;
        Ok(())
    };
    for (id, rows) in [(EXPT, &exports), (LOCT, &locals)] {
        for row in rows.iter() {
            mark(row[0], id)?;
        }
    }
    for (row, _) in funs.iter().zip(&used.funs).filter(|(_, &u)| u) {
        mark(row[0], FUNT)?;
    }
    for (row, _) in imports.iter().zip(&used.imports).filter(|(_, &u)| u) {
        mark(row[0], IMPT)?;
        mark(row[1], IMPT)?;
    }
    let atom_map = renumber(&used.atoms[1..], 1);
    let atom_map: Vec<Option<u32>> = std::iter::once(None).chain(atom_map).collect();
    let import_map = renumber(&used.imports, 0);
    let literal_map = renumber(&used.literals, 0);
    let fun_map = renumber(&used.funs, 0);
    let maps = Maps {
        atoms: &atom_map,
        imports: &import_map,
        literals: &literal_map,
        funs: &fun_map,
    };
    let new_atom = |i: u32| atom_map[i as usize].expect("every table's atoms are marked");

    let (_, mut r) = super::instructions(beam)?;
    let mut code_out = code.data[..header].to_vec();
    copy_code(&mut r, &mut code_out, Some(maps), &mut used, lines)?;

    let rows = |rows: &[Vec<u32>], keep: &dyn Fn(usize) -> bool, atom_cols: &[usize]| {
        let kept: Vec<&Vec<u32>> = rows
            .iter()
            .enumerate()
            .filter(|(i, _)| keep(*i))
            .map(|(_, r)| r)
            .collect();
        let mut d = (kept.len() as u32).to_be_bytes().to_vec();
        for row in kept {
            for (c, &v) in row.iter().enumerate() {
                let v = if atom_cols.contains(&c) {
                    new_atom(v)
                } else {
                    v
                };
                d.extend_from_slice(&v.to_be_bytes());
            }
        }
        d
    };
    let mut out = FormWriter::new(beam.bytes().len());
    for c in beam.chunks().iter().filter(|c| !drop.contains(&c.id)) {
        let data: Vec<u8> = match c.id {
            LITT | LITU => {
                let kept: Vec<&[u8]> = literals
                    .iter()
                    .zip(&used.literals)
                    .filter(|(_, &u)| u)
                    .map(|(&t, _)| t)
                    .collect();
                out.chunk(LITU, &super::join_literals(&kept));
                continue;
            }
            ATU8 => {
                let kept: Vec<&str> = atoms
                    .iter()
                    .zip(&used.atoms[1..])
                    .filter(|(_, &u)| u)
                    .map(|(a, _)| *a)
                    .collect();
                let mut d = (kept.len() as u32).to_be_bytes().to_vec();
                for a in kept {
                    d.push(a.len() as u8);
                    d.extend_from_slice(a.as_bytes());
                }
                d
            }
            CODE => std::mem::take(&mut code_out),
            IMPT => rows(&imports, &|i| used.imports[i], &[0, 1]),
            EXPT => rows(&exports, &|_| true, &[0]),
            LOCT => rows(&locals, &|_| true, &[0]),
            FUNT => rows(&funs, &|i| used.funs[i], &[0]),
            _ => c.data.to_vec(),
        };
        out.chunk(c.id, &data);
    }
    Ok(out.finish())
}
