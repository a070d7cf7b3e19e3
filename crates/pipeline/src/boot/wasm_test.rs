//! What the tests of the module rewrites ([`super::serve`],
//! [`super::prune`]) share: running a module in wasmi, and its sections.

use wasmi::{Engine, Instance, Linker, Module, Store};
use wasmparser::Parser;

/// `wasm` instantiated (and validated) with no imports.
pub fn instance(wasm: &[u8]) -> Result<(Store<()>, Instance), wasmi::Error> {
    let engine = Engine::default();
    let module = Module::new(&engine, wasm)?;
    let mut store = Store::new(&engine, ());
    let instance = Linker::new(&engine).instantiate_and_start(&mut store, &module)?;
    Ok((store, instance))
}

/// Every section of `wasm` but the code section, as (id, bytes): what a
/// rewrite of function bodies leaves as it was.
pub fn sections_but_code(wasm: &[u8]) -> Vec<(u8, Vec<u8>)> {
    Parser::new(0)
        .parse_all(wasm)
        .filter_map(|p| {
            let (id, r) = p.unwrap().as_section()?;
            Some((id, wasm[r.start as usize..r.end as usize].to_vec()))
        })
        .filter(|(id, _)| *id != 10)
        .collect()
}
