//! Finding atoms in a BEAM literal table (External Term Format).
//!
//! See: erts/doc/src/erl_ext_dist.xml. The walk is iterative with an explicit
//! work stack, so deeply nested terms cannot overflow the call stack, and every
//! length is checked against the input before it is used.

/// Errors are (message, offset inside the table); the caller adds the chunk.
pub(crate) type EtfResult<T> = Result<T, (String, usize)>;

/// Atoms of every literal in a literal table: `[count u32]` then per literal
/// `[size u32][term_to_binary bytes]`. Deduplicated, first occurrence first.
pub(crate) fn literal_table_atoms(table: &[u8]) -> EtfResult<Vec<String>> {
    let mut r = Reader { d: table, pos: 0 };
    let count = r.u32()? as usize;
    let mut atoms: Vec<String> = Vec::new();
    for i in 0..count {
        let size = r.u32()? as usize;
        let start = r.pos;
        let term = r
            .take(size)
            .map_err(|(_, at)| (format!("literal {i} runs past the end"), at))?;
        let mut t = Reader { d: term, pos: 0 };
        term_atoms(&mut t, &mut atoms)
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
    Ok(atoms)
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

fn push_atom(atoms: &mut Vec<String>, name: String) {
    if !atoms.contains(&name) {
        atoms.push(name);
    }
}

/// Walks one `term_to_binary` encoding (version byte 131 first).
fn term_atoms(r: &mut Reader<'_>, atoms: &mut Vec<String>) -> EtfResult<()> {
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
                let bytes = r.take(len)?;
                push_atom(atoms, bytes.iter().map(|&b| b as char).collect());
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
                push_atom(atoms, s.to_owned());
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
