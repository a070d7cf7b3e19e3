//! Builders for the unit tests: BEAM forms and their tables made from a few
//! bytes. A leaf module (it names no other module of the crate), so that any
//! module's tests can use it without tying that module to another.

use flate2::write::ZlibEncoder;
use std::io::Write as _;

/// A BEAM form from (id, data) chunks, each padded to 4.
pub(crate) fn form(chunks: &[(&[u8; 4], &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (id, data) in chunks {
        body.extend_from_slice(*id);
        body.extend_from_slice(&(data.len() as u32).to_be_bytes());
        body.extend_from_slice(data);
        body.resize((body.len() + 3) & !3, 0);
    }
    let mut out = b"FOR1".to_vec();
    out.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
    out.extend_from_slice(b"BEAM");
    out.extend_from_slice(&body);
    out
}

/// An `AtU8` chunk: the count, then each name after its length byte.
pub(crate) fn atoms(names: &[&str]) -> Vec<u8> {
    let mut v = (names.len() as u32).to_be_bytes().to_vec();
    for n in names {
        v.push(n.len() as u8);
        v.extend_from_slice(n.as_bytes());
    }
    v
}

/// An `ImpT`/`ExpT`-shaped table: the count, then rows of three u32.
pub(crate) fn table(entries: &[[u32; 3]]) -> Vec<u8> {
    let mut v = (entries.len() as u32).to_be_bytes().to_vec();
    for e in entries {
        for x in e {
            v.extend_from_slice(&x.to_be_bytes());
        }
    }
    v
}

pub(crate) fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A `LitT` chunk's data: the declared uncompressed size, then `stream`.
pub(crate) fn litt(declared: u32, stream: &[u8]) -> Vec<u8> {
    let mut v = declared.to_be_bytes().to_vec();
    v.extend_from_slice(stream);
    v
}

/// A literal table holding one literal: the term `{ok, 'Elixir.Foo'}`.
pub(crate) fn literal_table() -> Vec<u8> {
    let term: &[u8] = &[
        131, 104, 2, 119, 2, b'o', b'k', 119, 10, b'E', b'l', b'i', b'x', b'i', b'r', b'.', b'F',
        b'o', b'o',
    ];
    let mut v = 1u32.to_be_bytes().to_vec();
    v.extend_from_slice(&(term.len() as u32).to_be_bytes());
    v.extend_from_slice(term);
    v
}
