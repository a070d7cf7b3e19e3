//! The crate's one error type: a kind plus where it happened (file, chunk,
//! absolute byte offset), in the spirit of wasmparser's `BinaryReaderError`.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::ChunkId;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error from parsing, processing, packing or reading.
///
/// `Display` prints one line: `FILE: chunk ID at byte OFFSET: what is wrong`,
/// leaving out the parts that are unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    file: Option<PathBuf>,
    chunk: Option<ChunkId>,
    offset: Option<u64>,
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input has no bytes at all.
    Empty,
    /// The bytes do not start with `FOR1 <size> BEAM`.
    NotBeam,
    /// The input ends before a structure that must be there.
    Truncated { needed: u64, available: u64 },
    /// A chunk (or the `FOR1` form) declares more bytes than remain.
    SizeOverrun { declared: u64, available: u64 },
    /// Bytes after the end of the `FOR1` form or the archive's end marker.
    TrailingData { len: u64, after: &'static str },
    /// A chunk the format requires is absent.
    MissingChunk(ChunkId),
    /// A table inside a chunk is malformed (atom, import, export table,
    /// literal table or external term).
    Malformed(String),
    /// The `LitT` zlib stream cannot be inflated.
    CorruptZlib(String),
    /// The `LitT` header declares one uncompressed size, the stream another.
    /// `actual_at_least` is set when inflating stopped at `declared + 1` bytes.
    LiteralSizeMismatch {
        declared: u64,
        actual: u64,
        actual_at_least: bool,
    },
    /// The declared uncompressed size exceeds the configured inflate cap.
    InflateCapExceeded { declared: u64, cap: u64 },
    /// A `LitT` with a size field of 0 (stored uncompressed) does not hold a
    /// raw literal table: a bad count, a literal running past the chunk, a
    /// literal that is not one external term, bytes after the last one.
    BadStoredLiterals(String),
    /// The archive does not start with the AtomVM header.
    NotArchive,
    /// A section header or name is malformed.
    BadSection(String),
    /// `pack` was given no inputs.
    NoInputs,
    /// No input is marked as the startup module.
    NoStartModule,
    /// More than one input is marked as the startup module.
    MultipleStartModules,
    /// The startup module does not export `start/0`.
    StartNotExported { module: String },
    /// Two inputs define the same module.
    DuplicateModule { module: String, first: PathBuf },
    /// `graph::prune` was asked to start from a module that is not a candidate.
    UnknownStartModule { module: String },
}

impl Error {
    /// An error of `kind` with no location yet.
    pub fn new(kind: ErrorKind) -> Self {
        Error {
            kind,
            file: None,
            chunk: None,
            offset: None,
        }
    }

    /// An error of `kind` at absolute byte `offset`.
    pub fn at(kind: ErrorKind, offset: u64) -> Self {
        Error {
            kind,
            file: None,
            chunk: None,
            offset: Some(offset),
        }
    }

    /// `len` unexpected bytes at absolute byte `offset`, after what `after`
    /// names.
    pub(crate) fn trailing(len: usize, after: &'static str, offset: u64) -> Self {
        Error::at(
            ErrorKind::TrailingData {
                len: len as u64,
                after,
            },
            offset,
        )
    }

    /// Attach the file the bytes came from (kept if already set).
    pub fn with_file(mut self, file: impl AsRef<Path>) -> Self {
        if self.file.is_none() {
            self.file = Some(file.as_ref().to_path_buf());
        }
        self
    }

    /// Attach the chunk the error is in (kept if already set).
    pub fn with_chunk(mut self, chunk: ChunkId) -> Self {
        if self.chunk.is_none() {
            self.chunk = Some(chunk);
        }
        self
    }

    /// Attach an absolute byte offset (kept if already set).
    pub fn with_offset(mut self, offset: u64) -> Self {
        if self.offset.is_none() {
            self.offset = Some(offset);
        }
        self
    }

    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    pub fn chunk(&self) -> Option<ChunkId> {
        self.chunk
    }

    /// Absolute byte offset in the file (or archive) being read.
    pub fn offset(&self) -> Option<u64> {
        self.offset
    }
}

/// Renders a chunk id as text; non-printable bytes become `\xNN`.
pub(crate) fn show_id(id: &ChunkId) -> String {
    id.iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                (b as char).to_string()
            } else {
                format!("\\x{b:02x}")
            }
        })
        .collect()
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}: ", file.display())?;
        }
        match (&self.chunk, self.offset) {
            (Some(id), Some(off)) => write!(f, "chunk {} at byte {off}: ", show_id(id))?,
            (Some(id), None) => write!(f, "chunk {}: ", show_id(id))?,
            (None, Some(off)) => write!(f, "at byte {off}: ")?,
            (None, None) => {}
        }
        write!(f, "{}", self.kind)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ErrorKind::*;
        match self {
            Empty => write!(f, "file is empty"),
            NotBeam => write!(f, "not a BEAM file (expected `FOR1 <size> BEAM`)"),
            Truncated { needed, available } => {
                write!(f, "truncated: needs {needed} bytes, only {available} remain")
            }
            SizeOverrun { declared, available } => write!(
                f,
                "size runs past the end: declares {declared} bytes, only {available} remain"
            ),
            TrailingData { len, after } => write!(f, "{len} unexpected bytes after {after}"),
            MissingChunk(id) => write!(f, "required chunk {} is missing", show_id(id)),
            Malformed(what) => write!(f, "malformed: {what}"),
            CorruptZlib(msg) => write!(f, "corrupt zlib stream in literal table: {msg}"),
            LiteralSizeMismatch { declared, actual, actual_at_least } => write!(
                f,
                "literal table declares {declared} uncompressed bytes but inflates to {}{actual}",
                if *actual_at_least { "at least " } else { "" }
            ),
            InflateCapExceeded { declared, cap } => write!(
                f,
                "literal table declares {declared} uncompressed bytes, more than the inflate cap of {cap} bytes"
            ),
            BadStoredLiterals(what) => write!(
                f,
                "literal table stored uncompressed (size field 0) is malformed: {what}"
            ),
            NotArchive => write!(f, "not an AtomVM archive (bad header)"),
            BadSection(what) => write!(f, "bad section: {what}"),
            NoInputs => write!(f, "no input modules"),
            NoStartModule => write!(f, "no startup module given"),
            MultipleStartModules => write!(f, "more than one startup module given"),
            StartNotExported { module } => {
                write!(f, "startup module `{module}` does not export start/0")
            }
            DuplicateModule { module, first } => write!(
                f,
                "module `{module}` is defined twice (first in {})",
                first.display()
            ),
            UnknownStartModule { module } => {
                write!(f, "start module `{module}` is not among the candidate modules")
            }
        }
    }
}

impl std::error::Error for Error {}
