//! The IFF layer of a BEAM file: the `FOR1 <size> BEAM` form and the
//! chunks in it, each an id, a big-endian size and data padded to four
//! bytes. A leaf of the crate: `beam` reads the chunks' contents, `archive`
//! walks the forms inside an archive.

use crate::error::{Error, ErrorKind, Result};
use crate::ChunkId;

pub const FOR1: ChunkId = *b"FOR1";
pub const BEAM: ChunkId = *b"BEAM";

pub(crate) const fn pad4(n: usize) -> usize {
    (n + 3) & !3
}

pub(crate) fn be32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// One IFF chunk as found in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk<'a> {
    pub id: ChunkId,
    /// Absolute offset of the chunk header (its id) in the file or archive.
    pub offset: u64,
    /// The chunk data, without the 8-byte header and without padding.
    pub data: &'a [u8],
}

impl Chunk<'_> {
    /// Absolute offset of the first data byte.
    pub fn data_offset(&self) -> u64 {
        self.offset + 8
    }
}

/// Walks a `FOR1 <size> BEAM` form. `base` is the absolute offset of
/// `bytes[0]`, so errors point into the enclosing file or archive.
/// Returns the chunks and the form's length (8 + the `FOR1` size).
pub(crate) fn walk_form(bytes: &[u8], base: u64) -> Result<(Vec<Chunk<'_>>, usize)> {
    if bytes.is_empty() {
        return Err(Error::at(ErrorKind::Empty, base).with_chunk(FOR1));
    }
    if bytes.len() < 12 {
        if !FOR1.starts_with(&bytes[..bytes.len().min(4)]) {
            return Err(Error::at(ErrorKind::NotBeam, base).with_chunk(FOR1));
        }
        return Err(Error::at(
            ErrorKind::Truncated {
                needed: 12,
                available: bytes.len() as u64,
            },
            base,
        ));
    }
    if bytes[0..4] != FOR1 || bytes[8..12] != BEAM {
        return Err(Error::at(ErrorKind::NotBeam, base).with_chunk(FOR1));
    }
    let form_size = be32(bytes, 4) as usize;
    if form_size < 4 || form_size > bytes.len() - 8 {
        return Err(Error::at(
            ErrorKind::SizeOverrun {
                declared: form_size as u64,
                available: bytes.len() as u64 - 8,
            },
            base + 4,
        )
        .with_chunk(FOR1));
    }
    let end = 8 + form_size;
    let mut chunks = Vec::with_capacity(16);
    let mut pos = 12;
    while pos < end {
        let at = base + pos as u64;
        if end - pos < 8 {
            return Err(Error::at(
                ErrorKind::Truncated {
                    needed: 8,
                    available: (end - pos) as u64,
                },
                at,
            ));
        }
        let id: ChunkId = bytes[pos..pos + 4].try_into().expect("4 bytes");
        let size = be32(bytes, pos + 4) as usize;
        let available = end - pos - 8;
        if size > available {
            return Err(Error::at(
                ErrorKind::SizeOverrun {
                    declared: size as u64,
                    available: available as u64,
                },
                at,
            )
            .with_chunk(id));
        }
        chunks.push(Chunk {
            id,
            offset: at,
            data: &bytes[pos + 8..pos + 8 + size],
        });
        // The last chunk's padding may be missing; erlc always writes it.
        pos = (pos + 8 + pad4(size)).min(end);
    }
    Ok((chunks, end))
}
