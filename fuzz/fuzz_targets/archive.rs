//! The archive reader: header, sections, end marker, BEAM forms inside.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(archive) = avm::Archive::parse(data) {
        for s in &archive.sections {
            let c = s.contents();
            assert!(c.len() <= s.payload.len());
            assert!(s.offset as usize + s.size as usize <= data.len());
            for chunk in &s.chunks {
                assert!(chunk.offset as usize + 8 + chunk.size as usize <= data.len());
            }
        }
    }
});
