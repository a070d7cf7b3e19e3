//! What runtime this binary needs: the AtomVM commit, the digest of that
//! commit's file tree, the adapter sources embedded here, and the build
//! settings, folded into one id.

use crate::settings;
use sha2::{Digest as _, Sha256};

/// The AtomVM commit the adapter is written against.
pub const ATOMVM_PIN: &str = "aa7ac0f8c590e7f45c897620313ffee2a30cbc0c";

/// The digest of AtomVM's file tree at [`ATOMVM_PIN`] as
/// [`source::TreeDigest`](crate::source::TreeDigest) computes it. An archive
/// of the commit (GitHub's tarball or `git archive`) verifies against it
/// whatever its compression or timestamps.
pub const ATOMVM_TREE_DIGEST: &str =
    "3330e0877b8de2a9c8477eae863970bf8556f1e549c828f16af41c60a24746fd";

/// Where a machine with network access gets AtomVM's source at the pin.
pub fn atomvm_archive_url() -> String {
    format!("https://github.com/atomvm/AtomVM/archive/{ATOMVM_PIN}.tar.gz")
}

/// Overrides [`atomvm_archive_url`] (a mirror, or a test's local server).
pub const ATOMVM_URL_ENV: &str = "ELIXIR_WORKERS_ATOMVM_URL";

/// Bumped when what a build makes from the same inputs changes (2: the
/// stdlib is compiled deterministically and stripped; 3: `runtime.json`
/// lists the BIFs and NIFs; 4: source paths are mapped out of the module;
/// 5: and out of the stdlib's line tables), so the id changes with it.
const LAYOUT_VERSION: u32 = 5;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/adapter.rs"));
}

/// The adapter's C sources and headers (`atomvm-wasi/src/`), by file name.
pub fn adapter_sources() -> &'static [(&'static str, &'static [u8])] {
    embedded::ADAPTER
}

/// The Erlang modules the runtime's stdlib adds to AtomVM's
/// (`atomvm-wasi/lib/*.erl`), by file name.
pub fn stdlib_sources() -> &'static [(&'static str, &'static [u8])] {
    embedded::STDLIB
}

/// The id of the runtime this binary needs, `atomvm-<commit8>-<digest16>`.
pub fn runtime_id() -> String {
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    field(&LAYOUT_VERSION.to_le_bytes());
    field(ATOMVM_PIN.as_bytes());
    field(ATOMVM_TREE_DIGEST.as_bytes());
    for (name, bytes) in adapter_sources().iter().chain(stdlib_sources()) {
        field(name.as_bytes());
        field(bytes);
    }
    for list in [
        settings::CORE_SOURCES,
        settings::ADAPTER_SOURCES,
        settings::COMMON_CFLAGS,
        settings::LDFLAGS,
        settings::WASM_OPT_FLAGS,
        settings::EXAVMLIB_EXCLUDED,
        settings::ESTDLIB_EXCLUDED,
        settings::NIFS_REPLACED,
    ] {
        field(&(list.len() as u64).to_le_bytes());
        for item in list {
            field(item.as_bytes());
        }
    }
    // How the stdlib's beams are stripped decides what they hold.
    field(settings::STRIP_SCRIPT.as_bytes());
    for (file, define) in settings::CORE_FILE_DEFINES {
        field(file.as_bytes());
        field(define.as_bytes());
    }
    for (file, header, anchor, ours) in settings::CORE_HEADER_PATCHES {
        for part in [file, header, anchor, ours] {
            field(part.as_bytes());
        }
    }
    for (file, from, to, times) in settings::CORE_SOURCE_EDITS {
        for part in [file, from, to] {
            field(part.as_bytes());
        }
        field(&(*times as u64).to_le_bytes());
    }
    let digest = crate::digest::hex(&h.finalize());
    format!("atomvm-{}-{}", &ATOMVM_PIN[..8], &digest[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_names_the_commit_and_is_stable() {
        let id = runtime_id();
        assert!(id.starts_with("atomvm-aa7ac0f8-"), "{id}");
        assert_eq!(id.len(), "atomvm-aa7ac0f8-".len() + 16);
        assert_eq!(id, runtime_id());
    }

    #[test]
    fn every_adapter_source_the_build_compiles_is_embedded() {
        for name in settings::ADAPTER_SOURCES {
            let file = format!("{name}.c");
            assert!(
                adapter_sources().iter().any(|(n, _)| *n == file),
                "{file} is not embedded"
            );
        }
        assert!(adapter_sources()
            .iter()
            .any(|(n, _)| *n == "core_prelude.h"));
    }
}
