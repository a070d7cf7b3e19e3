//! The AtomVM `.avm` archive format as a library: bytes in, bytes out.
//!
//! This crate owns BEAM IFF parsing, chunk stripping, `LitT`→`LitU`, section
//! layout, reading archives back, and the module import/atom graph used for
//! tree-shaking. It must never spawn processes, print, touch the file system,
//! or depend on CLI crates (clap, indicatif, anyhow): callers read files and
//! pass bytes; warnings are returned, not printed.
//!
//! ```no_run
//! # fn main() -> Result<(), avm::Error> {
//! let bytes = std::fs::read("hello.beam").unwrap();
//! let input = avm::PackInput { path: "hello.beam".into(), bytes, start: true };
//! let packed = avm::pack(&[input], &avm::PackOptions::default())?;
//! let archive = avm::Archive::parse(&packed.bytes)?;
//! assert_eq!(archive.sections[0].name, "hello.beam");
//! # Ok(()) }
//! ```
//!
//! Every malformed input is an [`Error`] naming the chunk and the absolute
//! byte offset; add the file with [`Error::with_file`] (or let [`pack`] do it).
//! Inflating a literal table never allocates more than its declared size, and
//! never more than a cap (default [`DEFAULT_INFLATE_CAP`], 64 MiB).

pub mod archive;
pub mod beam;
pub mod code;
mod error;
mod etf;
pub mod graph;
mod iff;
mod litt;
mod pack;
pub mod parallel;
mod strip;
#[cfg(test)]
mod test_support;

/// A four-byte IFF chunk id such as `*b"LitT"`.
pub type ChunkId = [u8; 4];

pub use archive::{Archive, ChunkInfo, Section};
pub use beam::{Beam, Chunk, DEFAULT_INFLATE_CAP};
pub use error::{Error, ErrorKind, Result};
pub use graph::{
    prune, prune_functions, prune_with, ExternalCall, FunctionPruned, Kept, ModuleCode, ModuleRefs,
    Pruned,
};
pub use strip::Stripped;

pub use pack::{
    archive_order_of, pack, PackInput, PackOptions, Packed, PackedSection, SectionCheck,
    SectionPlan, Warning, WarningKind,
};
