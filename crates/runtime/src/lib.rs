//! The AtomVM runtime of elixir-workers: `atomvm.wasm` (AtomVM's core and our
//! WASI adapter), AtomVM's standard library compiled to `stdlib/*.beam`, and
//! `runtime.json`, the manifest that says what was built from what.
//!
//! The binary knows the runtime it needs by its [id](identity::runtime_id): a
//! digest of the AtomVM commit, the adapter's sources (embedded in this crate)
//! and the build settings. A runtime lives in `$ELIXIR_WORKERS_RUNTIME` or in
//! the user cache under its id ([`Runtime::locate`]), never in a source tree.
//! It gets there by [`build`] (from AtomVM's source: a directory, an archive,
//! or the pinned commit downloaded and verified by the digest of its file
//! tree) or by [`bundle::install`] (a prebuilt runtime archive, checked
//! against its id and sha256).
//!
//! Builds spawn the C toolchain and the Erlang/Elixir compilers, all through
//! [`process`]; nothing here parses arguments or draws on the terminal:
//! progress goes out as [`Progress`] values.

pub mod abi;
pub mod atomic;
pub mod build;
pub mod bundle;
pub mod cache;
pub mod compile;
pub mod digest;
pub mod headers;
pub mod identity;
pub mod link;
pub mod locate;
pub mod manifest;
pub mod process;
pub mod settings;
pub mod source;
pub mod stdlib;
pub mod toolchain;

pub use build::{build, BuildOptions};
pub use identity::{runtime_id, ATOMVM_PIN};
pub use locate::{Origin, Runtime, RUNTIME_ENV};

/// Progress of a long operation (a build, a download, an install).
#[derive(Debug, Clone)]
pub enum Progress {
    /// A step begins, cargo style: `Compiling` `42 C files (2 jobs)`.
    Step {
        action: &'static str,
        detail: String,
    },
    /// A counted task starts: `total` files to compile or bytes to fetch
    /// (`None` when the server does not say).
    Start {
        what: &'static str,
        total: Option<u64>,
        bytes: bool,
    },
    /// The counted task has reached `done`.
    Advance(u64),
    /// The counted task is over.
    Finish,
    /// Worth telling the user; does not stop anything.
    Note(String),
}

/// The progress callback. Builds report from several threads at once.
pub type Reporter<'a> = &'a (dyn Fn(Progress) + Sync);
