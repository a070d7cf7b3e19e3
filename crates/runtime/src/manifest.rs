//! What a runtime says about itself in `runtime.json`: its id and source,
//! the tools and settings it was built with, the functions the VM answers
//! natively, and the size and sha256 of every artifact.

use crate::identity::ATOMVM_PIN;
use crate::locate::{sorted_files, NativeFunctions};
use crate::settings::{
    COMMON_CFLAGS, CORE_HEADER_PATCHES, CORE_SOURCE_EDITS, ESTDLIB_EXCLUDED, EXAVMLIB_EXCLUDED,
    LDFLAGS, MAX_CODE_BYTES, MAX_LABELS, MAX_MODULES, WASM_OPT_FLAGS,
};
use crate::source::AtomVmSource;
use crate::toolchain::Tools;
use anyhow::{bail, Context as _, Result};
use std::fs;
use std::path::Path;

/// Every function the VM answers itself, as `module:function/arity`: the
/// BIFs and NIFs of AtomVM's tables (`bifs.gperf`, `nifs.gperf`) and our
/// platform's NIFs (`platform_nifs.c`). A build checks calls against these
/// and the packed modules' exports.
pub fn native_functions(atomvm: &AtomVmSource, adapter_dir: &Path) -> Result<NativeFunctions> {
    let from_gperf = |file: &str| -> Result<Vec<String>> {
        let path = atomvm.lib().join(file);
        let text =
            fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        // Keywords are the lines between the two `%%` that start with
        // `module:function/arity,`.
        let body = text.split("\n%%\n").nth(1).unwrap_or_default();
        Ok(body
            .lines()
            .filter_map(|l| l.split_once(',').map(|(k, _)| k.trim()))
            .filter(|k| is_mfa(k))
            .map(str::to_string)
            .collect())
    };
    let bifs = from_gperf("bifs.gperf")?;
    let mut nifs = from_gperf("nifs.gperf")?;
    let platform = adapter_dir.join("platform_nifs.c");
    let text =
        fs::read_to_string(&platform).with_context(|| format!("reading {}", platform.display()))?;
    nifs.extend(
        text.lines()
            .filter_map(|l| l.trim().strip_prefix("{ \""))
            .filter_map(|l| l.split_once('"').map(|(k, _)| k))
            .filter(|k| is_mfa(k))
            .map(str::to_string),
    );
    if bifs.len() < 20 || nifs.len() < 100 {
        bail!(
            "found only {} BIFs and {} NIFs in AtomVM's tables: has their format changed?",
            bifs.len(),
            nifs.len()
        );
    }
    nifs.sort();
    nifs.dedup();
    Ok(NativeFunctions { bifs, nifs })
}

fn is_mfa(k: &str) -> bool {
    k.split_once(':').is_some_and(|(m, fa)| {
        !m.is_empty()
            && fa
                .rsplit_once('/')
                .is_some_and(|(f, a)| !f.is_empty() && a.parse::<u8>().is_ok())
    })
}

/// `runtime.json`: the id, the source, the tools, the settings and the size
/// and sha256 of every artifact in `dir`.
pub(crate) fn manifest(
    id: &str,
    dir: &Path,
    tools: &Tools,
    atomvm: &AtomVmSource,
    functions: &NativeFunctions,
) -> Result<serde_json::Value> {
    let mut artifacts = Vec::new();
    let wasm = fs::read(dir.join("atomvm.wasm"))?;
    artifacts.push(artifact("atomvm.wasm", &wasm));
    for beam in sorted_files(&dir.join("stdlib"), "beam")? {
        let bytes = fs::read(&beam).with_context(|| format!("reading {}", beam.display()))?;
        let name = beam
            .file_name()
            .expect("listed files have names")
            .to_string_lossy();
        artifacts.push(artifact(&format!("stdlib/{name}"), &bytes));
    }
    Ok(serde_json::json!({
        "id": id,
        "modified": !atomvm.is_pinned(),
        "atomvm": {
            "commit": atomvm.commit,
            "pinned_commit": ATOMVM_PIN,
            "tree_digest": atomvm.tree_digest,
            "version": atomvm.version,
        },
        "tools": tools.versions(),
        "build": {
            "cflags": COMMON_CFLAGS,
            "ldflags": LDFLAGS,
            "wasm_opt": tools.wasm_opt.as_ref().map(|_| WASM_OPT_FLAGS.join(" ")),
            "exavmlib_excluded": EXAVMLIB_EXCLUDED,
            "estdlib_excluded": ESTDLIB_EXCLUDED,
            "core_header_patches": CORE_HEADER_PATCHES,
            "core_source_edits": CORE_SOURCE_EDITS,
            "max_modules": MAX_MODULES,
            "max_code_bytes": MAX_CODE_BYTES,
            "max_labels": MAX_LABELS,
        },
        "functions": functions,
        "artifacts": artifacts,
    }))
}

fn artifact(path: &str, bytes: &[u8]) -> serde_json::Value {
    serde_json::json!({
        "path": path,
        "size": bytes.len(),
        "sha256": crate::digest::sha256_hex(bytes),
    })
}
