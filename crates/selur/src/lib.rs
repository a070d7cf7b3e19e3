//! selur: the host side of the container-lifecycle bridge.
//!
//! This crate owns the wasmtime host (one engine per process, compiled
//! modules cached by content hash, one store per [`Bridge`] with a memory
//! cap and a per-call epoch deadline), the wire protocol shared with the
//! guest `selur.wasm` (built from `guest/selur.c`), the typed container
//! operations, and the backends that carry out the guest's effects: an
//! in-memory one and a real OCI one that drives `runc`. It must never let
//! the guest reach anything but its imports, never trust a pointer or
//! length the guest returns without checking it against linear memory, and
//! never leave a bundle, runtime state or process behind once a backend is
//! dropped. It depends on no other crate of this workspace.

pub mod backend;
mod bridge;
mod error;
pub mod protocol;

pub use backend::memory::MemoryBackend;
pub use backend::runc::{ImageStore, RuncBackend, RuncConfig};
pub use backend::Backend;
pub use bridge::{Bridge, ContainerId, ContainerInfo, ContainerState, Limits, GUEST_WASM};
pub use error::{Error, ErrorKind, Result};
pub use protocol::{Command, Status};
