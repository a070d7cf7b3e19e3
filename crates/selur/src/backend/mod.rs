//! Where the guest's effects land. The guest decides *whether* an operation
//! is allowed (its state machine); a backend only carries it out.

use crate::error::Result;

pub mod memory;
pub mod runc;

/// The host side of the guest's `selur.host_*` imports.
///
/// Errors use the wire kinds: `NetworkError` for an image that cannot be
/// obtained, `ContainerNotFound` when the backend lost a container, and
/// `InternalError`/`Io` for everything else (sent as `internal_error`).
pub trait Backend: Send {
    /// Prepares container `id` from `image` (not yet running).
    fn create(&mut self, id: &str, image: &str) -> Result<()>;
    /// Starts a created or stopped container.
    fn start(&mut self, id: &str) -> Result<()>;
    /// Stops a running container.
    fn stop(&mut self, id: &str) -> Result<()>;
    /// Removes a container that is not running.
    fn delete(&mut self, id: &str) -> Result<()>;
    /// The backend's own view of the container, as one JSON object.
    fn inspect(&mut self, id: &str) -> Result<serde_json::Value>;
    /// Forgets (and tears down) every container: the guest that knew them
    /// was replaced after a trap.
    fn reset(&mut self);
    /// Whether operations block on processes or I/O (the NIF then runs them
    /// on a dirty scheduler).
    fn is_blocking(&self) -> bool {
        false
    }
}
