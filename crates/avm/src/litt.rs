//! The `LitT` chunk: a BEAM's literal table, zlib-compressed behind its
//! uncompressed size, or stored as it is behind a size of 0. Decoding never
//! allocates more than the declared size, and never more than a cap.
//!
//! A leaf of the crate (only errors and the external term format): `beam`
//! hands it a chunk's bytes and their offset.

use flate2::{Decompress, FlushDecompress, Status};

use crate::error::{Error, ErrorKind, Result};
use crate::ChunkId;

pub const LITT: ChunkId = *b"LitT";

pub(crate) enum LitT<'a> {
    /// Size field 0: the table follows uncompressed.
    Stored(&'a [u8]),
    /// zlib data to inflate to `declared` bytes (within the cap).
    Compressed { declared: usize },
}

/// Checks a `LitT` chunk: `[uncompressed size u32][zlib data]`, or
/// `[0u32][table]` when stored uncompressed; a stored table is walked to the
/// end (count, each literal's size and external term, nothing after), a
/// declared size over `cap` is refused before anything is allocated.
pub(crate) fn decode(data: &[u8], at: u64, cap: usize) -> Result<LitT<'_>> {
    let err = |kind, off: u64| Error::at(kind, off).with_chunk(LITT);
    if data.len() < 4 {
        return Err(err(
            ErrorKind::Truncated {
                needed: 4,
                available: data.len() as u64,
            },
            at,
        ));
    }
    let declared = u32::from_be_bytes(data[..4].try_into().expect("4 bytes")) as usize;
    let stream = &data[4..];
    let stream_at = at + 4;
    if declared == 0 {
        // The table is copied into the archive as it is, so nothing else
        // would ever look at it: check here that it is one, or AtomVM gets
        // garbage (say, a compressed table whose size field was zeroed).
        crate::etf::check_literal_table(stream).map_err(|(msg, rel)| {
            let hint = if looks_like_zlib(stream) {
                "; the chunk looks zlib-compressed"
            } else {
                ""
            };
            err(
                ErrorKind::BadStoredLiterals(format!("{msg}{hint}")),
                stream_at + rel as u64,
            )
        })?;
        return Ok(LitT::Stored(stream));
    }
    if declared > cap {
        return Err(err(
            ErrorKind::InflateCapExceeded {
                declared: declared as u64,
                cap: cap as u64,
            },
            at,
        ));
    }
    Ok(LitT::Compressed { declared })
}

/// Most output inflated past an understated size to tell a stream that
/// merely holds more than declared from one that is also corrupt.
const OVERRUN_PROBE: u64 = 64 << 10;

/// Appends the `declared` bytes a compressed `LitT` (checked by
/// [`decode`]) inflates to, the way gimli-rs/object inflates: room for
/// exactly the declared size and one byte more, so an understated size is
/// caught without ever producing more, and any difference is rejected.
/// Inflated in one call straight into `out`, with no window to copy through.
pub(crate) fn inflate(data: &[u8], at: u64, declared: usize, out: &mut Vec<u8>) -> Result<()> {
    let start = out.len();
    out.resize(start + declared + 1, 0);
    // One inflater per thread, reset for each table: a new one allocates and
    // zeroes its state and window afresh, and glibc hands large freed blocks
    // back to the system, so each table paid for new pages (on Elixir's
    // ebin, 190 of `pack`'s 1,110 page faults and 0.5 ms of its CPU time).
    let mut z = INFLATER
        .with(|cell| cell.take())
        .unwrap_or_else(|| Decompress::new(true));
    z.reset(true);
    let result = inflate_into(data, at, declared, &mut z, out, start);
    INFLATER.with(|cell| cell.set(Some(z)));
    result
}

/// [`inflate`] into `out`, which has room for exactly the `declared` bytes:
/// for a caller that placed the table before inflating it. Succeeds and
/// fails as [`inflate`] does, with the same error: only the common case
/// (the stream ends, after exactly `declared` bytes and at the end of the
/// chunk) is decided here; anything else goes through [`inflate`].
pub(crate) fn inflate_exact(data: &[u8], at: u64, declared: usize, out: &mut [u8]) -> Result<()> {
    debug_assert_eq!(out.len(), declared);
    let stream = &data[4..];
    let mut z = INFLATER
        .with(|cell| cell.take())
        .unwrap_or_else(|| Decompress::new(true));
    z.reset(true);
    let status = z.decompress(stream, out, FlushDecompress::Finish);
    let whole = matches!(status, Ok(Status::StreamEnd))
        && z.total_out() == declared as u64
        && z.total_in() == stream.len() as u64;
    INFLATER.with(|cell| cell.set(Some(z)));
    if whole {
        return Ok(());
    }
    let mut table = Vec::new();
    inflate(data, at, declared, &mut table)?;
    out.copy_from_slice(&table);
    Ok(())
}

thread_local! {
    static INFLATER: std::cell::Cell<Option<Decompress>> = const { std::cell::Cell::new(None) };
}

fn inflate_into(
    data: &[u8],
    at: u64,
    declared: usize,
    z: &mut Decompress,
    out: &mut Vec<u8>,
    start: usize,
) -> Result<()> {
    let err = |kind, off: u64| Error::at(kind, off).with_chunk(LITT);
    let stream = &data[4..];
    let stream_at = at + 4;
    let corrupt =
        |z: &Decompress, msg: String| err(ErrorKind::CorruptZlib(msg), stream_at + z.total_in());
    let status = z.decompress(stream, &mut out[start..], FlushDecompress::Finish);
    let produced = z.total_out() as usize;
    out.truncate(start + declared.min(produced));
    match status {
        Err(e) => return Err(corrupt(z, e.to_string())),
        Ok(Status::StreamEnd) if produced == declared => {}
        Ok(Status::StreamEnd) => {
            return Err(err(
                ErrorKind::LiteralSizeMismatch {
                    declared: declared as u64,
                    actual: produced as u64,
                    actual_at_least: false,
                },
                at,
            ));
        }
        Ok(_) if produced > declared => {
            // More than declared. Inflate a little further, into a scratch
            // buffer, in case the stream is plain corrupt (it fails its
            // checksum, say) and its size only looked wrong on the way.
            let mut scratch = [0u8; 4096];
            let probed_from = z.total_out();
            while z.total_out() - probed_from < OVERRUN_PROBE {
                let before = (z.total_in(), z.total_out());
                let rest = &stream[z.total_in() as usize..];
                match z.decompress(rest, &mut scratch, FlushDecompress::Finish) {
                    Err(e) => return Err(corrupt(z, e.to_string())),
                    Ok(Status::StreamEnd) => break,
                    Ok(_) if (z.total_in(), z.total_out()) == before => break,
                    Ok(_) => {}
                }
            }
            return Err(err(
                ErrorKind::LiteralSizeMismatch {
                    declared: declared as u64,
                    actual: declared as u64 + 1,
                    actual_at_least: true,
                },
                at,
            ));
        }
        Ok(_) => return Err(corrupt(z, "stream ends early".into())),
    }
    let used = z.total_in() as usize;
    if used != stream.len() {
        return Err(Error::trailing(
            stream.len() - used,
            "the end of the zlib stream",
            stream_at + used as u64,
        )
        .with_chunk(LITT));
    }
    Ok(())
}

/// Whether `d` starts with a zlib header (RFC 1950: deflate, a 32 KiB window
/// or smaller, header check bits right). Only used to explain an error.
fn looks_like_zlib(d: &[u8]) -> bool {
    match d {
        [cmf, flg, ..] => {
            cmf & 0x0f == 8 && cmf >> 4 <= 7 && u16::from_be_bytes([*cmf, *flg]) % 31 == 0
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{literal_table, litt, zlib};

    /// A cap far above any table here (the cap's own test sets its own).
    const CAP: usize = 1 << 20;
    /// Where the chunk's data starts in the file the errors point into.
    const AT: u64 = 100;
    /// The first byte after the size field.
    const STORED_AT: u64 = AT + 4;

    /// Decodes and, when compressed, inflates: what reading a chunk does.
    fn read(chunk: &[u8], cap: usize) -> Result<Vec<u8>> {
        match decode(chunk, AT, cap)? {
            LitT::Stored(t) => Ok(t.to_vec()),
            LitT::Compressed { declared } => {
                let mut out = Vec::new();
                inflate(chunk, AT, declared, &mut out)?;
                Ok(out)
            }
        }
    }

    fn litt_error(chunk: &[u8], cap: usize) -> Error {
        match read(chunk, cap) {
            Ok(_) => panic!("decoded a bad LitT"),
            Err(e) => e,
        }
    }

    fn stored_error(table: &[u8]) -> Error {
        let e = litt_error(&litt(0, table), CAP);
        assert_eq!(e.chunk(), Some(LITT), "{e}");
        assert!(matches!(e.kind(), ErrorKind::BadStoredLiterals(_)), "{e}");
        e
    }

    #[test]
    fn stored_litt_holding_a_compressed_table_is_refused_at_the_count() {
        let e = stored_error(&zlib(&literal_table()));
        assert_eq!(e.offset(), Some(STORED_AT));
        let msg = e.to_string();
        assert!(
            msg.contains("stored uncompressed (size field 0) is malformed: count ")
                && msg.ends_with("; the chunk looks zlib-compressed"),
            "{msg}"
        );
    }

    #[test]
    fn stored_litt_errors_point_at_the_bad_byte() {
        let good = literal_table();
        let term_len = good.len() as u32 - 8;
        // A literal whose size runs one byte past the chunk: at its size field.
        let mut t = good.clone();
        t[4..8].copy_from_slice(&(term_len + 1).to_be_bytes());
        let e = stored_error(&t);
        assert_eq!(e.offset(), Some(STORED_AT + 4));
        assert!(
            e.to_string().ends_with(&format!(
                "literal 0 runs past the end: declares {} bytes, only {term_len} remain",
                term_len + 1
            )),
            "{e}"
        );
        // Not external term format: at the version byte.
        let mut t = good.clone();
        t[8] = 130;
        let e = stored_error(&t);
        assert_eq!(e.offset(), Some(STORED_AT + 8));
        assert!(
            e.to_string()
                .contains("literal 0: missing the external term format version byte 131"),
            "{e}"
        );
        // A term shorter than its declared size: after the term.
        let mut t = good.clone();
        t[4..8].copy_from_slice(&(term_len + 1).to_be_bytes());
        t.push(106);
        let e = stored_error(&t);
        assert_eq!(e.offset(), Some(STORED_AT + 8 + term_len as u64));
        assert!(
            e.to_string().ends_with("literal 0: 1 bytes after the term"),
            "{e}"
        );
        // Bytes after the last literal.
        let mut t = good.clone();
        t.extend_from_slice(b"xy");
        let e = stored_error(&t);
        assert_eq!(e.offset(), Some(STORED_AT + good.len() as u64));
        assert!(
            e.to_string().ends_with("2 bytes after the last literal"),
            "{e}"
        );
        // No table at all after the size field.
        let e = stored_error(b"");
        assert_eq!(e.offset(), Some(STORED_AT));
        assert!(e.to_string().ends_with("needs 4 bytes, 0 remain"), "{e}");
        // An empty table is a table.
        assert!(matches!(
            decode(&litt(0, &[0; 4]), AT, CAP),
            Ok(LitT::Stored(&[0, 0, 0, 0]))
        ));
    }

    #[test]
    fn zlib_headers_are_recognised() {
        assert!(looks_like_zlib(&zlib(b"abc")));
        assert!(looks_like_zlib(&[0x78, 0xda]) && looks_like_zlib(&[0x78, 0x01]));
        assert!(!looks_like_zlib(&literal_table()) && !looks_like_zlib(&[0x78]));
    }

    #[test]
    fn litt_size_mismatch_both_ways() {
        let lit = literal_table();
        let z = zlib(&lit);
        let e = litt_error(&litt(lit.len() as u32 + 5, &z), CAP);
        assert_eq!(e.chunk(), Some(LITT));
        assert_eq!(e.offset(), Some(AT));
        assert!(matches!(
            e.kind(),
            ErrorKind::LiteralSizeMismatch {
                actual_at_least: false,
                ..
            }
        ));
        let e = litt_error(&litt(lit.len() as u32 - 5, &z), CAP);
        assert!(matches!(
            e.kind(),
            ErrorKind::LiteralSizeMismatch { actual_at_least: true, actual, declared } if *actual == *declared + 1
        ));
    }

    #[test]
    fn inflating_in_place_succeeds_and_fails_as_appending_does() {
        let lit = literal_table();
        let z = zlib(&lit);
        let mut trailing = z.clone();
        trailing.extend_from_slice(b"junk");
        let mut bad_header = z.clone();
        bad_header[0] = 0x12;
        let mut bad_checksum = z.clone();
        *bad_checksum.last_mut().unwrap() ^= 1;
        let n = lit.len() as u32;
        for (chunk, what) in [
            (litt(n, &z), "whole"),
            (litt(n + 5, &z), "overstated"),
            (litt(n - 5, &z), "understated"),
            (litt(n, &z[..z.len() / 2]), "cut short"),
            (litt(n, &trailing), "trailing bytes"),
            (litt(n, &bad_header), "bad header"),
            (litt(n, &bad_checksum), "bad checksum"),
            (litt(0x10000, &zlib(&[0; 0x10000])), "64 KiB of zeros"),
        ] {
            let declared = be32(&chunk);
            let mut appended = b"before".to_vec();
            let expected = inflate(&chunk, AT, declared, &mut appended);
            let mut room = vec![0xa5; declared];
            let got = inflate_exact(&chunk, AT, declared, &mut room);
            assert_eq!(got, expected, "{what}");
            if got.is_ok() {
                assert_eq!(room, appended[b"before".len()..], "{what}");
            }
        }
    }

    fn be32(chunk: &[u8]) -> usize {
        u32::from_be_bytes(chunk[..4].try_into().unwrap()) as usize
    }

    #[test]
    fn inflate_is_bounded_by_the_cap() {
        // 8 MiB of zeros, declared honestly, with a 1 MiB cap: refused before
        // any allocation; with an understated size: stops one byte past it.
        let z = zlib(&vec![0u8; 8 << 20]);
        let e = litt_error(&litt(8 << 20, &z), 1 << 20);
        assert!(
            matches!(e.kind(), ErrorKind::InflateCapExceeded { declared, cap } if *declared == 8 << 20 && *cap == 1 << 20)
        );
        let e = litt_error(&litt(1000, &z), 1 << 20);
        assert!(matches!(
            e.kind(),
            ErrorKind::LiteralSizeMismatch {
                declared: 1000,
                actual: 1001,
                actual_at_least: true
            }
        ));
    }

    #[test]
    fn corrupt_and_truncated_zlib() {
        let lit = literal_table();
        let z = zlib(&lit);
        let mut bad = z.clone();
        bad[0] = 0x12; // not a zlib header
        let e = litt_error(&litt(lit.len() as u32, &bad), CAP);
        assert!(matches!(e.kind(), ErrorKind::CorruptZlib(_)), "{e}");
        let e = litt_error(&litt(lit.len() as u32, &z[..z.len() / 2]), CAP);
        assert!(
            matches!(e.kind(), ErrorKind::CorruptZlib(m) if m.contains("ends early")),
            "{e}"
        );
        let mut trailing = z.clone();
        trailing.extend_from_slice(b"junk");
        let e = litt_error(&litt(lit.len() as u32, &trailing), CAP);
        assert!(
            matches!(e.kind(), ErrorKind::TrailingData { len: 4, .. }),
            "{e}"
        );
        let e = litt_error(b"\0\0", CAP);
        assert!(
            matches!(
                e.kind(),
                ErrorKind::Truncated {
                    needed: 4,
                    available: 2
                }
            ),
            "{e}"
        );
    }
}
