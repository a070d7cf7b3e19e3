//! The AtomVM stripping step: a BEAM reduced to the chunks AtomVM loads
//! (`KEPT_CHUNKS`), with a compressed literal table inflated to `LitU`,
//! either as a buffer ([`Stripped`]) or planned with its length known before
//! inflating, to be written straight into an archive ([`StripPlan`]).

use std::borrow::Cow;

use crate::beam::{pad4, Beam, Chunk, BEAM, FOR1, KEPT_CHUNKS, LITT, LITU};
use crate::error::Result;
use crate::litt::{self, LitT};
use crate::ChunkId;

impl<'a> Beam<'a> {
    /// The chunks AtomVM keeps, in file order, with `LitT` inflated to `LitU`
    /// (bounded by `cap`) or kept as `LitT` when stored uncompressed (once
    /// checked to be a well-formed literal table).
    pub fn strip(&self, cap: usize) -> Result<Stripped<'a>> {
        let plan = self.strip_plan(cap)?;
        let mut chunks = Vec::with_capacity(plan.chunks.len());
        for kept in &plan.chunks {
            chunks.push(match *kept {
                Kept::Copy(id, data) => (id, Cow::Borrowed(data)),
                Kept::Inflate { chunk, declared } => {
                    let mut table = Vec::new();
                    litt::inflate(chunk.data, chunk.data_offset(), declared, &mut table)?;
                    (LITU, Cow::Owned(table))
                }
            });
        }
        Ok(Stripped {
            chunks,
            len: plan.len,
        })
    }

    /// What [`Beam::strip`] keeps, checked (the inflate cap, a stored
    /// table's shape) but not yet inflated: the form's length is known from
    /// the declared size alone, so it can be written straight into an
    /// archive after its section header, inflating in place.
    pub(crate) fn strip_plan(&self, cap: usize) -> Result<StripPlan<'a>> {
        let mut chunks = Vec::with_capacity(self.chunks().len());
        let mut len = 12;
        for c in self.chunks() {
            let kept = if c.id == LITT {
                match litt::decode(c.data, c.data_offset(), cap)? {
                    LitT::Stored(_) => Kept::Copy(LITT, c.data),
                    LitT::Compressed { declared } => Kept::Inflate {
                        chunk: *c,
                        declared,
                    },
                }
            } else if KEPT_CHUNKS.contains(&c.id) {
                Kept::Copy(c.id, c.data)
            } else {
                continue;
            };
            len += 8 + pad4(kept.len());
            chunks.push(kept);
        }
        Ok(StripPlan { chunks, len })
    }
}

/// One chunk of a stripped form, before inflating.
#[derive(Debug, Clone, Copy)]
enum Kept<'a> {
    /// Copied as it is, under this id.
    Copy(ChunkId, &'a [u8]),
    /// A compressed `LitT`, written as a `LitU` of `declared` bytes.
    Inflate { chunk: Chunk<'a>, declared: usize },
}

impl Kept<'_> {
    fn len(&self) -> usize {
        match self {
            Kept::Copy(_, data) => data.len(),
            Kept::Inflate { declared, .. } => *declared,
        }
    }
}

/// A stripped form, checked, to be written with the literal table inflated
/// as it goes (see [`Beam::strip_plan`]).
#[derive(Debug, Clone)]
pub(crate) struct StripPlan<'a> {
    chunks: Vec<Kept<'a>>,
    len: usize,
}

impl StripPlan<'_> {
    /// Length of the form (always a multiple of 4).
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Writes the bytes [`StripPlan::write_to`] appends into `out`, which is
    /// exactly [`StripPlan::len`] bytes long, inflating in place.
    pub(crate) fn write_into(&self, out: &mut [u8]) -> Result<()> {
        debug_assert_eq!(out.len(), self.len);
        let mut w = Cursor::new(out);
        w.put(&FOR1);
        w.put(&((self.len - 8) as u32).to_be_bytes());
        w.put(&BEAM);
        for kept in &self.chunks {
            let (id, len) = match kept {
                Kept::Copy(id, data) => (*id, data.len()),
                Kept::Inflate { declared, .. } => (LITU, *declared),
            };
            w.put(&id);
            w.put(&(len as u32).to_be_bytes());
            match *kept {
                Kept::Copy(_, data) => w.put(data),
                Kept::Inflate { chunk, declared } => {
                    let table = w.take(declared);
                    litt::inflate_exact(chunk.data, chunk.data_offset(), declared, table)?;
                }
            }
            w.take(pad4(len) - len).fill(0);
        }
        debug_assert_eq!(w.at, self.len);
        Ok(())
    }
}

/// Writes into a slice from its start, one piece after the other.
struct Cursor<'o> {
    out: &'o mut [u8],
    at: usize,
}

impl<'o> Cursor<'o> {
    fn new(out: &'o mut [u8]) -> Self {
        Cursor { out, at: 0 }
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> &mut [u8] {
        let piece = &mut self.out[self.at..self.at + n];
        self.at += n;
        piece
    }

    pub(crate) fn put(&mut self, bytes: &[u8]) {
        self.take(bytes.len()).copy_from_slice(bytes);
    }
}

/// A BEAM reduced to what AtomVM loads, ready to be written.
#[derive(Debug, Clone)]
pub struct Stripped<'a> {
    chunks: Vec<(ChunkId, Cow<'a, [u8]>)>,
    len: usize,
}

impl Stripped<'_> {
    /// Length of the re-emitted `FOR1` form (always a multiple of 4).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// The kept chunks, in order, as (id, data).
    pub fn chunks(&self) -> impl Iterator<Item = (ChunkId, &[u8])> {
        self.chunks.iter().map(|(id, d)| (*id, &d[..]))
    }

    /// Appends `FOR1 <size> BEAM` and every chunk, each zero-padded to 4.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&FOR1);
        out.extend_from_slice(&((self.len - 8) as u32).to_be_bytes());
        out.extend_from_slice(&BEAM);
        for (id, data) in &self.chunks {
            out.extend_from_slice(id);
            out.extend_from_slice(&(data.len() as u32).to_be_bytes());
            out.extend_from_slice(data);
            out.resize(out.len() + (pad4(data.len()) - data.len()), 0);
        }
    }

    /// The re-emitted form as a new buffer.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.len);
        self.write_to(&mut v);
        v
    }
}
