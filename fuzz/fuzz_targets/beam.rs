//! The BEAM parser and everything `pack` does with a module: chunk walk,
//! tables, stripping with bounded inflate, literal atoms, and packing.
//! Any input must give Ok or an Error, never a panic, hang or huge allocation.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// Small enough that a bomb costs nothing, large enough for real tables.
const CAP: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    if let Ok(beam) = avm::Beam::parse(data) {
        let _ = beam.exports();
        let _ = beam.imports();
        let _ = beam.literal_atoms_with_cap(CAP);
        if let Ok(stripped) = beam.strip(CAP) {
            // What we write must read back as a BEAM with the same module.
            let out = stripped.to_vec();
            assert_eq!(out.len(), stripped.len());
            let again = avm::Beam::parse(&out).expect("stripped output parses");
            assert_eq!(again.module_name(), beam.module_name());
        }
        let _ = avm::ModuleRefs::from_beam(&beam, CAP);
    }
    let input = avm::PackInput {
        path: "fuzz.beam".into(),
        bytes: data.to_vec(),
        start: true,
    };
    let opts = avm::PackOptions {
        inflate_cap: CAP,
        threads: 1,
    };
    // One module's section as the CLI makes it: the same bytes as `pack`, or
    // the same error.
    let path = std::path::Path::new("fuzz.beam");
    let planned = avm::SectionPlan::new(path, data, true, CAP).and_then(|plan| {
        let mut section = vec![0; plan.len()];
        plan.write_into(path, &mut section)?;
        Ok((plan.module().to_owned(), section))
    });
    match (avm::pack(&[input], &opts), planned) {
        (Ok(packed), Ok((module, section))) => {
            let archive = avm::Archive::parse(&packed.bytes).expect("packed output reads back");
            assert_eq!(archive.sections.len(), 1);
            let mut streamed = avm::archive::HEADER.to_vec();
            streamed.extend_from_slice(&section);
            streamed.extend_from_slice(avm::archive::END);
            assert_eq!(streamed, packed.bytes);
            let mut check = avm::SectionCheck::default();
            check
                .add_section(&module, path, section.len())
                .expect("pack accepted it");
            assert_eq!(check.len(), packed.bytes.len());
        }
        (Err(packed), Err(planned)) => assert_eq!(packed, planned),
        (packed, planned) => panic!(
            "pack and SectionPlan disagree: {:?} against {:?}",
            packed.map(|_| ()),
            planned.map(|_| ())
        ),
    }
});
