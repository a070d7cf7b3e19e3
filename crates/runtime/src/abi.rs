//! The runtime's ABI as `atomvm.wasm` must show it: what it may import and
//! what it must export. A build fails on a module that breaks it, and so
//! does installing one.

use anyhow::{bail, Context as _, Result};

/// The memory the worker boots the VM in (`BOOT_MEMORY_PAGES` in the
/// worker's runtime.js): the module's minimum must fit.
pub const BOOT_MEMORY_PAGES: u64 = 160;

/// What the worker calls: the reactor's constructor, boot (snapshotted
/// once), run (once per request), the heap mark and the memory; the two
/// functions `build` needs to take the loader out of the worker's copy
/// (pipeline/src/boot.rs); and the stack pointer, which the worker puts
/// back before each run of its one instance.
const REQUIRED_EXPORTS: &[&str] = &[
    "_initialize",
    "ew_boot",
    "ew_run",
    "ew_heap_high_water",
    "ew_set_budget",
    "memory",
    "module_new_from_iff_binary",
    "ew_loader_absent",
    "__stack_pointer",
];

/// The runtime ABI allows imports from WASI preview1, the function
/// `elixir_workers.respond` and the memory `elixir_workers.memory`; anything
/// else (an `env.*` import left by an undefined symbol) would fail in every
/// host but one that happens to stub it. It also needs the reactor's exports.
pub fn check_module(wasm: &[u8]) -> Result<()> {
    let mut bad = Vec::new();
    let mut exports = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        match payload.context("parsing the module")? {
            wasmparser::Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.context("parsing an import")?;
                    let is_memory = matches!(import.ty, wasmparser::TypeRef::Memory(_));
                    if let wasmparser::TypeRef::Memory(m) = import.ty {
                        if m.initial > BOOT_MEMORY_PAGES {
                            bail!(
                                "atomvm.wasm needs {} pages of memory at instantiation; the worker \
                                 boots it in {BOOT_MEMORY_PAGES} (BOOT_MEMORY_PAGES in runtime.js)",
                                m.initial
                            );
                        }
                    }
                    let allowed = (import.module == "wasi_snapshot_preview1" && !is_memory)
                        || (import.module == "elixir_workers"
                            && ((import.name == "respond" && !is_memory)
                                || (import.name == "memory" && is_memory)));
                    if !allowed {
                        bad.push(format!("{}.{}", import.module, import.name));
                    }
                }
            }
            wasmparser::Payload::ExportSection(reader) => {
                for export in reader {
                    exports.push(export.context("parsing an export")?.name.to_string());
                }
            }
            _ => {}
        }
    }
    if !bad.is_empty() {
        bail!(
            "atomvm.wasm imports {}; only wasi_snapshot_preview1.*, elixir_workers.respond and \
             elixir_workers.memory are allowed",
            bad.join(", ")
        );
    }
    check_exports(&exports)
}

fn check_exports(exports: &[String]) -> Result<()> {
    let missing: Vec<&str> = REQUIRED_EXPORTS
        .iter()
        .copied()
        .filter(|e| !exports.iter().any(|x| x == e))
        .collect();
    if !missing.is_empty() {
        bail!("atomvm.wasm does not export {}", missing.join(", "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal module importing `module.name` as a function of type () -> ().
    fn module_importing(module: &str, name: &str) -> Vec<u8> {
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        wasm.extend([1, 4, 1, 0x60, 0, 0]); // type section: one func type () -> ()
        let mut body = vec![1]; // one import
        body.push(module.len() as u8);
        body.extend(module.as_bytes());
        body.push(name.len() as u8);
        body.extend(name.as_bytes());
        body.extend([0, 0]); // kind func, type index 0
        wasm.push(2);
        wasm.push(body.len() as u8);
        wasm.extend(body);
        wasm
    }

    #[test]
    fn wasi_and_respond_imports_are_allowed() {
        for (module, name) in [
            ("wasi_snapshot_preview1", "fd_write"),
            ("elixir_workers", "respond"),
        ] {
            let err = check_module(&module_importing(module, name)).unwrap_err();
            // Allowed: the only complaint is the missing reactor exports.
            assert!(
                format!("{err:#}").starts_with("atomvm.wasm does not export _initialize"),
                "{err:#}"
            );
        }
    }

    #[test]
    fn reactor_exports_are_required() {
        let all: Vec<String> = REQUIRED_EXPORTS.iter().map(|s| s.to_string()).collect();
        check_exports(&all).unwrap();
        let err = check_exports(&all[1..]).unwrap_err();
        assert_eq!(format!("{err}"), "atomvm.wasm does not export _initialize");
    }

    #[test]
    fn env_imports_are_rejected() {
        let err = check_module(&module_importing("env", "tzset")).unwrap_err();
        assert!(format!("{err:#}").contains("env.tzset"), "{err:#}");
        let err = check_module(&module_importing("elixir_workers", "other")).unwrap_err();
        assert!(
            format!("{err:#}").contains("elixir_workers.other"),
            "{err:#}"
        );
    }
}
