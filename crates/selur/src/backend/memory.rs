//! The in-memory backend: no processes, for tests and demos.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::Backend;
use crate::error::{Error, ErrorKind, Result};

/// Images the default in-memory catalogue pretends to hold.
pub const DEFAULT_IMAGES: &[&str] = &[
    "busybox:latest",
    "alpine:3.19",
    "nginx:latest",
    "postgres:16",
    "redis:7",
];

/// Keeps a catalogue of images and a status per container.
#[derive(Debug, Clone)]
pub struct MemoryBackend {
    images: BTreeSet<String>,
    containers: BTreeMap<String, Entry>,
}

#[derive(Debug, Clone)]
struct Entry {
    image: String,
    status: &'static str,
    pid: u32,
}

impl Default for MemoryBackend {
    fn default() -> Self {
        MemoryBackend::with_images(DEFAULT_IMAGES.iter().copied())
    }
}

impl MemoryBackend {
    /// A backend whose catalogue holds exactly `images`; any other image
    /// answers `network_error`, like a registry that does not have it.
    pub fn with_images<I: IntoIterator<Item = S>, S: Into<String>>(images: I) -> Self {
        MemoryBackend {
            images: images.into_iter().map(Into::into).collect(),
            containers: BTreeMap::new(),
        }
    }

    fn entry(&mut self, id: &str) -> Result<&mut Entry> {
        self.containers.get_mut(id).ok_or_else(|| {
            Error::new(
                ErrorKind::ContainerNotFound,
                format!("memory backend has no container {id}"),
            )
        })
    }
}

/// `name` or `name:tag`, tag defaulting to `latest`.
fn normalize(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    if last.contains(':') || image.contains('@') {
        image.to_string()
    } else {
        format!("{image}:latest")
    }
}

impl Backend for MemoryBackend {
    fn create(&mut self, id: &str, image: &str) -> Result<()> {
        let image = normalize(image);
        if !self.images.contains(&image) {
            return Err(Error::new(
                ErrorKind::NetworkError,
                format!("image {image} could not be obtained: not in the in-memory catalogue"),
            ));
        }
        let entry = Entry {
            image,
            status: "created",
            pid: 0,
        };
        self.containers.insert(id.to_string(), entry);
        Ok(())
    }

    fn start(&mut self, id: &str) -> Result<()> {
        let e = self.entry(id)?;
        e.status = "running";
        // A pretend pid, stable per start, so inspect shows something
        // that changes on restart like a real runtime's would.
        e.pid = e.pid.wrapping_add(1000);
        Ok(())
    }

    fn stop(&mut self, id: &str) -> Result<()> {
        let e = self.entry(id)?;
        e.status = "stopped";
        e.pid = 0;
        Ok(())
    }

    fn delete(&mut self, id: &str) -> Result<()> {
        self.entry(id)?;
        self.containers.remove(id);
        Ok(())
    }

    fn inspect(&mut self, id: &str) -> Result<serde_json::Value> {
        let e = self.entry(id)?;
        Ok(json!({"backend": "memory", "status": e.status, "image": e.image, "pid": e.pid}))
    }

    fn reset(&mut self) {
        self.containers.clear();
    }
}
