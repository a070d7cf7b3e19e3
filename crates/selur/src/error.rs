//! The one public error type of the crate.

use std::fmt;
use std::path::PathBuf;

/// What went wrong. The first five kinds and `Unknown` are the wire's
/// non-ok statuses, one to one (the mapping lives with the wire format, in
/// [`protocol`](crate::protocol)); the rest happen on the host side of the
/// bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `invalid_request`: malformed request, bad argument, or an operation
    /// the container's current state does not allow.
    InvalidRequest,
    /// `container_not_found`
    ContainerNotFound,
    /// `container_already_exists`
    ContainerAlreadyExists,
    /// `network_error`: the image could not be obtained.
    NetworkError,
    /// `internal_error`: the guest or the backend failed in a way that is
    /// not the caller's fault.
    InternalError,
    /// `unknown_error`: the guest answered a status byte this host does not
    /// know (kept here). Whether the operation took effect is unknown; the
    /// bridge itself is fine.
    Unknown(u8),
    /// The guest trapped (the bridge replaced its instance).
    Trap,
    /// The guest ran past the per-call deadline (the bridge replaced its
    /// instance).
    DeadlineExceeded,
    /// The guest could not get memory within the store's memory cap.
    ResourceLimit,
    /// `enoent`: the file to load does not exist (the POSIX name, as
    /// Erlang's `file` module and Elixir's `File.read/1` answer it).
    FileNotFound,
    /// Reading a file or running a runtime binary failed.
    Io,
    /// The module could not be compiled or does not export the selur ABI.
    Module,
}

impl ErrorKind {
    /// The Elixir atom / wire name of this kind.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::ContainerNotFound => "container_not_found",
            ErrorKind::ContainerAlreadyExists => "container_already_exists",
            ErrorKind::NetworkError => "network_error",
            ErrorKind::InternalError => "internal_error",
            ErrorKind::Unknown(_) => "unknown_error",
            ErrorKind::Trap => "trap",
            ErrorKind::DeadlineExceeded => "deadline_exceeded",
            ErrorKind::ResourceLimit => "resource_limit",
            ErrorKind::FileNotFound => "enoent",
            ErrorKind::Io => "io_error",
            ErrorKind::Module => "module_error",
        }
    }
}

/// An error with its kind, a message, and the file it concerns if any.
#[derive(Debug, Clone)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    path: Option<PathBuf>,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            message: message.into(),
            path: None,
        }
    }

    pub fn with_path(mut self, path: impl Into<PathBuf>) -> Error {
        self.path = Some(path.into());
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn path(&self) -> Option<&std::path::Path> {
        self.path.as_deref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind.as_str())?;
        if let Some(p) = &self.path {
            write!(f, " ({})", p.display())?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;
