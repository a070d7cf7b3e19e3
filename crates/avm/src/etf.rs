//! Walking a BEAM literal table (External Term Format): its atoms, and
//! whether it is a well-formed table at all.
//!
//! See: erts/doc/src/erl_ext_dist.xml. The walk is iterative with an explicit
//! work stack, so deeply nested terms cannot overflow the call stack, and every
//! length is checked against the input before it is used.

/// Errors are (message, offset inside the table); the caller adds the chunk.
pub(crate) type EtfResult<T> = Result<T, (String, usize)>;

/// An atom as it is spelled in the term.
enum Atom<'a> {
    /// `ATOM_EXT`, `SMALL_ATOM_EXT`: one byte per character.
    Latin1(&'a [u8]),
    /// `ATOM_UTF8_EXT`, `SMALL_ATOM_UTF8_EXT`, already checked to be UTF-8.
    Utf8(&'a str),
}

/// Atoms of every literal in a literal table: `[count u32]` then per literal
/// `[size u32][term_to_binary bytes]`. Deduplicated, first occurrence first.
pub(crate) fn literal_table_atoms(table: &[u8]) -> EtfResult<Vec<String>> {
    let mut atoms: Vec<String> = Vec::new();
    walk_literal_table(table, &mut |_, atom| {
        let name = atom.name();
        if !atoms.contains(&name) {
            atoms.push(name);
        }
    })?;
    Ok(atoms)
}

/// Checks that `table` is exactly one literal table: the count, then for each
/// literal its size and a complete external term of exactly that size, and
/// nothing after the last one. Allocates nothing per atom.
pub(crate) fn check_literal_table(table: &[u8]) -> EtfResult<()> {
    walk_literal_table(table, &mut |_, _| {})
}

/// The atoms of each literal of a literal table, by literal index
/// (deduplicated within a literal): what one function's literal loads name.
pub(crate) fn atoms_by_literal(table: &[u8]) -> EtfResult<Vec<Vec<String>>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    walk_literal_table(table, &mut |i, atom| {
        if out.len() <= i {
            out.resize_with(i + 1, Vec::new);
        }
        let name = atom.name();
        if !out[i].contains(&name) {
            out[i].push(name);
        }
    })?;
    Ok(out)
}

impl Atom<'_> {
    fn name(&self) -> String {
        match self {
            Atom::Latin1(bytes) => bytes.iter().map(|&b| b as char).collect(),
            Atom::Utf8(s) => (*s).to_owned(),
        }
    }
}

/// Walks every literal of `table`, calling `on_atom(literal index, atom)`.
fn walk_literal_table(table: &[u8], on_atom: &mut impl FnMut(usize, Atom<'_>)) -> EtfResult<()> {
    let mut r = Reader { d: table, pos: 0 };
    let count = r.u32()? as usize;
    // Every literal takes at least its 4-byte size: a larger count is a lie
    // (or not a table at all, such as a zlib stream), told at the count.
    if count > (table.len() - 4) / 4 {
        return Err((
            format!(
                "count {count} exceeds what {} bytes can hold",
                table.len() - 4
            ),
            0,
        ));
    }
    for i in 0..count {
        let size_at = r.pos;
        let size = r.u32()? as usize;
        let start = r.pos;
        let term = r.take(size).map_err(|_| {
            (
                format!(
                    "literal {i} runs past the end: declares {size} bytes, only {} remain",
                    table.len() - start
                ),
                size_at,
            )
        })?;
        let mut t = Reader { d: term, pos: 0 };
        walk_term(&mut t, &mut |atom| on_atom(i, atom))
            .map_err(|(m, at)| (format!("literal {i}: {m}"), start + at))?;
        if t.pos != term.len() {
            return Err((
                format!("literal {i}: {} bytes after the term", term.len() - t.pos),
                start + t.pos,
            ));
        }
    }
    if r.pos != table.len() {
        return Err((
            format!("{} bytes after the last literal", table.len() - r.pos),
            r.pos,
        ));
    }
    Ok(())
}

struct Reader<'a> {
    d: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> EtfResult<&'a [u8]> {
        match self.d.get(self.pos..self.pos.saturating_add(n)) {
            Some(s) if self.pos.checked_add(n).is_some() => {
                self.pos += n;
                Ok(s)
            }
            _ => Err((
                format!("needs {n} bytes, {} remain", self.d.len() - self.pos),
                self.pos,
            )),
        }
    }
    fn u8(&mut self) -> EtfResult<u8> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> EtfResult<u16> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> EtfResult<u32> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

enum Work {
    /// This many more terms follow.
    Terms(u64),
    /// Skip this many bytes (fixed fields after a nested term).
    Skip(usize),
}

/// Walks one `term_to_binary` encoding (version byte 131 first), calling
/// `on_atom` for each atom in it.
fn walk_term<'a>(r: &mut Reader<'a>, on_atom: &mut impl FnMut(Atom<'a>)) -> EtfResult<()> {
    let at = r.pos;
    if r.u8()? != 131 {
        return Err((
            "missing the external term format version byte 131".into(),
            at,
        ));
    }
    let mut stack = vec![Work::Terms(1)];
    while let Some(top) = stack.last_mut() {
        match top {
            Work::Skip(n) => {
                let n = *n;
                stack.pop();
                r.take(n)?;
                continue;
            }
            Work::Terms(0) => {
                stack.pop();
                continue;
            }
            Work::Terms(n) => *n -= 1,
        }
        let tag_at = r.pos;
        let tag = r.u8()?;
        match tag {
            // ATOM_EXT, SMALL_ATOM_EXT: Latin-1
            100 | 115 => {
                let len = if tag == 100 {
                    r.u16()? as usize
                } else {
                    r.u8()? as usize
                };
                on_atom(Atom::Latin1(r.take(len)?));
            }
            // ATOM_UTF8_EXT, SMALL_ATOM_UTF8_EXT
            118 | 119 => {
                let len = if tag == 118 {
                    r.u16()? as usize
                } else {
                    r.u8()? as usize
                };
                let bytes = r.take(len)?;
                let s = std::str::from_utf8(bytes)
                    .map_err(|_| ("atom is not valid UTF-8".to_string(), tag_at))?;
                on_atom(Atom::Utf8(s));
            }
            97 => drop(r.take(1)?),  // SMALL_INTEGER_EXT
            98 => drop(r.take(4)?),  // INTEGER_EXT
            99 => drop(r.take(31)?), // FLOAT_EXT
            70 => drop(r.take(8)?),  // NEW_FLOAT_EXT
            106 => {}                // NIL_EXT
            107 => {
                // STRING_EXT
                let n = r.u16()? as usize;
                r.take(n)?;
            }
            109 => {
                // BINARY_EXT
                let n = r.u32()? as usize;
                r.take(n)?;
            }
            77 => {
                // BIT_BINARY_EXT
                let n = r.u32()? as usize;
                r.take(1 + n)?;
            }
            110 => {
                // SMALL_BIG_EXT
                let n = r.u8()? as usize;
                r.take(1 + n)?;
            }
            111 => {
                // LARGE_BIG_EXT
                let n = r.u32()? as usize;
                r.take(1usize.saturating_add(n))?;
            }
            104 => {
                let n = r.u8()? as u64; // SMALL_TUPLE_EXT
                stack.push(Work::Terms(n));
            }
            105 => {
                let n = r.u32()? as u64; // LARGE_TUPLE_EXT
                stack.push(Work::Terms(n));
            }
            108 => {
                let n = r.u32()? as u64; // LIST_EXT: elements, then the tail
                stack.push(Work::Terms(n + 1));
            }
            116 => {
                let n = r.u32()? as u64; // MAP_EXT: key/value pairs
                stack.push(Work::Terms(2 * n));
            }
            113 => stack.push(Work::Terms(3)), // EXPORT_EXT: module, function, arity
            112 => {
                // NEW_FUN_EXT: size, arity, uniq[16], index, num_free, then
                // module, old_index, old_uniq, pid and the free variables.
                r.take(4 + 1 + 16 + 4)?;
                let num_free = r.u32()? as u64;
                stack.push(Work::Terms(4 + num_free));
            }
            // Node atom first, then fixed-size fields.
            103 => push_node(&mut stack, 9),  // PID_EXT
            88 => push_node(&mut stack, 12),  // NEW_PID_EXT
            102 => push_node(&mut stack, 5),  // PORT_EXT
            89 => push_node(&mut stack, 8),   // NEW_PORT_EXT
            120 => push_node(&mut stack, 12), // V4_PORT_EXT
            101 => push_node(&mut stack, 5),  // REFERENCE_EXT
            114 | 90 => {
                // NEW_REFERENCE_EXT / NEWER_REFERENCE_EXT: len u16, node, creation, ids
                let len = r.u16()? as usize;
                let creation = if tag == 114 { 1 } else { 4 };
                push_node(&mut stack, creation + 4 * len);
            }
            _ => return Err((format!("unsupported external term tag {tag}"), tag_at)),
        }
    }
    Ok(())
}

fn push_node(stack: &mut Vec<Work>, fixed: usize) {
    stack.push(Work::Skip(fixed));
    stack.push(Work::Terms(1));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(terms: &[&[u8]]) -> Vec<u8> {
        let mut v = (terms.len() as u32).to_be_bytes().to_vec();
        for t in terms {
            v.extend_from_slice(&(t.len() as u32).to_be_bytes());
            v.extend_from_slice(t);
        }
        v
    }

    #[test]
    fn finds_atoms_in_nested_terms_once() {
        // [{a, <<"bin">>}, #{b => 'ä' (latin-1)}, fun m:f/1 | c]
        let term: &[u8] = &[
            131, 108, 0, 0, 0, 3, // list of 3, then the tail
            104, 2, 115, 1, b'a', 109, 0, 0, 0, 3, b'b', b'i', b'n', // {a, <<"bin">>}
            116, 0, 0, 0, 1, 119, 1, b'b', 100, 0, 1, 0xe4, // #{b => 'ä'}
            113, 119, 1, b'm', 119, 1, b'f', 97, 1, // fun m:f/1
            119, 1, b'c', // improper tail
        ];
        let again: &[u8] = &[131, 119, 1, b'a'];
        assert_eq!(
            literal_table_atoms(&table(&[term, again])).unwrap(),
            ["a", "b", "ä", "m", "f", "c"]
        );
    }

    #[test]
    fn skips_fixed_fields_after_node_atoms() {
        // NEW_PID_EXT: node atom then 12 bytes; then a plain atom.
        let mut term = vec![131, 104, 2, 88, 119, 4, b'n', b'o', b'd', b'e'];
        term.extend_from_slice(&[0; 12]);
        term.extend_from_slice(&[119, 1, b'z']);
        assert_eq!(
            literal_table_atoms(&table(&[&term])).unwrap(),
            ["node", "z"]
        );
    }

    #[test]
    fn deep_nesting_does_not_recurse() {
        let mut term = vec![131];
        for _ in 0..100_000 {
            term.extend_from_slice(&[104, 1]);
        }
        term.extend_from_slice(&[119, 1, b'd']);
        assert_eq!(literal_table_atoms(&table(&[&term])).unwrap(), ["d"]);
    }

    #[test]
    fn malformed_tables_report_positions() {
        let (msg, at) = literal_table_atoms(&table(&[&[131, 200]])).unwrap_err();
        assert!(msg.contains("unsupported external term tag 200"), "{msg}");
        assert_eq!(at, 9);
        let (msg, _) = literal_table_atoms(&table(&[&[130, 106]])).unwrap_err();
        assert!(msg.contains("version byte"), "{msg}");
        let (msg, _) = literal_table_atoms(&table(&[&[131, 108, 255, 255, 255, 255]])).unwrap_err();
        assert!(msg.contains("needs 1 bytes"), "{msg}");
        let mut t = table(&[&[131, 106]]);
        t.push(0);
        assert!(literal_table_atoms(&t)
            .unwrap_err()
            .0
            .contains("after the last literal"));
        // A count no table of this length can hold, told at the count.
        let (msg, at) = literal_table_atoms(&[0x78, 0x9c, 0, 1, 0, 0, 0, 0]).unwrap_err();
        assert_eq!(
            (msg.as_str(), at),
            ("count 2023489537 exceeds what 4 bytes can hold", 0)
        );
        assert_eq!(check_literal_table(&[0, 0, 0, 0]), Ok(()));
        // A literal size larger than the table.
        let (msg, _) = literal_table_atoms(&[0, 0, 0, 1, 0, 0, 1, 0, 131]).unwrap_err();
        assert!(msg.contains("runs past the end"), "{msg}");
    }
}
