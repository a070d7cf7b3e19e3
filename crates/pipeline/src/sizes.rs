//! The worker's size: the files wrangler uploads with their gzipped sizes,
//! and a warning near or over the Workers limits.

use crate::framework;
use crate::project::Project;
use crate::state::WasmStamp;
use crate::summary::{Summary, WorkerFile};
use anyhow::{Context as _, Result};
use std::io::Write as _;

/// Cloudflare's limits on a worker's compressed size.
pub const FREE_LIMIT: u64 = 3 * 1024 * 1024;
pub const PAID_LIMIT: u64 = 10 * 1024 * 1024;
/// Warn once the gzipped worker reaches this share of a limit.
const NEAR_LIMIT: f64 = 0.8;

/// Fills in the summary's files, sizes and size warning.
pub(crate) fn finish_summary(
    project: &Project,
    summary: &mut Summary,
    wasm: &WasmStamp,
) -> Result<()> {
    let worker = project.worker_dir();
    let archive_path = project.archive_path();
    let archive_len = archive_path
        .metadata()
        .with_context(|| format!("could not read {}", archive_path.display()))?
        .len();
    // The worker bundles atomvm.wasm, boot.bin (which holds the archive) and
    // the JS; app.avm stays beside them for `inspect` and the tests.
    let mut files = vec![
        WorkerFile {
            path: project.relative(&project.boot_image_path()),
            bytes: wasm.image.size,
            gzip_bytes: wasm.image_gzip_bytes,
        },
        WorkerFile {
            path: project.relative(&worker.join("atomvm.wasm")),
            bytes: wasm.copy.size,
            gzip_bytes: wasm.gzip_bytes,
        },
    ];
    for (name, bytes) in framework::worker_files() {
        files.push(WorkerFile {
            path: project.relative(&worker.join("src").join(name)),
            bytes: bytes.len() as u64,
            gzip_bytes: gzip_len(bytes),
        });
    }
    summary.app_avm_bytes = archive_len;
    summary.atomvm_wasm_bytes = wasm.copy.size;
    summary.opcodes = wasm.opcodes;
    summary.natives = wasm.natives;
    summary.gzip_total_bytes = files.iter().map(|f| f.gzip_bytes).sum();
    summary.files = files;
    summary
        .warnings
        .retain(|w| !w.starts_with("the gzipped worker"));
    if let Some(w) = size_warning(summary.gzip_total_bytes) {
        summary.warnings.push(w);
    }
    Ok(())
}

/// A warning when the gzipped worker nears or passes a Workers size limit.
pub fn size_warning(gzip: u64) -> Option<String> {
    let mb = |b: u64| b as f64 / (1024.0 * 1024.0);
    let near = |limit: u64| gzip as f64 >= limit as f64 * NEAR_LIMIT;
    if gzip > PAID_LIMIT {
        Some(format!("the gzipped worker is {:.2} MB, over the Workers paid-plan limit of 10 MB: it cannot be deployed", mb(gzip)))
    } else if near(PAID_LIMIT) {
        Some(format!(
            "the gzipped worker is {:.2} MB, close to the Workers paid-plan limit of 10 MB",
            mb(gzip)
        ))
    } else if gzip > FREE_LIMIT {
        Some(format!("the gzipped worker is {:.2} MB, over the Workers free-plan limit of 3 MB (the paid plan allows 10 MB)", mb(gzip)))
    } else if near(FREE_LIMIT) {
        Some(format!(
            "the gzipped worker is {:.2} MB, close to the Workers free-plan limit of 3 MB",
            mb(gzip)
        ))
    } else {
        None
    }
}

pub(crate) fn gzip_len(bytes: &[u8]) -> u64 {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).expect("writing to a Vec cannot fail");
    enc.finish().expect("writing to a Vec cannot fail").len() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_warnings() {
        assert_eq!(size_warning(1024 * 1024), None);
        assert!(size_warning(FREE_LIMIT * 9 / 10)
            .unwrap()
            .contains("close to the Workers free-plan limit"));
        assert!(size_warning(FREE_LIMIT + 1)
            .unwrap()
            .contains("over the Workers free-plan limit"));
        assert!(size_warning(PAID_LIMIT * 9 / 10)
            .unwrap()
            .contains("close to the Workers paid-plan limit"));
        assert!(size_warning(PAID_LIMIT + 1)
            .unwrap()
            .contains("cannot be deployed"));
    }
}
