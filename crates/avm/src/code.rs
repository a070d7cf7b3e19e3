//! What each function of a module refers to, read from its `Code` chunk:
//! the local functions it calls or makes funs of, the external functions it
//! calls (`call_ext`, BIFs), the atoms it uses (in operands and in the
//! literals it loads), and whether it calls `apply`. This is what lets the
//! tree-shake follow functions instead of whole modules.
//!
//! Instructions are decoded with their arities from OTP's `genop.tab`
//! (opcodes 1..183, OTP 21 to 27); an opcode past the table is an error, and
//! the caller then treats the module as one opaque unit.

use crate::beam::{be32, Beam, CODE, EXPT, FUNT, LITT, LITU, LOCT};
use crate::error::{Error, ErrorKind, Result};
use std::collections::HashMap;

mod compact;
mod redirect;
pub use compact::compact_tables;
pub use redirect::redirect;

/// Operand count of each opcode (index = opcode; 0 is unused).
const ARITY: [u8; 184] = [
    0, 1, 3, 0, 2, 3, 2, 2, 3, 2, 4, 5, 2, 3, 2, 3, 2, 1, 1, 0, 0, 0, 0, 2, 1, 1, 2, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 1, 2, 1,
    2, 3, 3, 3, 3, 3, 2, 1, 1, 0, 1, 1, 3, 2, 2, 2, 5, 5, 5, 4, 2, 1, 1, 2, 2, 5, 5, 5, 2, 1, 0, 1,
    2, 2, 4, 4, 4, 4, 3, 1, 2, 1, 1, 1, 2, 6, 3, 5, 1, 2, 2, 3, 5, 7, 7, 7, 5, 3, 2, 2, 5, 6, 2, 2,
    2, 2, 1, 3, 4, 0, 8, 6, 2, 6, 5, 4, 5, 4, 5, 4, 3, 3, 3, 3, 3, 0, 1, 1, 7, 1, 5, 5, 2, 3, 3, 4,
    0, 0, 2, 2, 2, 3, 4, 3, 2, 2, 4, 3, 1, 2, 1, 1, 1, 6, 3, 0, 1, 5, 3, 2,
];

/// One function's references.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunctionRefs {
    pub name: String,
    pub arity: u32,
    /// Local functions called, or made into funs, as (name, arity).
    pub local: Vec<(String, u32)>,
    /// External functions called, as (module, function, arity).
    pub external: Vec<(String, String, u32)>,
    /// Atoms in its instructions and in the literals it loads.
    pub atoms: Vec<String>,
    /// Calls `apply` (the instruction, or `erlang:apply/2,3`).
    pub applies: bool,
    /// Indices into the literal table of the literals its instructions
    /// load or compare with, ascending.
    pub literals: Vec<u32>,
    /// Modules its errors name as their formatter: `[{error_info,
    /// #{module => M}}]`, the third argument `raise` gives `erlang:error/3`.
    /// Whoever formats such an error calls `M:format_error/2`, and only
    /// that; the function itself does not ([`FunctionRefs::reaches`]).
    pub error_info: Vec<String>,
}

impl FunctionRefs {
    /// The external functions that may run because this one runs: what it
    /// calls, and the `format_error/2` of each [`error_info`](Self::error_info)
    /// module.
    pub fn reaches(&self) -> impl Iterator<Item = (&str, &str, u32)> {
        self.external
            .iter()
            .map(|(m, f, a)| (m.as_str(), f.as_str(), *a))
            .chain(
                self.error_info
                    .iter()
                    .map(|m| (m.as_str(), "format_error", 2)),
            )
    }
}

/// Every function of a module with its references, and the exports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CodeRefs {
    pub functions: Vec<FunctionRefs>,
    pub exports: Vec<(String, u32)>,
    /// Each function's bytes in the `Code` chunk's data, in `functions`
    /// order: from the first of the labels (and line entries) just before
    /// its `func_info` to where the next function's begin, or to
    /// `int_code_end` for the last one.
    pub spans: Vec<std::ops::Range<usize>>,
    /// Where `int_code_end` is (the end of the last span).
    pub code_end: usize,
}

impl CodeRefs {
    pub fn function(&self, name: &str, arity: u32) -> Option<usize> {
        self.functions
            .iter()
            .position(|f| f.arity == arity && f.name == name)
    }
}

struct Reader<'a> {
    d: &'a [u8],
    pos: usize,
    base: u64,
    /// Operands found inside extended lists, for the caller to look at.
    pending: Vec<Operand>,
}

/// A decoded operand: its tag and, for small values, the value.
enum Operand {
    /// Tag and value (`u` 0, `i` 1, `a` 2, `x` 3, `y` 4, `f` 5, `h` 6).
    Value(u8, u64),
    Literal(u64),
    Other,
}

impl Reader<'_> {
    fn err(&self, what: String) -> Error {
        Error::at(ErrorKind::Malformed(what), self.base + self.pos as u64).with_chunk(CODE)
    }

    fn byte(&mut self) -> Result<u8> {
        let b = *self
            .d
            .get(self.pos)
            .ok_or_else(|| self.err("the code ends inside an instruction".into()))?;
        self.pos += 1;
        Ok(b)
    }

    /// A value of the compact term encoding whose tag bits are in `b`.
    fn value(&mut self, b: u8) -> Result<u64> {
        if b & 0x08 == 0 {
            return Ok(u64::from(b >> 4));
        }
        if b & 0x10 == 0 {
            return Ok((u64::from(b >> 5) << 8) | u64::from(self.byte()?));
        }
        let len = match b >> 5 {
            7 => {
                let Operand::Value(0, n) = self.operand()? else {
                    return Err(self.err("a bad length of a large value".into()));
                };
                n as usize + 9
            }
            n => n as usize + 2,
        };
        let mut v: u64 = 0;
        for _ in 0..len {
            // Large integers do not matter here: keep the low 64 bits.
            v = (v << 8) | u64::from(self.byte()?);
        }
        Ok(v)
    }

    fn unsigned(&mut self) -> Result<u64> {
        match self.operand()? {
            Operand::Value(_, v) => Ok(v),
            _ => Err(self.err("expected a number".into())),
        }
    }

    fn operand(&mut self) -> Result<Operand> {
        let b = self.byte()?;
        let tag = b & 7;
        if tag != 7 {
            return Ok(Operand::Value(tag, self.value(b)?));
        }
        match b >> 4 {
            // A float literal (before OTP 20): 8 bytes.
            0 => {
                for _ in 0..8 {
                    self.byte()?;
                }
                Ok(Operand::Other)
            }
            // A list of operands (select_val, bs_create_bin, ...): its atoms
            // and literals count like any other.
            1 => {
                let n = self.unsigned()?;
                let mut inner = Vec::new();
                for _ in 0..n {
                    match self.operand()? {
                        Operand::Other => {}
                        o => inner.push(o),
                    }
                }
                self.pending.extend(inner);
                Ok(Operand::Other)
            }
            // A float register.
            2 => {
                self.unsigned()?;
                Ok(Operand::Other)
            }
            // An allocation list: pairs of numbers.
            3 => {
                let n = self.unsigned()?;
                for _ in 0..n * 2 {
                    self.unsigned()?;
                }
                Ok(Operand::Other)
            }
            4 => Ok(Operand::Literal(self.unsigned()?)),
            // A register with a type (OTP 25+).
            5 => {
                self.operand()?;
                self.unsigned()?;
                Ok(Operand::Other)
            }
            sub => Err(self.err(format!("unknown extended operand tag {sub}"))),
        }
    }
}

/// Reads a table of `count` then `count` entries of `width` big-endian u32s.
fn u32_table(data: &[u8], width: usize) -> Option<Vec<Vec<u32>>> {
    if data.len() < 4 {
        return None;
    }
    let count = be32(data, 0) as usize;
    let need = count.checked_mul(width * 4)?.checked_add(4)?;
    if data.len() < need {
        return None;
    }
    Some(
        (0..count)
            .map(|i| {
                (0..width)
                    .map(|j| be32(data, 4 + (i * width + j) * 4))
                    .collect()
            })
            .collect(),
    )
}

/// `beam`'s `Code` chunk and a reader at its first instruction (past the
/// header, whose first word is the header's length).
fn instructions<'b>(beam: &Beam<'b>) -> Result<(crate::beam::Chunk<'b>, Reader<'b>)> {
    let code = beam
        .chunk(CODE)
        .ok_or_else(|| Error::new(ErrorKind::MissingChunk(CODE)))?;
    let data = code.data;
    let bad = |what: &str| {
        Error::at(ErrorKind::Malformed(what.to_string()), code.data_offset()).with_chunk(CODE)
    };
    if data.len() < 4 {
        return Err(bad("a truncated code header"));
    }
    let start = (be32(data, 0) as usize)
        .checked_add(4)
        .filter(|&s| s <= data.len())
        .ok_or_else(|| bad("a code header longer than the chunk"))?;
    let reader = Reader {
        d: data,
        pos: start,
        base: code.data_offset(),
        pending: Vec::new(),
    };
    Ok((code, reader))
}

/// Decodes `beam`'s `Code` chunk into per-function references; `cap` bounds
/// the inflated literal table.
pub fn code_refs(beam: &Beam<'_>, cap: usize) -> Result<CodeRefs> {
    let (code, mut r) = instructions(beam)?;
    let atoms = beam.atoms();
    let atom = |i: u64| -> Option<&str> {
        (i >= 1)
            .then(|| atoms.get(i as usize - 1).copied())
            .flatten()
    };
    let imports = beam.imports();
    let bad = |what: &str| {
        Error::at(ErrorKind::Malformed(what.to_string()), code.data_offset()).with_chunk(CODE)
    };
    let exports: Vec<(String, u32, u32)> = match beam.chunk(EXPT) {
        Some(c) => u32_table(c.data, 3)
            .ok_or_else(|| bad("a bad export table"))?
            .into_iter()
            .filter_map(|e| Some((atom(u64::from(e[0]))?.to_string(), e[1], e[2])))
            .collect(),
        None => Vec::new(),
    };
    // FunT: (function atom, arity, label, index, free, old uniq).
    let fun_labels: Vec<u32> = match beam.chunk(FUNT) {
        Some(c) => u32_table(c.data, 6)
            .ok_or_else(|| bad("a bad fun table"))?
            .into_iter()
            .map(|e| e[2])
            .collect(),
        None => Vec::new(),
    };
    let literal_atoms = match beam.literal_table(cap)? {
        Some(t) => crate::etf::atoms_by_literal(&t).map_err(|_| bad("a bad literal table"))?,
        None => Vec::new(),
    };

    let data = code.data;
    let mut functions: Vec<FunctionRefs> = Vec::new();
    let mut local_labels: Vec<Vec<u64>> = Vec::new();
    let mut fun_refs: Vec<Vec<u64>> = Vec::new();
    let mut label_owner: HashMap<u64, usize> = HashMap::new();
    let mut ops: Vec<Operand> = Vec::with_capacity(8);
    let mut nested: Vec<Operand> = Vec::new();
    let mut starts: Vec<usize> = Vec::new();
    // The first label of the run of labels and lines the current instruction
    // ends, if it is in one: where a function that follows begins.
    let mut run_start: Option<usize> = None;
    let mut code_end = data.len();
    while r.pos < data.len() {
        let at = r.pos;
        let op = r.byte()?;
        r.pending.clear();
        let arity = *ARITY
            .get(op as usize)
            .filter(|_| op != 0)
            .ok_or_else(|| r.err(format!("unknown opcode {op}")))? as usize;
        ops.clear();
        for _ in 0..arity {
            let o = r.operand()?;
            ops.push(o);
        }
        let value = |i: usize| match ops.get(i) {
            Some(Operand::Value(_, v)) => Some(*v),
            _ => None,
        };
        match op {
            // func_info M F A: a new function.
            2 => {
                starts.push(run_start.unwrap_or(at));
                run_start = None;
                let name = value(1).and_then(atom).unwrap_or_default().to_string();
                functions.push(FunctionRefs {
                    name,
                    arity: value(2).unwrap_or(0) as u32,
                    ..Default::default()
                });
                local_labels.push(Vec::new());
                fun_refs.push(Vec::new());
                continue;
            }
            // int_code_end
            3 => {
                code_end = at;
                break;
            }
            // label, line
            1 | 153 => {
                run_start.get_or_insert(at);
            }
            _ => run_start = None,
        }
        let Some(current) = functions.len().checked_sub(1) else {
            // Labels and line info before the first function.
            continue;
        };
        let f = &mut functions[current];
        match op {
            1 => {
                if let Some(l) = value(0) {
                    label_owner.insert(l, current);
                }
            }
            // call, call_last, call_only: a local label.
            4..=6 => local_labels[current].extend(value(1)),
            // call_ext, call_ext_last, call_ext_only, bif0, bif1, bif2,
            // gc_bif1..3: an import.
            7 | 8 | 78 | 9 | 10 | 11 | 124 | 125 | 152 => {
                let at = match op {
                    7 | 8 | 78 => 1,
                    9 => 0,
                    10 | 11 => 1,
                    _ => 2,
                };
                if let Some((m, fun, a)) = value(at).and_then(|i| imports.get(i as usize)) {
                    if m == "erlang" && fun == "apply" && (*a == 2 || *a == 3) {
                        f.applies = true;
                    }
                    let target = (m.clone(), fun.clone(), *a);
                    if !f.external.contains(&target) {
                        f.external.push(target);
                    }
                }
            }
            // make_fun2 / make_fun3: a fun table entry.
            103 | 171 => fun_refs[current].extend(value(0)),
            // apply, apply_last
            112 | 113 => f.applies = true,
            _ => {}
        }
        // Atoms an instruction only compares with (select_val, is_eq_exact
        // and friends, is_tagged_tuple, map key tests) cannot become a call
        // target: a consolidated protocol's `%{__struct__: Date}` clause
        // does not make `Date` callable.
        // Nested operands move into `nested`, whose buffer is kept across
        // instructions, as `ops`'s is.
        nested.clear();
        nested.append(&mut r.pending);
        for o in ops.iter().chain(nested.iter()) {
            if let Operand::Literal(i) = o {
                let i = u32::try_from(*i).map_err(|_| bad("a literal index past 2^32"))?;
                f.literals.push(i);
            }
        }
        if matches!(op, 41..=44 | 59 | 157 | 158 | 159) {
            continue;
        }
        for o in ops.iter().chain(nested.iter()) {
            match o {
                Operand::Value(2, i) => {
                    if let Some(a) = atom(*i) {
                        if !f.atoms.iter().any(|x| x == a) {
                            f.atoms.push(a.to_string());
                        }
                    }
                }
                Operand::Literal(i) => {
                    let atoms = literal_atoms
                        .get(*i as usize)
                        .map(Vec::as_slice)
                        .unwrap_or(&[]);
                    // `[{error_info, #{module => M}}]`, the third argument
                    // `raise` gives erlang:error/3: whoever formats the error
                    // calls M:format_error/2, and only that.
                    if let [e, m, module] = atoms {
                        if e == "error_info" && m == "module" {
                            if !f.error_info.contains(module) {
                                f.error_info.push(module.clone());
                            }
                            continue;
                        }
                    }
                    for a in atoms {
                        if !f.atoms.contains(a) {
                            f.atoms.push(a.clone());
                        }
                    }
                }
                _ => {}
            }
        }
    }
    // Labels to the functions that own them.
    let name_of = |label: u64| {
        label_owner
            .get(&label)
            .map(|&i| (functions[i].name.clone(), functions[i].arity))
    };
    let mut local: Vec<Vec<(String, u32)>> = vec![Vec::new(); functions.len()];
    for (i, labels) in local_labels.iter().enumerate() {
        for &l in labels {
            local[i].extend(name_of(l));
        }
        for &fun in &fun_refs[i] {
            let label = fun_labels.get(fun as usize).copied();
            local[i].extend(label.and_then(|l| name_of(u64::from(l))));
        }
    }
    for (f, mut l) in functions.iter_mut().zip(local) {
        l.dedup();
        f.local = l;
        f.literals.sort_unstable();
        f.literals.dedup();
    }
    let spans = starts
        .iter()
        .enumerate()
        .map(|(i, &from)| from..starts.get(i + 1).copied().unwrap_or(code_end))
        .collect();
    Ok(CodeRefs {
        exports: exports.into_iter().map(|(n, a, _)| (n, a)).collect(),
        functions,
        spans,
        code_end,
    })
}

/// A set of opcodes (bit `op` for opcode `op`, 0..=255).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Opcodes([u64; 4]);

impl Opcodes {
    pub fn insert(&mut self, op: u8) {
        self.0[usize::from(op >> 6)] |= 1 << (op & 63);
    }

    pub fn contains(&self, op: u8) -> bool {
        self.0[usize::from(op >> 6)] & (1 << (op & 63)) != 0
    }

    pub fn len(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds every opcode of `other`.
    pub fn extend(&mut self, other: &Opcodes) {
        for (w, o) in self.0.iter_mut().zip(other.0) {
            *w |= o;
        }
    }
}

/// The opcodes of `beam`'s `Code` chunk, up to and with `int_code_end`:
/// what an interpreter running the module can be asked to dispatch. The
/// decoding must end exactly at the chunk's end with `int_code_end`, or it
/// is an error: a misread operand that lost its place in the code would
/// otherwise leave opcodes out (and the worker's interpreter, cut to this
/// set, would abort on them).
pub fn opcodes(beam: &Beam<'_>) -> Result<Opcodes> {
    let (code, mut r) = instructions(beam)?;
    let mut set = Opcodes::default();
    while r.pos < code.data.len() {
        let op = r.byte()?;
        let arity = *ARITY
            .get(op as usize)
            .filter(|_| op != 0)
            .ok_or_else(|| r.err(format!("unknown opcode {op}")))?;
        set.insert(op);
        if op == 3 {
            if r.pos != code.data.len() {
                return Err(r.err("code after int_code_end".into()));
            }
            return Ok(set);
        }
        for _ in 0..arity {
            r.operand()?;
        }
        r.pending.clear();
    }
    Err(r.err("the code ends without int_code_end".into()))
}

/// The bytes of `beam`'s instructions (the `Code` chunk past its header)
/// and its label count (from that header): what a return address and a
/// catch term must be able to hold for the module.
pub fn code_extent(beam: &Beam<'_>) -> Result<(usize, u32)> {
    let (code, r) = instructions(beam)?;
    // The header: its length, then instruction set, highest opcode,
    // labels, functions.
    let labels = if r.pos >= 16 { be32(code.data, 12) } else { 0 };
    Ok((code.data.len() - r.pos, labels))
}

/// The module with only the functions `keep` marks (`keep[i]` for
/// `code_refs(beam).functions[i]`): their code is cut out of the `Code`
/// chunk and their entries out of `ExpT` and `LocT`; every other chunk is
/// unchanged. Labels of cut functions are simply absent (AtomVM leaves them
/// unset and nothing kept jumps to them). The literal table is written
/// uncompressed (`LitU`, as the packer would), and a literal no kept
/// function loads becomes `[]` in it, so every index stays where it was;
/// `cap` bounds inflating it. Atoms, imports and the fun table keep entries
/// nothing uses any more. Returns the whole BEAM file.
pub fn strip_functions(
    beam: &Beam<'_>,
    refs: &CodeRefs,
    keep: &[bool],
    cap: usize,
) -> Result<Vec<u8>> {
    let bad = |what: &str| Error::new(ErrorKind::Malformed(what.to_string())).with_chunk(CODE);
    if keep.len() != refs.functions.len() || refs.spans.len() != refs.functions.len() {
        return Err(bad(
            "a keep list that does not match the module's functions",
        ));
    }
    let kept: std::collections::HashSet<(&str, u32)> = refs
        .functions
        .iter()
        .zip(keep)
        .filter(|(_, &k)| k)
        .map(|(f, _)| (f.name.as_str(), f.arity))
        .collect();
    let atoms = beam.atoms();
    let atom = |i: u32| {
        (i >= 1)
            .then(|| atoms.get(i as usize - 1).copied())
            .flatten()
    };
    let mut out = crate::beam::FormWriter::new(beam.bytes().len());
    for c in beam.chunks() {
        let data: Vec<u8> = if c.id == CODE {
            let first = refs.spans.first().map_or(refs.code_end, |s| s.start);
            let mut d = c.data[..first].to_vec();
            for (span, _) in refs.spans.iter().zip(keep).filter(|(_, &k)| k) {
                d.extend_from_slice(&c.data[span.clone()]);
            }
            d.extend_from_slice(&c.data[refs.code_end..]);
            d
        } else if c.id == LITT || c.id == LITU {
            let table = beam
                .literal_table(cap)?
                .ok_or_else(|| bad("a literal table chunk without a table"))?;
            let used: Vec<u32> = refs
                .functions
                .iter()
                .zip(keep)
                .filter(|(_, &k)| k)
                .flat_map(|(f, _)| f.literals.iter().copied())
                .collect();
            let d = blank_literals(&table, &used).ok_or_else(|| {
                Error::at(
                    ErrorKind::Malformed("a bad literal table".into()),
                    c.data_offset(),
                )
                .with_chunk(c.id)
            })?;
            out.chunk(LITU, &d);
            continue;
        } else if c.id == EXPT || c.id == LOCT {
            let table = u32_table(c.data, 3).ok_or_else(|| bad("a bad function table"))?;
            let rows: Vec<&Vec<u32>> = table
                .iter()
                .filter(|e| atom(e[0]).is_some_and(|n| kept.contains(&(n, e[1]))))
                .collect();
            let mut d = (rows.len() as u32).to_be_bytes().to_vec();
            for e in rows {
                for v in e {
                    d.extend_from_slice(&v.to_be_bytes());
                }
            }
            d
        } else {
            c.data.to_vec()
        };
        out.chunk(c.id, &data);
    }
    Ok(out.finish())
}

/// `[]` in the external term format: what an unused literal becomes.
const NIL_TERM: [u8; 2] = [131, 106];

/// The terms of a literal table (`[count u32]`, then per literal
/// `[size u32][term]`), or None when the bytes are not one.
fn split_literals(table: &[u8]) -> Option<Vec<&[u8]>> {
    let count = be32(table.get(..4)?, 0) as usize;
    let mut terms = Vec::with_capacity(count.min(table.len() / 4));
    let mut at = 4usize;
    for _ in 0..count {
        let size = be32(table.get(at..at + 4)?, 0) as usize;
        terms.push(table.get(at + 4..at.checked_add(4 + size)?)?);
        at += 4 + size;
    }
    (at == table.len()).then_some(terms)
}

/// A literal table of `terms`.
fn join_literals(terms: &[&[u8]]) -> Vec<u8> {
    let mut out = (terms.len() as u32).to_be_bytes().to_vec();
    for term in terms {
        out.extend_from_slice(&(term.len() as u32).to_be_bytes());
        out.extend_from_slice(term);
    }
    out
}

/// The literal table with every literal whose index is not in `used`
/// replaced by `[]`. None when the table is not one.
fn blank_literals(table: &[u8], used: &[u32]) -> Option<Vec<u8>> {
    let terms = split_literals(table)?;
    let mut keep = vec![false; terms.len()];
    for &i in used {
        *keep.get_mut(i as usize)? = true;
    }
    let terms: Vec<&[u8]> = terms
        .iter()
        .zip(keep)
        .map(|(&t, k)| if k { t } else { &NIL_TERM[..] })
        .collect();
    Some(join_literals(&terms))
}
