//! The module the worker serves: the runtime's `atomvm.wasm` with the body
//! of its module loader replaced by a call to `ew_loader_absent`.
//!
//! A worker starts from the boot image, in which every module of the archive
//! is already loaded, so it never runs AtomVM's loader
//! (`module_new_from_iff_binary`, which scans each module's code with the
//! interpreter's whole opcode table): 131,811 of the module's 440,844 bytes
//! of code, 23 KB of its 151 KB gzipped. The boot runs the runtime's module
//! as it is; only the worker's copy loses the loader. Nothing else moves:
//! the data segments, globals and function table are the same bytes, so the
//! image is the memory this module would have made, and function pointers
//! in it (table slots) point where they did.
//!
//! What would load a module after boot (`:code.load_binary/3`) gets the
//! NULL of a module that does not load, and `ew_loader_absent` says why on
//! stderr (crates/runtime/atomvm-wasi/src/main.c).

use anyhow::{bail, Context, Result};
use wasm_encoder::{CodeSection, Function, Instruction, RawSection, Section};
use wasmparser::{ExternalKind, Parser, Payload, TypeRef};

/// The loader, exported for this by the runtime's link.
pub const LOADER: &str = "module_new_from_iff_binary";
/// What the worker's loader calls instead (the adapter's main.c).
pub const ABSENT: &str = "ew_loader_absent";

/// `wasm` with [`LOADER`]'s body replaced by a call to [`ABSENT`] with the
/// same arguments. Fails when either export is missing or their types
/// differ.
pub fn without_loader(wasm: &[u8]) -> Result<Vec<u8>> {
    let mut imported_funcs = 0u32;
    let mut func_types: Vec<u32> = Vec::new();
    let mut types: Vec<wasmparser::FuncType> = Vec::new();
    let mut exports: Vec<(String, u32)> = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.context("atomvm.wasm: cannot parse the module")? {
            Payload::TypeSection(reader) => {
                for ty in reader.into_iter_err_on_gc_types() {
                    types.push(ty.context("atomvm.wasm: a function type")?);
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    if matches!(
                        import.context("atomvm.wasm: an import")?.ty,
                        TypeRef::Func(_)
                    ) {
                        imported_funcs += 1;
                    }
                }
            }
            Payload::FunctionSection(reader) => {
                for ty in reader {
                    func_types.push(ty.context("atomvm.wasm: the function section")?);
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.context("atomvm.wasm: an export")?;
                    if export.kind == ExternalKind::Func {
                        exports.push((export.name.to_string(), export.index));
                    }
                }
            }
            _ => {}
        }
    }
    let defined = |name: &str| -> Result<(u32, &wasmparser::FuncType)> {
        let index = exports
            .iter()
            .find(|(n, _)| n == name)
            .map(|&(_, i)| i)
            .with_context(|| format!("atomvm.wasm does not export the function {name}"))?;
        let local = index.checked_sub(imported_funcs).with_context(|| {
            format!("atomvm.wasm's {name} is an import, not a function of the module")
        })?;
        let ty = func_types
            .get(local as usize)
            .and_then(|&t| types.get(t as usize))
            .with_context(|| format!("atomvm.wasm's {name} has no type"))?;
        Ok((local, ty))
    };
    let (loader, loader_ty) = defined(LOADER)?;
    let (absent, absent_ty) = defined(ABSENT)?;
    if loader_ty != absent_ty {
        bail!(
            "atomvm.wasm's {ABSENT} ({absent_ty}) does not have the type of {LOADER} ({loader_ty})"
        );
    }
    let params = loader_ty.params().len() as u32;

    let mut code = CodeSection::new();
    let mut body_index = 0u32;
    for payload in Parser::new(0).parse_all(wasm) {
        if let Payload::CodeSectionEntry(body) =
            payload.context("atomvm.wasm: cannot parse the module")?
        {
            if body_index == loader {
                let mut stub = Function::new([]);
                for i in 0..params {
                    stub.instruction(&Instruction::LocalGet(i));
                }
                stub.instruction(&Instruction::Call(imported_funcs + absent));
                stub.instruction(&Instruction::End);
                code.function(&stub);
            } else {
                let r = body.range();
                code.raw(&wasm[r.start as usize..r.end as usize]);
            }
            body_index += 1;
        }
    }
    if body_index != func_types.len() as u32 {
        bail!("atomvm.wasm: its code section does not hold every function");
    }
    with_code(wasm, code)
}

/// `wasm` with `code` in place of its code section; every other section is
/// the same bytes, in the same place.
pub(super) fn with_code(wasm: &[u8], code: CodeSection) -> Result<Vec<u8>> {
    let mut out = wasm[..8].to_vec();
    let mut code = Some(code);
    for payload in Parser::new(0).parse_all(wasm) {
        match &payload.context("atomvm.wasm: cannot parse the module")? {
            Payload::CodeSectionStart { .. } => code
                .take()
                .context("atomvm.wasm has two code sections")?
                .append_to(&mut out),
            Payload::CodeSectionEntry(_) | Payload::Version { .. } | Payload::End(_) => {}
            other => match other.as_section() {
                Some((id, range)) => RawSection {
                    id,
                    data: &wasm[range.start as usize..range.end as usize],
                }
                .append_to(&mut out),
                None => bail!("atomvm.wasm: an unexpected part of the module ({other:?})"),
            },
        }
    }
    if code.is_some() {
        bail!("atomvm.wasm has no code section");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boot::wasm_test::{instance, sections_but_code};

    /// A module with a loader that answers 42 and an `ew_loader_absent` that
    /// answers the sum of its arguments, plus what lies between them.
    fn module(absent_ty: &str) -> Vec<u8> {
        wat::parse_str(format!(
            r#"(module
                 (memory (export "memory") 1)
                 (data (i32.const 16) "kept as it is")
                 (func (export "module_new_from_iff_binary") (param i32 i32 i32) (result i32)
                   i32.const 42)
                 (func (export "other") (result i32) i32.const 5)
                 (func (export "ew_loader_absent") {absent_ty}
                   local.get 0 local.get 1 i32.add local.get 2 i32.add))"#
        ))
        .unwrap()
    }

    fn call(wasm: &[u8], name: &str, args: (i32, i32, i32)) -> i32 {
        let (mut store, instance) = instance(wasm).unwrap();
        let f = instance.get_func(&store, name).unwrap();
        match f.typed::<(i32, i32, i32), i32>(&store) {
            Ok(f) => f.call(&mut store, args).unwrap(),
            Err(_) => f
                .typed::<(), i32>(&store)
                .unwrap()
                .call(&mut store, ())
                .unwrap(),
        }
    }

    #[test]
    fn the_loader_calls_the_absent_function_and_nothing_else_changes() {
        let wasm = module("(param i32 i32 i32) (result i32)");
        assert_eq!(call(&wasm, LOADER, (1, 2, 3)), 42);
        let served = without_loader(&wasm).unwrap();
        assert_eq!(call(&served, LOADER, (1, 2, 3)), 6);
        assert_eq!(call(&served, "other", (0, 0, 0)), 5);
        // Every section but the code section is the same bytes.
        assert_eq!(sections_but_code(&served), sections_but_code(&wasm));
        assert!(served.len() < wasm.len() + 8);
    }

    #[test]
    fn a_module_without_the_exports_or_with_other_types_is_refused() {
        let err = without_loader(&wat::parse_str("(module)").unwrap()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "atomvm.wasm does not export the function module_new_from_iff_binary"
        );
        let err = without_loader(&module(
            "(param i32 i32 i32) (result i64) i64.const 0 return",
        ))
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("atomvm.wasm's ew_loader_absent ("),
            "{err}"
        );
    }
}
