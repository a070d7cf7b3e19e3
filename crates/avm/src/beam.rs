//! BEAM files: the IFF chunk walk and the tables the packer and the module
//! graph need (atoms, imports, exports, literals); the AtomVM stripping step
//! is [`crate::strip`].
//!
//! See: erts/emulator/beam/beam_file.c (the format) and AtomVM's
//! `doc/src/packbeam-format.md` (which chunks AtomVM keeps).
//!
//! The `beam_file` crate is used for the import and export tables only, after
//! this module has checked their counts against the chunk length. It falls
//! short as the general parser: `BeamFile::from_reader` allocates
//! `FOR1 size - 4` bytes straight from the header (a 4 GiB allocation, or an
//! underflow when the size is below 4), its table decoders call
//! `Vec::with_capacity(count)` with unchecked counts, every chunk is copied,
//! errors carry no byte offset, its atom decoder does not know the
//! negative-count (long atom) form of OTP 26+, and its `LitT` decoder inflates
//! without a bound and cannot keep an uncompressed (size 0) table.

use std::borrow::Cow;

use beam_file::chunk::{Chunk as _, ExpTChunk, ImpTChunk};

use crate::error::{Error, ErrorKind, Result};
use crate::litt::{self, LitT};
use crate::ChunkId;

pub(crate) use crate::iff::{be32, pad4, walk_form};
pub use crate::iff::{Chunk, BEAM, FOR1};
pub const ATU8: ChunkId = *b"AtU8";
pub const CODE: ChunkId = *b"Code";
pub const EXPT: ChunkId = *b"ExpT";
pub const LOCT: ChunkId = *b"LocT";
pub const IMPT: ChunkId = *b"ImpT";
pub const LITU: ChunkId = *b"LitU";
pub use crate::litt::LITT;
pub const FUNT: ChunkId = *b"FunT";
pub const STRT: ChunkId = *b"StrT";
pub const AVMN: ChunkId = *b"avmN";
pub const TYPE: ChunkId = *b"Type";
/// Line numbers for stack traces; `line` instructions index it.
pub const LINE: ChunkId = *b"Line";

/// Chunks copied unchanged into an archive, in the reference packer's list.
/// `LitT` is handled on its own (inflated to `LitU`, or kept when stored
/// uncompressed). See: DESIGN.md, "Processed BEAM".
pub const KEPT_CHUNKS: [ChunkId; 10] = [ATU8, CODE, EXPT, LOCT, IMPT, LITU, FUNT, STRT, AVMN, TYPE];

/// Default bound on an inflated literal table: 64 MiB.
pub const DEFAULT_INFLATE_CAP: usize = 64 << 20;

/// A parsed BEAM file, borrowing the input bytes.
#[derive(Debug, Clone)]
pub struct Beam<'a> {
    bytes: &'a [u8],
    chunks: Vec<Chunk<'a>>,
    atoms: Vec<&'a str>,
    imports: Vec<(u32, u32, u32)>,
    exports: Vec<(u32, u32)>,
}

impl<'a> Beam<'a> {
    /// Parses a whole `.beam` file: the chunk walk, the `AtU8` atom table
    /// (required: it names the module) and, when present, `ImpT` and `ExpT`.
    /// Trailing bytes after the form are an error.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        let (chunks, end) = walk_form(bytes, 0)?;
        if end != bytes.len() {
            return Err(
                Error::trailing(bytes.len() - end, "the end of the FOR1 form", end as u64)
                    .with_chunk(FOR1),
            );
        }
        Self::from_chunks(bytes, chunks)
    }

    pub(crate) fn from_chunks(bytes: &'a [u8], chunks: Vec<Chunk<'a>>) -> Result<Self> {
        let atu8 = chunks
            .iter()
            .find(|c| c.id == ATU8)
            .ok_or_else(|| Error::at(ErrorKind::MissingChunk(ATU8), 12))?;
        let atoms = parse_atoms(atu8)?;
        let mut beam = Beam {
            bytes,
            chunks,
            atoms,
            imports: Vec::new(),
            exports: Vec::new(),
        };
        if let Some(c) = beam.chunk(IMPT) {
            beam.imports = parse_imports(&c, beam.atoms.len())?;
        }
        if let Some(c) = beam.chunk(EXPT) {
            beam.exports = parse_exports(&c, beam.atoms.len())?;
        }
        Ok(beam)
    }

    /// The input bytes this was parsed from.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Every chunk, in file order.
    pub fn chunks(&self) -> &[Chunk<'a>] {
        &self.chunks
    }

    /// The whole file again without the chunks `drop` names, the others
    /// as they are, in their order.
    pub fn without(&self, drop: &[ChunkId]) -> Vec<u8> {
        let mut out = FormWriter::new(self.bytes.len());
        for c in self.chunks.iter().filter(|c| !drop.contains(&c.id)) {
            out.chunk(c.id, c.data);
        }
        out.finish()
    }

    /// The first chunk with this id.
    pub fn chunk(&self, id: ChunkId) -> Option<Chunk<'a>> {
        self.chunks.iter().find(|c| c.id == id).copied()
    }

    /// The module's name: atom 1 of `AtU8`.
    pub fn module_name(&self) -> &'a str {
        self.atoms[0]
    }

    /// The atom table (`AtU8`), atom 1 first.
    pub fn atoms(&self) -> &[&'a str] {
        &self.atoms
    }

    /// Exported functions as (name, arity).
    pub fn exports(&self) -> Vec<(String, u32)> {
        self.exports
            .iter()
            .map(|&(f, a)| (self.atom(f).to_owned(), a))
            .collect()
    }

    /// Whether `name/arity` is exported.
    pub fn exports_fun(&self, name: &str, arity: u32) -> bool {
        self.exports
            .iter()
            .any(|&(f, a)| a == arity && self.atom(f) == name)
    }

    /// Imported functions as (module, function, arity).
    pub fn imports(&self) -> Vec<(String, String, u32)> {
        self.imports
            .iter()
            .map(|&(m, f, a)| (self.atom(m).to_owned(), self.atom(f).to_owned(), a))
            .collect()
    }

    /// The modules named by `ImpT`, deduplicated, in first-use order.
    pub fn imported_modules(&self) -> Vec<&'a str> {
        let mut out: Vec<&'a str> = Vec::new();
        for &(m, _, _) in &self.imports {
            let name = self.atom(m);
            if !out.contains(&name) {
                out.push(name);
            }
        }
        out
    }

    fn atom(&self, index: u32) -> &'a str {
        // Indices were checked against the table in `parse_imports`/`parse_exports`.
        self.atoms[index as usize - 1]
    }

    /// The uncompressed literal table (`LitU`, or `LitT` inflated with at most
    /// `cap` bytes, or a `LitT` stored uncompressed), or `None` without one.
    pub fn literal_table(&self, cap: usize) -> Result<Option<Cow<'a, [u8]>>> {
        for c in &self.chunks {
            if c.id == LITU {
                return Ok(Some(Cow::Borrowed(c.data)));
            }
            if c.id == LITT {
                return match litt::decode(c.data, c.data_offset(), cap)? {
                    LitT::Stored(d) => Ok(Some(Cow::Borrowed(d))),
                    LitT::Compressed { declared } => {
                        let mut table = Vec::new();
                        litt::inflate(c.data, c.data_offset(), declared, &mut table)?;
                        Ok(Some(Cow::Owned(table)))
                    }
                };
            }
        }
        Ok(None)
    }

    /// Every atom that occurs in the literal table (compressed or not),
    /// deduplicated, in order of first occurrence. Uses the default inflate cap.
    pub fn literal_atoms(&self) -> Result<Vec<String>> {
        self.literal_atoms_with_cap(DEFAULT_INFLATE_CAP)
    }

    /// [`Beam::literal_atoms`] with an explicit inflate cap.
    pub fn literal_atoms_with_cap(&self, cap: usize) -> Result<Vec<String>> {
        let Some(table) = self.literal_table(cap)? else {
            return Ok(Vec::new());
        };
        let chunk = self
            .chunks
            .iter()
            .find(|c| c.id == LITU || c.id == LITT)
            .expect("a literal table came from a chunk");
        crate::etf::literal_table_atoms(&table).map_err(|(msg, rel)| {
            // Inside an inflated table the only honest absolute offset is the
            // chunk's own; the position inside the table goes in the message.
            Error::at(
                ErrorKind::Malformed(format!("literal table, at byte {rel} of the table: {msg}")),
                chunk.data_offset(),
            )
            .with_chunk(chunk.id)
        })
    }
}

/// A BEAM file written chunk by chunk: the `FOR1` header, each chunk
/// padded to 4 bytes, and the form's size filled in at the end.
pub(crate) struct FormWriter(Vec<u8>);

impl FormWriter {
    pub(crate) fn new(capacity: usize) -> Self {
        let mut out = Vec::with_capacity(capacity);
        out.extend_from_slice(&FOR1);
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&BEAM);
        FormWriter(out)
    }

    pub(crate) fn chunk(&mut self, id: ChunkId, data: &[u8]) {
        let out = &mut self.0;
        out.extend_from_slice(&id);
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend_from_slice(data);
        out.resize(out.len().next_multiple_of(4), 0);
    }

    pub(crate) fn finish(mut self) -> Vec<u8> {
        let size = (self.0.len() - 8) as u32;
        self.0[4..8].copy_from_slice(&size.to_be_bytes());
        self.0
    }
}

/// Parses `AtU8`: `[count i32]` then, per atom, `[len u8][utf-8 bytes]`.
/// A negative count (OTP 26+, used when an atom is longer than 255 bytes)
/// means the lengths are compact-term encoded (tag `u`).
fn parse_atoms<'a>(c: &Chunk<'a>) -> Result<Vec<&'a str>> {
    let d = c.data;
    let base = c.data_offset();
    let bad = |msg: String, off: usize| {
        Error::at(
            ErrorKind::Malformed(format!("atom table: {msg}")),
            base + off as u64,
        )
        .with_chunk(ATU8)
    };
    if d.len() < 4 {
        return Err(Error::at(
            ErrorKind::Truncated {
                needed: 4,
                available: d.len() as u64,
            },
            base,
        )
        .with_chunk(ATU8));
    }
    let raw = be32(d, 0) as i32;
    let compact = raw < 0;
    let count = raw.unsigned_abs() as usize;
    if count == 0 {
        return Err(bad("no atoms (atom 1 must name the module)".into(), 0));
    }
    // Every atom takes at least one byte: a count larger than that is a lie,
    // and checking it first keeps the allocation bounded by the input.
    if count > d.len() - 4 {
        return Err(bad(
            format!("count {count} exceeds what {} bytes can hold", d.len() - 4),
            0,
        ));
    }
    // Validating the whole table at once is much faster than atom by atom
    // (most atoms are a few bytes long); where it is valid UTF-8, an atom
    // that starts and ends on character boundaries is too. Otherwise, and
    // for any atom that does not, each is validated on its own.
    let whole = std::str::from_utf8(&d[4..]).ok();
    let mut atoms = Vec::with_capacity(count);
    let mut pos = 4;
    for i in 0..count {
        let start = pos;
        let len = if !compact {
            let Some(&l) = d.get(pos) else {
                return Err(bad(format!("atom {} is cut off", i + 1), pos));
            };
            pos += 1;
            l as usize
        } else {
            let Some(&b0) = d.get(pos) else {
                return Err(bad(format!("atom {} is cut off", i + 1), pos));
            };
            if b0 & 0b111 != 0 {
                return Err(bad(
                    format!("atom {} length has tag {} (expected u)", i + 1, b0 & 7),
                    pos,
                ));
            }
            if b0 & 0b1000 == 0 {
                pos += 1;
                (b0 >> 4) as usize
            } else if b0 & 0b1_0000 == 0 {
                let Some(&b1) = d.get(pos + 1) else {
                    return Err(bad(format!("atom {} is cut off", i + 1), pos));
                };
                pos += 2;
                (((b0 as usize) & 0b1110_0000) << 3) | b1 as usize
            } else {
                return Err(bad(
                    format!("atom {} length is not a short compact integer", i + 1),
                    pos,
                ));
            }
        };
        let Some(bytes) = d.get(pos..pos + len) else {
            return Err(bad(
                format!("atom {} runs past the end of the chunk", i + 1),
                start,
            ));
        };
        let s = match whole.and_then(|w| w.get(pos - 4..pos - 4 + len)) {
            Some(s) => s,
            None => std::str::from_utf8(bytes)
                .map_err(|_| bad(format!("atom {} is not valid UTF-8", i + 1), pos))?,
        };
        atoms.push(s);
        pos += len;
    }
    if atoms[0].is_empty() {
        return Err(bad("atom 1 (the module name) is empty".into(), 4));
    }
    // The module name becomes a NUL-terminated section name: a NUL inside it
    // would cut the name short and misplace the section's payload (found by
    // fuzzing, fixtures/bad/nul_in_module_name.beam).
    if let Some(i) = atoms[0].bytes().position(|b| b == 0) {
        // Atom 1 starts after the count and its one- or two-byte length.
        let first = if compact && atoms[0].len() >= 16 {
            6
        } else {
            5
        };
        return Err(bad(
            "atom 1 (the module name) contains a NUL byte".into(),
            first + i,
        ));
    }
    Ok(atoms)
}

/// Checks a table of `count` entries of `entry` bytes each and decodes it
/// with `beam_file` (safe once the count is known to fit the chunk).
fn checked_table(c: &Chunk<'_>, entry: usize, what: &str) -> Result<usize> {
    let base = c.data_offset();
    if c.data.len() < 4 {
        return Err(Error::at(
            ErrorKind::Truncated {
                needed: 4,
                available: c.data.len() as u64,
            },
            base,
        )
        .with_chunk(c.id));
    }
    let count = be32(c.data, 0) as usize;
    let needed = count.checked_mul(entry).and_then(|n| n.checked_add(4));
    if needed.is_none_or(|n| n > c.data.len()) {
        return Err(Error::at(
            ErrorKind::Malformed(format!(
                "{what} table: count {count} needs more than the {} bytes of the chunk",
                c.data.len()
            )),
            base,
        )
        .with_chunk(c.id));
    }
    Ok(count)
}

fn check_atom(
    c: &Chunk<'_>,
    index: u32,
    n_atoms: usize,
    entry_off: usize,
    what: &str,
) -> Result<()> {
    if index == 0 || index as usize > n_atoms {
        return Err(Error::at(
            ErrorKind::Malformed(format!(
                "{what} refers to atom {index}, the table has {n_atoms}"
            )),
            c.data_offset() + entry_off as u64,
        )
        .with_chunk(c.id));
    }
    Ok(())
}

fn parse_imports(c: &Chunk<'_>, n_atoms: usize) -> Result<Vec<(u32, u32, u32)>> {
    checked_table(c, 12, "import")?;
    let decoded = ImpTChunk::decode_data(&IMPT, c.data).map_err(|e| {
        Error::at(
            ErrorKind::Malformed(format!("import table: {e}")),
            c.data_offset(),
        )
        .with_chunk(IMPT)
    })?;
    let mut out = Vec::with_capacity(decoded.imports.len());
    for (i, imp) in decoded.imports.iter().enumerate() {
        let off = 4 + 12 * i;
        check_atom(c, imp.module, n_atoms, off, "import")?;
        check_atom(c, imp.function, n_atoms, off + 4, "import")?;
        out.push((imp.module, imp.function, imp.arity));
    }
    Ok(out)
}

fn parse_exports(c: &Chunk<'_>, n_atoms: usize) -> Result<Vec<(u32, u32)>> {
    checked_table(c, 12, "export")?;
    let decoded = ExpTChunk::decode_data(&EXPT, c.data).map_err(|e| {
        Error::at(
            ErrorKind::Malformed(format!("export table: {e}")),
            c.data_offset(),
        )
        .with_chunk(EXPT)
    })?;
    let mut out = Vec::with_capacity(decoded.exports.len());
    for (i, exp) in decoded.exports.iter().enumerate() {
        check_atom(c, exp.function, n_atoms, 4 + 12 * i, "export")?;
        out.push((exp.function, exp.arity));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{atoms, form, literal_table, litt, table, zlib};

    fn kind(e: &Error) -> &ErrorKind {
        e.kind()
    }

    #[test]
    fn parses_tables_and_strips_in_order() {
        let at = atoms(&["m", "start", "lists", "reverse"]);
        let imp = table(&[[3, 4, 1]]);
        let exp = table(&[[2, 0, 2]]);
        let lit = literal_table();
        let bytes = form(&[
            (b"AtU8", &at),
            (b"Code", b"\x01\x02\x03"),
            (b"Dbgi", b"debug"),
            (b"ImpT", &imp),
            (b"ExpT", &exp),
            (b"LitT", &litt(lit.len() as u32, &zlib(&lit))),
            (b"Docs", b"docs"),
        ]);
        let beam = Beam::parse(&bytes).unwrap();
        assert_eq!(beam.module_name(), "m");
        assert_eq!(beam.exports(), [("start".to_string(), 0)]);
        assert!(beam.exports_fun("start", 0) && !beam.exports_fun("start", 1));
        assert_eq!(beam.imports(), [("lists".into(), "reverse".into(), 1)]);
        assert_eq!(beam.imported_modules(), ["lists"]);
        assert_eq!(beam.literal_atoms().unwrap(), ["ok", "Elixir.Foo"]);
        let s = beam.strip(DEFAULT_INFLATE_CAP).unwrap();
        let ids: Vec<_> = s.chunks().map(|c| c.0).collect();
        assert_eq!(ids, [ATU8, CODE, IMPT, EXPT, LITU]);
        assert_eq!(s.chunks().last().unwrap().1, &lit[..]);
        let out = s.to_vec();
        assert_eq!(out.len(), s.len());
        assert_eq!(out.len() % 4, 0);
        // The output is the same form rebuilt from the kept chunks.
        assert_eq!(
            out,
            form(&[
                (b"AtU8", &at),
                (b"Code", b"\x01\x02\x03"),
                (b"ImpT", &imp),
                (b"ExpT", &exp),
                (b"LitU", &lit)
            ])
        );
    }

    #[test]
    fn stored_litt_is_kept_as_litt() {
        let at = atoms(&["m"]);
        let lit = literal_table();
        let chunk = litt(0, &lit);
        let bytes = form(&[(b"AtU8", &at), (b"LitT", &chunk)]);
        let beam = Beam::parse(&bytes).unwrap();
        let s = beam.strip(DEFAULT_INFLATE_CAP).unwrap();
        assert_eq!(s.chunks().nth(1).unwrap(), (LITT, &chunk[..]));
        assert_eq!(beam.literal_atoms().unwrap(), ["ok", "Elixir.Foo"]);
    }

    #[test]
    fn literal_table_errors_point_into_the_file() {
        // A compressed table behind a size of 0: refused at the table's
        // count, by `strip` and `literal_atoms` alike. Header 12, `AtU8` 8 +
        // 8, `LitT` header 8 and its size field 4.
        let bytes = form(&[
            (b"AtU8", &atoms(&["m"])),
            (b"LitT", &litt(0, &zlib(&literal_table()))),
        ]);
        let beam = Beam::parse(&bytes).unwrap();
        let e = beam.strip(DEFAULT_INFLATE_CAP).unwrap_err();
        assert_eq!((e.chunk(), e.offset()), (Some(LITT), Some(12 + 16 + 8 + 4)));
        assert!(matches!(kind(&e), ErrorKind::BadStoredLiterals(_)), "{e}");
        assert_eq!(beam.literal_atoms().unwrap_err(), e);
        // An understated size, at the chunk's data.
        let lit = literal_table();
        let chunk = litt(lit.len() as u32 + 5, &zlib(&lit));
        let bytes = form(&[(b"AtU8", &atoms(&["m"])), (b"LitT", &chunk)]);
        let e = Beam::parse(&bytes).unwrap().strip(1 << 20).unwrap_err();
        assert_eq!(e.offset(), Some(12 + 8 + pad4(5) as u64 + 8));
    }

    #[test]
    fn header_errors_carry_offsets() {
        let e = Beam::parse(b"").unwrap_err();
        assert_eq!((kind(&e), e.offset()), (&ErrorKind::Empty, Some(0)));
        let e = Beam::parse(b"FOR1\0\0").unwrap_err();
        assert!(matches!(
            kind(&e),
            ErrorKind::Truncated {
                needed: 12,
                available: 6
            }
        ));
        let e = Beam::parse(b"RIFF\0\0\0\x04WAVE").unwrap_err();
        assert_eq!(kind(&e), &ErrorKind::NotBeam);
        let e = Beam::parse(b"FOR1\0\0\0\x10BEAM").unwrap_err();
        assert_eq!(e.offset(), Some(4));
        assert_eq!(e.chunk(), Some(FOR1));
        assert!(matches!(
            kind(&e),
            ErrorKind::SizeOverrun {
                declared: 16,
                available: 4
            }
        ));
    }

    #[test]
    fn chunk_overrun_names_chunk_and_offset() {
        let at = atoms(&["m"]);
        let mut bytes = form(&[(b"AtU8", &at), (b"Code", b"abcd")]);
        let code_at = bytes.len() - 12;
        bytes[code_at + 4..code_at + 8].copy_from_slice(&100u32.to_be_bytes());
        let e = Beam::parse(&bytes).unwrap_err();
        assert_eq!(e.chunk(), Some(CODE));
        assert_eq!(e.offset(), Some(code_at as u64));
        assert!(matches!(
            kind(&e),
            ErrorKind::SizeOverrun {
                declared: 100,
                available: 4
            }
        ));
    }

    #[test]
    fn trailing_bytes_and_missing_atoms_are_errors() {
        let mut bytes = form(&[(b"AtU8", &atoms(&["m"]))]);
        bytes.extend_from_slice(b"xx");
        let e = Beam::parse(&bytes).unwrap_err();
        assert!(matches!(kind(&e), ErrorKind::TrailingData { len: 2, .. }));
        let e = Beam::parse(&form(&[(b"Code", b"")])).unwrap_err();
        assert_eq!(kind(&e), &ErrorKind::MissingChunk(ATU8));
    }

    #[test]
    fn bad_atom_tables() {
        for (data, what) in [
            (vec![0, 0, 0, 0], "no atoms"),
            (vec![0, 0, 0, 9, 1, b'm'], "exceeds"),
            (vec![0, 0, 0, 1, 5, b'm'], "runs past"),
            (vec![0, 0, 0, 1, 1, 0xff], "UTF-8"),
            (vec![0, 0, 0, 1, 0], "empty"),
            (vec![0, 0, 0, 1, 3, b'a', 0, b'b'], "NUL byte"),
        ] {
            let e = Beam::parse(&form(&[(b"AtU8", &data)])).unwrap_err();
            assert_eq!(e.chunk(), Some(ATU8), "{what}");
            assert!(e.to_string().contains(what), "{e} should mention {what}");
        }
    }

    #[test]
    fn atoms_are_checked_one_by_one_where_the_table_as_a_whole_cannot_tell() {
        // Atom 2 is 195 (0xc3) bytes long: its length byte and its first
        // byte (0xa9) read as "é", so the table is valid UTF-8 as a whole,
        // but the atom starts inside that character.
        let mut bad = vec![0, 0, 0, 2, 1, b'm', 0xc3, 0xa9];
        bad.extend_from_slice(&[b'a'; 194]);
        let e = Beam::parse(&form(&[(b"AtU8", &bad)])).unwrap_err();
        assert!(e.to_string().contains("atom 2 is not valid UTF-8"), "{e}");
        // A length byte that is not UTF-8 at all: the table is not, its
        // atoms are.
        let mut good = vec![0, 0, 0, 3, 1, b'm', 0xc3];
        good.extend_from_slice(&[b'a'; 0xc3]);
        good.extend_from_slice(&[2, 0xc3, 0xa9]);
        let bytes = form(&[(b"AtU8", &good)]);
        let beam = Beam::parse(&bytes).unwrap();
        assert_eq!(beam.atoms()[1].len(), 0xc3);
        assert_eq!(beam.atoms()[2], "é");
    }

    #[test]
    fn long_atom_form_with_negative_count() {
        // OTP 26+: count -2, lengths as compact `u` terms (one and two bytes).
        let long = "x".repeat(300);
        let mut data = (-2i32).to_be_bytes().to_vec();
        data.push(1 << 4);
        data.push(b'm');
        data.push((((300 >> 3) & 0b1110_0000) | 0b1000) as u8);
        data.push((300 & 0xff) as u8);
        data.extend_from_slice(long.as_bytes());
        let bytes = form(&[(b"AtU8", &data)]);
        let beam = Beam::parse(&bytes).unwrap();
        assert_eq!(beam.atoms(), ["m", long.as_str()]);
    }

    #[test]
    fn import_and_export_indices_are_checked() {
        let at = atoms(&["m", "f"]);
        let e = Beam::parse(&form(&[(b"AtU8", &at), (b"ImpT", &table(&[[1, 7, 0]]))])).unwrap_err();
        assert_eq!(e.chunk(), Some(IMPT));
        assert!(e.to_string().contains("refers to atom 7"), "{e}");
        let mut lying = table(&[[2, 0, 1]]);
        lying[..4].copy_from_slice(&u32::MAX.to_be_bytes());
        let e = Beam::parse(&form(&[(b"AtU8", &at), (b"ExpT", &lying)])).unwrap_err();
        assert_eq!(e.chunk(), Some(EXPT));
        assert!(e.to_string().contains("count 4294967295"), "{e}");
    }

    #[test]
    fn display_names_file_chunk_and_offset() {
        let e = Error::at(ErrorKind::NotBeam, 7)
            .with_chunk(LITT)
            .with_file("x/y.beam");
        assert_eq!(
            e.to_string(),
            "x/y.beam: chunk LitT at byte 7: not a BEAM file (expected `FOR1 <size> BEAM`)"
        );
        assert_eq!(
            Error::new(ErrorKind::NoInputs).to_string(),
            "no input modules"
        );
        assert_eq!(crate::error::show_id(b"a\0bc"), "a\\x00bc");
    }
}
