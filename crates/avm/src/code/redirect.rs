//! A module with some functions' bodies replaced by a tail call to another
//! module: how the build swaps the table functions of OTP's `unicode_util`
//! for compact ones (`crates/pipeline/src/unicode.rs`).
//!
//! Each redirected function keeps its labels, its `func_info` and its
//! entry label, so every caller and every local call still lands on it; its
//! body becomes `call_ext_only Arity, M:F/Arity`. The labels inside the old
//! body are gone, which AtomVM allows (it leaves them unset, as it does for
//! the functions [`super::strip_functions`] cuts). The new import, and its
//! atoms when the module has none of that name, are appended to `ImpT` and
//! `AtU8`; nothing else is renumbered. The literals only the old bodies
//! loaded stay in the table until the shake cuts them (the code no longer
//! loads them, so [`super::code_refs`] does not list them).

use super::{compact::put_value, CodeRefs, Reader};
use crate::beam::{Beam, FormWriter, ATU8, CODE, IMPT};
use crate::error::{Error, ErrorKind, Result};

fn malformed(what: String) -> Error {
    Error::new(ErrorKind::Malformed(what)).with_chunk(CODE)
}

/// `beam` with each function of `redirect` (name, arity) calling the
/// function of the same name and arity in `target` instead of running its
/// body. A name not in the module is an error, and so is a module whose atom
/// table is in OTP 28's compact form. Returns the whole BEAM file.
pub fn redirect(
    beam: &Beam<'_>,
    refs: &CodeRefs,
    redirect: &[(&str, u32)],
    target: &str,
) -> Result<Vec<u8>> {
    let atu8 = beam
        .chunk(ATU8)
        .ok_or_else(|| Error::new(ErrorKind::MissingChunk(ATU8)))?;
    if atu8.data.first().is_some_and(|b| b & 0x80 != 0) {
        return Err(malformed("an atom table in the compact form".into()));
    }
    let code = beam
        .chunk(CODE)
        .ok_or_else(|| Error::new(ErrorKind::MissingChunk(CODE)))?;
    let mut atoms: Vec<String> = beam.atoms().iter().map(|a| a.to_string()).collect();
    let mut atom = |name: &str| -> u32 {
        let at = match atoms.iter().position(|a| a == name) {
            Some(i) => i,
            None => {
                atoms.push(name.to_string());
                atoms.len() - 1
            }
        };
        at as u32 + 1
    };
    let target_atom = atom(target);
    let mut imports = beam
        .chunk(IMPT)
        .and_then(|c| super::u32_table(c.data, 3))
        .ok_or_else(|| malformed("a module without an import table".into()))?;

    // The new bodies, by function index.
    let mut bodies: Vec<Option<Vec<u8>>> = vec![None; refs.functions.len()];
    for &(name, arity) in redirect {
        let i = refs
            .function(name, arity)
            .ok_or_else(|| malformed(format!("no function {name}/{arity} to redirect")))?;
        let span = refs.spans[i].clone();
        let head = head_len(
            &code.data[span.clone()],
            code.data_offset() + span.start as u64,
        )?;
        let import = imports.len() as u64;
        imports.push(vec![target_atom, atom(name), arity]);
        let mut body = code.data[span.start..span.start + head].to_vec();
        // call_ext_only Arity Import
        body.push(78);
        put_value(0, u64::from(arity), &mut body);
        put_value(0, import, &mut body);
        bodies[i] = Some(body);
    }

    let first = refs.spans.first().map_or(refs.code_end, |s| s.start);
    let mut code_out = code.data[..first].to_vec();
    for (span, body) in refs.spans.iter().zip(&bodies) {
        match body {
            Some(b) => code_out.extend_from_slice(b),
            None => code_out.extend_from_slice(&code.data[span.clone()]),
        }
    }
    code_out.extend_from_slice(&code.data[refs.code_end..]);

    let mut out = FormWriter::new(beam.bytes().len());
    for c in beam.chunks() {
        match c.id {
            ATU8 => {
                let mut d = (atoms.len() as u32).to_be_bytes().to_vec();
                for a in &atoms {
                    let len = u8::try_from(a.len())
                        .map_err(|_| malformed(format!("an atom of {} bytes", a.len())))?;
                    d.push(len);
                    d.extend_from_slice(a.as_bytes());
                }
                out.chunk(ATU8, &d);
            }
            CODE => out.chunk(CODE, &code_out),
            IMPT => {
                let mut d = (imports.len() as u32).to_be_bytes().to_vec();
                for v in imports.iter().flatten() {
                    d.extend_from_slice(&v.to_be_bytes());
                }
                out.chunk(IMPT, &d);
            }
            _ => out.chunk(c.id, c.data),
        }
    }
    Ok(out.finish())
}

/// The length of a function's head in `span` (its code from
/// [`CodeRefs::spans`]): the labels and lines before `func_info`, the
/// `func_info`, and the entry label after it.
fn head_len(span: &[u8], base: u64) -> Result<usize> {
    let mut r = Reader {
        d: span,
        pos: 0,
        base,
        pending: Vec::new(),
    };
    let mut seen_info = false;
    loop {
        let op = r.byte()?;
        let arity = *super::ARITY
            .get(op as usize)
            .ok_or_else(|| r.err(format!("unknown opcode {op}")))?;
        for _ in 0..arity {
            r.operand()?;
        }
        match (op, seen_info) {
            (1 | 153, false) => {}
            (2, false) => seen_info = true,
            (1, true) => return Ok(r.pos),
            _ => {
                return Err(
                    r.err("a function that does not start with func_info and a label".into())
                )
            }
        }
    }
}
