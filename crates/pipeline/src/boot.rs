//! The boot image: the VM booted on the app at build time, so that a new
//! isolate starts from memory instead of loading every module.
//!
//! `atomvm.wasm` is a WASI reactor: `_initialize` then `ew_boot` read
//! `/app/app.avm` and load every module in it, after which the VM holds no
//! process and no C frame, so its whole state is its linear memory
//! (worker/src/runtime.js). [`boot`] runs those two calls here, in wasmi (an
//! interpreter that compiles in seconds and keeps wasmtime out of the CLI's
//! tree), against a WASI host that answers exactly as the worker's
//! (worker/src/wasi.js) does, and keeps the memory it leaves. The worker then
//! copies the image into a fresh memory instead of booting.
//!
//! The image is a separate file rather than a per-app `atomvm.wasm` whose
//! data segments hold the booted memory (Wizer's way): that would cost no
//! more per request (instantiating with 640 KB more of data segments measured
//! the same), but the separate image leaves the module's memory layout the
//! runtime's own (ARCHITECTURE.md has the figures). The worker's copy of the
//! module differs from the runtime's only in function bodies, each one a
//! worker started from this image never runs: the loader ([`serve`]), the
//! interpreter's cases for opcodes the archive does not hold and what only
//! they or the boot call ([`prune`]); and in one custom section.
//!
//! The image and the module are paired by a build id: the first 16 bytes of
//! SHA-256 over the runtime's `atomvm.wasm` and `app.avm`, stored in the
//! image's header and appended to the worker's copy of `atomvm.wasm` as the
//! custom section [`ID_SECTION`]. The worker refuses an image whose id is
//! not the module's (`WebAssembly.Module.customSections` reads it without
//! the module's bytes).
//!
//! The layout (little-endian):
//!
//! ```text
//! magic    8 B   "EWBOOT01"
//! id      16 B   the build id
//! pages    u32   the memory's size in 64 KiB pages
//! dirty    u32   where the booted heap's high-water mark (plus a margin) ends
//! count    u32   number of ranges
//! count × (at u32, len u32, len bytes)   the ranges the boot changed
//! ```
//!
//! The ranges are what the boot changed in the memory that instantiating the
//! module leaves (zeros and the module's data segments); the worker
//! instantiates before it applies them, so the static data is not stored
//! twice. The boot may not read the clock or
//! random bytes: the memory would then depend on when and where the build
//! ran, and could not be the memory the worker would have made (a test boots
//! in Node and compares every byte).

use anyhow::{anyhow, bail, Context, Result};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use wasmi::{Caller, Engine, Extern, Linker, Memory, MemoryType, Module, Store};

pub mod natives;
pub mod prune;
pub mod serve;
mod wasi;
#[cfg(test)]
mod wasm_test;
use wasi::Host;

/// The image file's first bytes.
pub const MAGIC: &[u8; 8] = b"EWBOOT01";
/// The custom section of the worker's `atomvm.wasm` that holds the build id.
pub const ID_SECTION: &str = "elixir_workers.boot_id";
/// The memory the VM boots in, in 64 KiB pages (`BOOT_MEMORY_PAGES` in
/// worker/src/runtime.js).
pub const BOOT_MEMORY_PAGES: u32 = 160;
/// Bytes above the heap's high-water mark that the allocator may still have
/// written (`HIGH_WATER_MARGIN` in worker/src/runtime.js).
const HIGH_WATER_MARGIN: u32 = 4096;
/// Zero runs shorter than this stay inside a range: a range header costs 8 B.
const MIN_GAP: usize = 32;
/// The runtime ABI's argv and preopened directory (runtime.js's `ARGV`).
const ARGV: [&str; 2] = ["atomvm", "/app/app.avm"];
const APP_DIR: &str = "/app";
const APP_FILE: &str = "app.avm";

/// The booted memory of one app on one runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootImage {
    pub id: [u8; 16],
    pub pages: u32,
    pub dirty: u32,
    /// Where the booted memory differs from the memory as instantiation
    /// leaves it (zero but for the module's data segments), ascending and
    /// disjoint: (offset, bytes).
    pub ranges: Vec<(u32, Vec<u8>)>,
}

/// The build id pairing an image with `atomvm.wasm` (the runtime's bytes,
/// before the id section is appended) and `app.avm`.
pub fn build_id(wasm: &[u8], avm: &[u8]) -> [u8; 16] {
    let mut h = Sha256::new();
    h.update(MAGIC);
    h.update((wasm.len() as u64).to_le_bytes());
    h.update(wasm);
    h.update(avm);
    let digest = h.finalize();
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest[..16]);
    id
}

/// `wasm` with the custom section [`ID_SECTION`] holding `id` appended.
pub fn with_id_section(wasm: &[u8], id: &[u8; 16]) -> Vec<u8> {
    let mut out = wasm.to_vec();
    wasm_encoder::Section::append_to(
        &wasm_encoder::CustomSection {
            name: ID_SECTION.into(),
            data: id.as_slice().into(),
        },
        &mut out,
    );
    out
}

/// The worker's `atomvm.wasm` for the archive `avm` booted on the runtime's
/// `wasm` into `image`: without its loader ([`serve`]), its interpreter cut
/// to the opcodes of the archive's modules and without what the worker never
/// calls ([`prune`]), with the image's build id appended. The result is
/// validated (wasmi's validator) before it is returned.
pub fn worker_module(wasm: &[u8], avm: &[u8], image: &BootImage) -> Result<Served> {
    let used = archive_use(avm)?;
    let natives = natives::named_slots(wasm)?;
    let unused = natives.unused_slots(&used.imports, &used.atoms);
    let mut wasm = wasm.to_vec();
    natives.forget_unused(&mut wasm, &unused, |at| image.covers(at));
    let pruned = prune::prune(
        &serve::without_loader(&wasm)?,
        &used.opcodes,
        BOOT_ONLY,
        &unused,
    )?;
    Module::new(&Engine::default(), &pruned.wasm[..])
        .map_err(|e| anyhow!("the worker's cut of atomvm.wasm does not validate: {e}"))?;
    Ok(Served {
        wasm: with_id_section(&pruned.wasm, &image.id),
        opcodes: OpcodeCut {
            kept: pruned.kept,
            handled: pruned.handled,
        },
        natives: NativeCut {
            kept: natives
                .named
                .values()
                .filter(|s| !unused.contains(s))
                .count(),
            named: natives.named.len(),
        },
    })
}

/// The exports only a boot calls: a worker applies its image instead, so
/// its copy of the module keeps them as `unreachable`.
pub const BOOT_ONLY: &[&str] = &["_initialize", "ew_boot"];

/// The worker's module, and how far its interpreter was cut.
#[derive(Debug, Clone)]
pub struct Served {
    pub wasm: Vec<u8>,
    pub opcodes: OpcodeCut,
    pub natives: NativeCut,
}

/// How many BIFs and NIFs the runtime names ([`natives`]), and how many of
/// them the worker's copy can still call; a lookup of any other fails
/// (`undef`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NativeCut {
    pub kept: usize,
    pub named: usize,
}

/// How many opcodes the runtime's interpreter handles, and how many of them
/// the worker's copy still dispatches (those the app's modules use; the rest
/// abort as undecoded).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OpcodeCut {
    pub kept: usize,
    pub handled: usize,
}

/// What the archive's modules use of the runtime: every opcode of their
/// code, every import (`m:f/a`), and every atom they hold, in their atom
/// tables and in their literals.
#[derive(Debug, Clone, Default)]
pub struct ArchiveUse {
    pub opcodes: avm::code::Opcodes,
    pub imports: HashSet<String>,
    pub atoms: HashSet<String>,
}

/// Reads [`ArchiveUse`] from the archive `avm`, each module once.
pub fn archive_use(avm: &[u8]) -> Result<ArchiveUse> {
    let archive = avm::Archive::parse(avm).context("the archive does not parse")?;
    let mut used = ArchiveUse::default();
    for section in archive.sections.iter().filter(|s| s.is_beam()) {
        let read = |used: &mut ArchiveUse| -> avm::Result<()> {
            let beam = avm::Beam::parse(section.contents())?;
            used.opcodes.extend(&avm::code::opcodes(&beam)?);
            for (m, f, a) in beam.imports() {
                used.imports.insert(format!("{m}:{f}/{a}"));
            }
            used.atoms
                .extend(beam.atoms().iter().map(|a| a.to_string()));
            used.atoms
                .extend(beam.literal_atoms_with_cap(avm::DEFAULT_INFLATE_CAP)?);
            Ok(())
        };
        read(&mut used).with_context(|| format!("the archive's {}", section.name))?;
    }
    Ok(used)
}

impl BootImage {
    /// Whether one of the image's ranges writes the byte at `at`.
    pub fn covers(&self, at: u32) -> bool {
        let i = self.ranges.partition_point(|(start, _)| *start <= at);
        i > 0 && {
            let (start, bytes) = &self.ranges[i - 1];
            u64::from(at) < u64::from(*start) + bytes.len() as u64
        }
    }

    /// The image file's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let data: usize = self.ranges.iter().map(|(_, b)| 8 + b.len()).sum();
        let mut out = Vec::with_capacity(MAGIC.len() + 28 + data);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.id);
        for n in [self.pages, self.dirty, self.ranges.len() as u32] {
            out.extend_from_slice(&n.to_le_bytes());
        }
        for (at, bytes) in &self.ranges {
            out.extend_from_slice(&at.to_le_bytes());
            out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            out.extend_from_slice(bytes);
        }
        out
    }

    /// Reads an image file's bytes back (the inverse of [`encode`](Self::encode)).
    pub fn decode(bytes: &[u8]) -> Result<BootImage> {
        let mut r = Reader { bytes, at: 0 };
        if r.take(MAGIC.len())? != MAGIC {
            bail!("not a boot image (its first bytes are not {MAGIC:?})");
        }
        let mut id = [0u8; 16];
        id.copy_from_slice(r.take(16)?);
        let (pages, dirty, count) = (r.u32()?, r.u32()?, r.u32()?);
        let size = u64::from(pages) * 65536;
        let mut ranges = Vec::with_capacity(count as usize);
        let mut end = 0u64;
        for _ in 0..count {
            let (at, len) = (r.u32()?, r.u32()?);
            if u64::from(at) < end || u64::from(at) + u64::from(len) > size {
                bail!("boot image range at {at} (+{len}) overlaps or leaves the memory");
            }
            end = u64::from(at) + u64::from(len);
            ranges.push((at, r.take(len as usize)?.to_vec()));
        }
        if r.at != bytes.len() {
            bail!(
                "boot image has {} bytes after its last range",
                bytes.len() - r.at
            );
        }
        Ok(BootImage {
            id,
            pages,
            dirty,
            ranges,
        })
    }

    /// The booted memory: `initial` (the memory as instantiating the module
    /// leaves it, data segments written) with the image's ranges applied.
    pub fn apply(&self, initial: &[u8]) -> Vec<u8> {
        let mut mem = initial.to_vec();
        mem.resize(self.pages as usize * 65536, 0);
        for (at, bytes) in &self.ranges {
            mem[*at as usize..*at as usize + bytes.len()].copy_from_slice(bytes);
        }
        mem
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| anyhow!("boot image ends early (at byte {})", self.at))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
}

/// The ranges where `mem` differs from `base` (same length), with runs of
/// equal bytes shorter than [`MIN_GAP`] kept inside a range.
fn changed_ranges(base: &[u8], mem: &[u8]) -> Vec<(u32, Vec<u8>)> {
    debug_assert_eq!(base.len(), mem.len());
    let mut ranges = Vec::new();
    let mut i = 0;
    while i < mem.len() {
        if mem[i] == base[i] {
            i += 1;
            continue;
        }
        let start = i;
        let mut end = i + 1;
        let mut same = 0;
        i += 1;
        while i < mem.len() && same < MIN_GAP {
            if mem[i] == base[i] {
                same += 1;
            } else {
                same = 0;
                end = i + 1;
            }
            i += 1;
        }
        ranges.push((start as u32, mem[start..end].to_vec()));
        i = end;
    }
    ranges
}

/// Boots `wasm` (the runtime's `atomvm.wasm`) on `avm` and returns the
/// booted memory. An error carries what the VM printed.
pub fn boot(wasm: &[u8], avm: &[u8]) -> Result<BootImage> {
    let engine = Engine::default();
    let module = Module::new(&engine, wasm).context("atomvm.wasm is not a valid module")?;
    let mut store = Store::new(&engine, Host::new(avm));
    let memory = Memory::new(&mut store, MemoryType::new(BOOT_MEMORY_PAGES, None))
        .context("cannot create the boot memory")?;
    store.data_mut().memory = Some(memory);

    let mut linker = Linker::<Host>::new(&engine);
    linker.define("elixir_workers", "memory", memory)?;
    linker.func_wrap(
        "elixir_workers",
        "respond",
        |_: Caller<'_, Host>, _: i32, _: i32| -> Result<(), wasmi::Error> {
            Err(wasmi::Error::new("the VM responded while booting"))
        },
    )?;
    wasi::define(&mut linker)?;
    wasi::define_nosys(&mut linker, &module)?;
    let instance = linker
        .instantiate_and_start(&mut store, &module)
        .context("cannot instantiate atomvm.wasm for the build-time boot (an import it needs?)")?;
    // The worker instantiates the module into the fresh memory before it
    // applies the image, so the data segments need not be in the image.
    let initial = memory.data(&store).to_vec();

    let call = |store: &mut Store<Host>, name: &str| -> Result<i32> {
        let outcome = match instance.get_export(&*store, name) {
            Some(Extern::Func(f)) => match f.typed::<(), ()>(&*store) {
                Ok(f) => f.call(&mut *store, ()).map(|()| 0),
                Err(_) => f
                    .typed::<(), i32>(&*store)
                    .with_context(|| format!("atomvm.wasm's {name} has an unexpected type"))?
                    .call(&mut *store, ()),
            },
            _ => bail!("atomvm.wasm exports no function {name}"),
        };
        match outcome {
            Ok(code) => Ok(code),
            Err(e) => match e.i32_exit_status() {
                Some(code) => Ok(code),
                None => Err(anyhow!("{e}")),
            },
        }
    };
    let failed = |store: &Store<Host>, what: String| {
        let out = store.data().output();
        if out.is_empty() {
            anyhow!("{what}")
        } else {
            anyhow!("{what}; the VM printed:\n{out}")
        }
    };
    for name in ["_initialize", "ew_boot"] {
        match call(&mut store, name) {
            Ok(0) => {}
            Ok(code) => {
                return Err(failed(
                    &store,
                    format!("the VM's {name} exited with {code}"),
                ))
            }
            Err(e) => return Err(failed(&store, format!("the VM trapped in {name}: {e}"))),
        }
    }
    let mark = call(&mut store, "ew_heap_high_water")? as u32;

    let mem = memory.data(&store);
    let size = mem.len() as u64;
    let dirty = (u64::from(mark) + u64::from(HIGH_WATER_MARGIN)).div_ceil(8) * 8;
    let id = build_id(wasm, avm);
    Ok(BootImage {
        id,
        pages: (size / 65536) as u32,
        dirty: dirty.min(size) as u32,
        ranges: changed_ranges(&initial, mem),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_every_changed_byte_and_round_trip() {
        let mut base = vec![0u8; 65536];
        base[500] = 4; // a data segment byte the boot leaves alone
        base[2000] = 6; // and one it clears
        let mut mem = base.clone();
        mem[2000] = 0;
        mem[3] = 1;
        mem[10] = 2; // a short gap: one range
        mem[1000] = 7; // a long gap: a second range
        mem[65535] = 9;
        let ranges = changed_ranges(&base, &mem);
        assert_eq!(
            ranges
                .iter()
                .map(|(a, b)| (*a, b.len()))
                .collect::<Vec<_>>(),
            [(3, 8), (1000, 1), (2000, 1), (65535, 1)]
        );
        let image = BootImage {
            id: [5; 16],
            pages: 1,
            dirty: 64,
            ranges,
        };
        let back = BootImage::decode(&image.encode()).unwrap();
        assert_eq!(back, image);
        assert_eq!(back.apply(&base), mem);
    }

    /// An image of one page with these ranges.
    fn one_page(dirty: u32, ranges: Vec<(u32, Vec<u8>)>) -> BootImage {
        BootImage {
            id: [1; 16],
            pages: 1,
            dirty,
            ranges,
        }
    }

    #[test]
    fn a_damaged_image_is_refused() {
        let image = one_page(0, vec![(8, vec![1, 2])]);
        let bytes = image.encode();
        assert!(BootImage::decode(&bytes[..bytes.len() - 1]).is_err());
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(BootImage::decode(&extra).is_err());
        let mut wrong = bytes.clone();
        wrong[0] = b'X';
        assert!(
            format!("{:#}", BootImage::decode(&wrong).unwrap_err()).contains("not a boot image")
        );
        let far = one_page(0, vec![(65535, vec![1, 2])]);
        assert!(BootImage::decode(&far.encode()).is_err());
    }

    #[test]
    fn an_image_covers_exactly_the_bytes_of_its_ranges() {
        let image = one_page(32, vec![(10, vec![1, 2, 3]), (20, vec![4])]);
        let covered: Vec<u32> = (0..32).filter(|&at| image.covers(at)).collect();
        assert_eq!(covered, [10, 11, 12, 20]);
    }

    #[test]
    fn the_id_section_is_a_custom_section_at_the_end() {
        let wasm = b"\0asm\x01\0\0\0".to_vec();
        let out = with_id_section(&wasm, &[0xab; 16]);
        assert_eq!(&out[..8], &wasm[..]);
        assert_eq!(out[8], 0, "custom section id");
        let name = ID_SECTION.as_bytes();
        assert_eq!(out[9] as usize, 1 + name.len() + 16);
        assert_eq!(out[10] as usize, name.len());
        assert_eq!(&out[11..11 + name.len()], name);
        assert_eq!(&out[11 + name.len()..], &[0xab; 16]);
    }
}
