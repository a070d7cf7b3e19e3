//! The AtomVM `.avm` archive format as a library: bytes in, bytes out.
//!
//! This crate owns BEAM IFF parsing, chunk stripping, `LitT`→`LitU`, section
//! layout and the module import/atom graph. It must never spawn processes,
//! print, or depend on CLI crates (clap, indicatif, anyhow).
