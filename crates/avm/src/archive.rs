//! The `.avm` container: header, sections, end marker; writing and reading.
//!
//! See: DESIGN.md, "The AVM archive", and AtomVM's `doc/src/packbeam-format.md`.
//! All integers are 32-bit big-endian.

use crate::beam::{be32, pad4, walk_form, Chunk};
use crate::error::{Error, ErrorKind, Result};
use crate::ChunkId;

/// The 24-byte archive header.
pub const HEADER: &[u8; 24] = b"#!/usr/bin/env AtomVM\n\0\0";
/// Section flag: the startup module.
pub const BEAM_START_FLAG: u32 = 1;
/// Section flag: BEAM code.
pub const BEAM_CODE_FLAG: u32 = 2;
/// Section flag: a plain data file (`atomvm:read_priv/2`).
pub const NORMAL_FILE_FLAG: u32 = 4;
/// The end marker: size 0, flags 0, reserved 0, name `end`.
pub const END: &[u8; 16] = b"\0\0\0\0\0\0\0\0\0\0\0\0end\0";

/// Length of a section holding `name` and a payload of `payload_len` bytes.
pub fn section_len(name: &str, payload_len: usize) -> usize {
    12 + pad4(name.len() + 1) + pad4(payload_len)
}

/// Appends a section header and its padded name; the caller appends the
/// payload and then [`pad_to_4`].
pub fn write_section_head(out: &mut Vec<u8>, name: &str, flags: u32, payload_len: usize) {
    let at = out.len();
    out.resize(at + section_head_len(name), 0);
    write_section_head_into(&mut out[at..], name, flags, payload_len);
}

/// Length of a section's header and padded name.
pub fn section_head_len(name: &str) -> usize {
    12 + pad4(name.len() + 1)
}

/// [`write_section_head`] into the first [`section_head_len`] bytes of
/// `out`, for a caller that has made room for the whole section; returns
/// that length.
///
/// # Panics
///
/// When `out` is shorter than that.
pub fn write_section_head_into(
    out: &mut [u8],
    name: &str,
    flags: u32,
    payload_len: usize,
) -> usize {
    let head = section_head_len(name);
    let size = section_len(name, payload_len) as u32;
    let out = &mut out[..head];
    out[..4].copy_from_slice(&size.to_be_bytes());
    out[4..8].copy_from_slice(&flags.to_be_bytes());
    out[8..12].copy_from_slice(&0u32.to_be_bytes());
    out[12..12 + name.len()].copy_from_slice(name.as_bytes());
    out[12 + name.len()..].fill(0);
    head
}

/// Zero-pads `out` to a multiple of 4 bytes.
pub fn pad_to_4(out: &mut Vec<u8>) {
    out.resize(pad4(out.len()), 0);
}

/// One section of an archive as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section<'a> {
    /// The name without its NUL padding, e.g. `lists.beam`.
    pub name: String,
    pub flags: u32,
    /// Absolute offset of the section header.
    pub offset: u64,
    /// The section's `size` field (header, name and padded payload).
    pub size: u32,
    /// Absolute offset of the payload.
    pub payload_offset: u64,
    /// Everything after the padded name, padding included.
    pub payload: &'a [u8],
    /// For BEAM sections: the chunks of the `FOR1` form, in order.
    pub chunks: Vec<ChunkInfo>,
}

/// A chunk of a BEAM section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkInfo {
    pub id: ChunkId,
    /// Absolute offset of the chunk header in the archive.
    pub offset: u64,
    /// The chunk's data length (without header and padding).
    pub size: u32,
}

impl Section<'_> {
    pub fn is_beam(&self) -> bool {
        self.flags & BEAM_CODE_FLAG != 0
    }

    pub fn is_start(&self) -> bool {
        self.flags & BEAM_START_FLAG != 0
    }

    /// The file this section came from: for BEAM sections the `FOR1` form
    /// without trailing padding; for data files the bytes after the u32
    /// length prefix; otherwise the raw payload.
    pub fn contents(&self) -> &[u8] {
        if self.is_beam() && self.payload.len() >= 8 {
            let n = (8 + be32(self.payload, 4) as usize).min(self.payload.len());
            return &self.payload[..n];
        }
        if self.flags & NORMAL_FILE_FLAG != 0 && self.payload.len() >= 4 {
            let n = (be32(self.payload, 0) as usize).min(self.payload.len() - 4);
            return &self.payload[4..4 + n];
        }
        self.payload
    }
}

/// A parsed `.avm` archive, borrowing its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archive<'a> {
    pub sections: Vec<Section<'a>>,
}

impl<'a> Archive<'a> {
    /// Reads a whole archive: header, every section up to the end marker.
    /// BEAM sections have their `FOR1` form walked; anything malformed, or
    /// bytes after the end marker, is an error with its absolute offset.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        if bytes.is_empty() {
            return Err(Error::at(ErrorKind::Empty, 0));
        }
        if bytes.len() < HEADER.len() || &bytes[..HEADER.len()] != HEADER {
            return Err(Error::at(ErrorKind::NotArchive, 0));
        }
        let mut sections = Vec::new();
        let mut pos = HEADER.len();
        loop {
            let remaining = bytes.len() - pos;
            if remaining == 0 {
                return Err(Error::at(
                    ErrorKind::BadSection("the archive ends without the end marker".into()),
                    pos as u64,
                ));
            }
            if remaining < 12 {
                return Err(Error::at(
                    ErrorKind::Truncated {
                        needed: 12,
                        available: remaining as u64,
                    },
                    pos as u64,
                ));
            }
            let size = be32(bytes, pos) as usize;
            let flags = be32(bytes, pos + 4);
            if size == 0 {
                // The end marker; AtomVM stops at size 0. Insist on the exact
                // 16 bytes and nothing after.
                if remaining < END.len() || &bytes[pos..pos + END.len()] != END {
                    return Err(Error::at(
                        ErrorKind::BadSection("end marker is not `0, 0, 0, \"end\\0\"`".into()),
                        pos as u64,
                    ));
                }
                let after = pos + END.len();
                if after != bytes.len() {
                    return Err(Error::trailing(
                        bytes.len() - after,
                        "the archive's end marker",
                        after as u64,
                    ));
                }
                break;
            }
            if size > remaining {
                return Err(Error::at(
                    ErrorKind::SizeOverrun {
                        declared: size as u64,
                        available: remaining as u64,
                    },
                    pos as u64,
                ));
            }
            if size < 16 || size % 4 != 0 {
                return Err(Error::at(
                    ErrorKind::BadSection(format!(
                        "size {size} is not a multiple of 4 of at least 16"
                    )),
                    pos as u64,
                ));
            }
            let body = &bytes[pos + 12..pos + size];
            let Some(nul) = body.iter().position(|&b| b == 0) else {
                return Err(Error::at(
                    ErrorKind::BadSection("name is not NUL-terminated".into()),
                    (pos + 12) as u64,
                ));
            };
            let name = std::str::from_utf8(&body[..nul])
                .map_err(|_| {
                    Error::at(
                        ErrorKind::BadSection("name is not UTF-8".into()),
                        (pos + 12) as u64,
                    )
                })?
                .to_owned();
            let name_len = pad4(nul + 1);
            if name_len > body.len() {
                return Err(Error::at(
                    ErrorKind::BadSection("name padding runs past the section".into()),
                    (pos + 12) as u64,
                ));
            }
            let payload = &body[name_len..];
            let payload_offset = (pos + 12 + name_len) as u64;
            let chunks = if flags & BEAM_CODE_FLAG != 0 {
                if payload.is_empty() {
                    return Err(Error::at(
                        ErrorKind::BadSection(format!("BEAM section `{name}` has no payload")),
                        payload_offset,
                    ));
                }
                let (chunks, form_len) = walk_form(payload, payload_offset)?;
                if pad4(form_len) != payload.len() {
                    return Err(Error::trailing(
                        payload.len() - form_len,
                        "the BEAM form of this section",
                        payload_offset + form_len as u64,
                    ));
                }
                chunks.iter().map(info).collect()
            } else {
                Vec::new()
            };
            sections.push(Section {
                name,
                flags,
                offset: pos as u64,
                size: size as u32,
                payload_offset,
                payload,
                chunks,
            });
            pos += size;
        }
        Ok(Archive { sections })
    }
}

fn info(c: &Chunk<'_>) -> ChunkInfo {
    ChunkInfo {
        id: c.id,
        offset: c.offset,
        size: c.data.len() as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{atoms, form};

    fn archive(sections: &[(&str, u32, &[u8])]) -> Vec<u8> {
        let mut out = HEADER.to_vec();
        for (name, flags, payload) in sections {
            write_section_head(&mut out, name, *flags, payload.len());
            out.extend_from_slice(payload);
            pad_to_4(&mut out);
        }
        out.extend_from_slice(END);
        out
    }

    #[test]
    fn section_layout_matches_the_spec() {
        // "ab.beam\0" is 8 bytes: no name padding; a 5-byte payload pads to 8.
        assert_eq!(section_len("ab.beam", 5), 12 + 8 + 8);
        assert_eq!(section_len("a.beam", 4), 12 + 8 + 4);
        assert_eq!(section_len("abcd.beam", 0), 12 + 12);
        let mut out = Vec::new();
        write_section_head(&mut out, "a.beam", 3, 4);
        assert_eq!(out, b"\0\0\0\x18\0\0\0\x03\0\0\0\0a.beam\0\0");
    }

    #[test]
    fn reads_back_what_it_writes() {
        let beam = form(&[(b"AtU8", &atoms(&["ab"])), (b"Code", b"xyz")]);
        let data = [0u8, 0, 0, 3, b'h', b'i', b'!'];
        let bytes = archive(&[
            ("ab.beam", 3, &beam),
            ("priv/x.txt", NORMAL_FILE_FLAG, &data),
        ]);
        let a = Archive::parse(&bytes).unwrap();
        assert_eq!(a.sections.len(), 2);
        let s = &a.sections[0];
        assert_eq!((s.name.as_str(), s.flags, s.offset), ("ab.beam", 3, 24));
        assert!(s.is_beam() && s.is_start());
        assert_eq!(s.contents(), &beam[..]);
        let ids: Vec<_> = s.chunks.iter().map(|c| (c.id, c.offset, c.size)).collect();
        assert_eq!(
            ids,
            [
                (*b"AtU8", 24 + 12 + 8 + 12, 7),
                (*b"Code", 24 + 12 + 8 + 12 + 16, 3)
            ]
        );
        assert_eq!(a.sections[1].contents(), b"hi!");
        assert!(!a.sections[1].is_beam());
    }

    #[test]
    fn malformed_archives() {
        let good = archive(&[("a.beam", 2, &form(&[(b"AtU8", &atoms(&["a"]))]))]);
        let cases: Vec<(Vec<u8>, u64, &str)> = vec![
            (Vec::new(), 0, "empty"),
            (
                b"#!/usr/bin/env AtomVM\n\0".to_vec(),
                0,
                "not an AtomVM archive",
            ),
            (
                good[..good.len() - 16].to_vec(),
                good.len() as u64 - 16,
                "without the end marker",
            ),
            (
                good[..good.len() - 10].to_vec(),
                good.len() as u64 - 16,
                "truncated",
            ),
            (
                [&good[..], b"x"].concat(),
                good.len() as u64,
                "after the archive's end marker",
            ),
            (
                {
                    let mut b = good.clone();
                    b[27] = 0xff;
                    b
                },
                24,
                "size runs past",
            ),
            (
                {
                    let mut b = good.clone();
                    b[27] -= 2;
                    b
                },
                24,
                "multiple of 4",
            ),
            (
                {
                    let mut b = good.clone();
                    b[36] = 0xff;
                    b
                },
                36,
                "not UTF-8",
            ),
            (archive(&[("x", 2, b"")]), 40, "no payload"),
            (
                {
                    let mut b = good.clone();
                    b[44] = b'X';
                    b
                },
                44,
                "not a BEAM",
            ),
        ];
        for (bytes, offset, what) in cases {
            let e = Archive::parse(&bytes).unwrap_err();
            assert!(e.to_string().contains(what), "{what}: {e}");
            assert_eq!(e.offset(), Some(offset), "{what}: {e}");
        }
    }
}
