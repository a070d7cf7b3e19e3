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
//! data segments hold the booted memory (Wizer's way): the worker
//! instantiates the module once per request, and every instantiation writes
//! its active data segments, so a per-app module would copy the whole image
//! on every request, where the separate image is applied once per isolate
//! (requests reset only what the last one dirtied). It also leaves
//! `atomvm.wasm` the runtime's own bytes plus one custom section.
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
use wasmi::{Caller, Engine, Extern, Linker, Memory, MemoryType, Module, Store};

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

/// What the worker bundles for this runtime module and archive: its
/// `atomvm.wasm` (the module with the build id appended) and `boot.bin`.
pub fn worker_files(wasm: &[u8], avm: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    let image = boot(wasm, avm)?;
    Ok((with_id_section(wasm, &image.id), image.encode()))
}

impl BootImage {
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

/// What the WASI host keeps: the memory, the open files and the output.
struct Host {
    memory: Option<Memory>,
    app: Vec<u8>,
    /// fd → read position of an opened `app.avm` (fd 3 is the `/app` preopen).
    files: std::collections::BTreeMap<u32, u64>,
    next_fd: u32,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl Host {
    fn new(avm: &[u8]) -> Host {
        Host {
            memory: None,
            app: avm.to_vec(),
            files: Default::default(),
            next_fd: 4,
            stdout: Vec::new(),
            stderr: Vec::new(),
        }
    }

    fn output(&self) -> String {
        let mut out = String::from_utf8_lossy(&self.stdout).into_owned();
        out.push_str(&String::from_utf8_lossy(&self.stderr));
        out.trim_end().to_string()
    }
}

/// The WASI calls, answered as worker/src/wasi.js answers them (the same
/// errnos, the same bytes written): a flat read-only `/app` holding
/// `app.avm`, empty stdin and environment, output kept for error messages.
/// Reading the clock or random bytes stops the boot (see the module docs).
mod wasi {
    use super::{Host, APP_DIR, APP_FILE, ARGV};
    use wasmi::{Caller, Error, Linker};

    const SUCCESS: i32 = 0;
    const BADF: i32 = 8;
    const FAULT: i32 = 21;
    const INVAL: i32 = 28;
    const ISDIR: i32 = 31;
    const NOENT: i32 = 44;
    const NOTCAPABLE: i32 = 76;
    const NOSYS: i32 = 52;
    const NOTDIR: i32 = 54;
    const PERM: i32 = 63;
    const ROFS: i32 = 69;
    const SPIPE: i32 = 70;

    const FILETYPE_CHARACTER_DEVICE: u8 = 2;
    const FILETYPE_DIRECTORY: u8 = 3;
    const FILETYPE_REGULAR_FILE: u8 = 4;
    const OFLAGS_CREAT: i32 = 1;
    const OFLAGS_DIRECTORY: i32 = 2;
    const OFLAGS_EXCL: i32 = 4;
    const OFLAGS_TRUNC: i32 = 8;
    const PREOPEN_FD: u32 = 3;
    /// wasi.js keeps offsets as JS numbers: at most 2^53 - 1.
    const MAX_OFFSET: i128 = (1 << 53) - 1;

    type Call<'a> = Caller<'a, Host>;

    fn mem<'a>(caller: &'a mut Call<'_>) -> &'a mut [u8] {
        let memory = caller
            .data()
            .memory
            .expect("memory set before instantiation");
        memory.data_mut(caller)
    }

    /// `len` bytes at `ptr` of guest memory, if they exist.
    fn slice<'a>(caller: &'a mut Call<'_>, ptr: i32, len: u64) -> Option<&'a mut [u8]> {
        let start = ptr as u32 as u64;
        let m = mem(caller);
        let end = start.checked_add(len).filter(|&e| e <= m.len() as u64)?;
        Some(&mut m[start as usize..end as usize])
    }

    fn put(caller: &mut Call<'_>, ptr: i32, bytes: &[u8]) -> bool {
        match slice(caller, ptr, bytes.len() as u64) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                true
            }
            None => false,
        }
    }

    fn get_u32(caller: &mut Call<'_>, ptr: i32) -> Option<u32> {
        slice(caller, ptr, 4).map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
    }

    /// (buf, len) pairs of an iovec array, or None if it or any buffer is
    /// out of range.
    fn iovecs(caller: &mut Call<'_>, iovs: i32, n: i32) -> Option<Vec<(i32, u32)>> {
        let n = n as u32 as u64;
        slice(caller, iovs, n * 8)?;
        let mut list = Vec::new();
        for i in 0..n {
            let at = (iovs as u32 as u64 + i * 8) as i32;
            let buf = get_u32(caller, at)?;
            let len = get_u32(caller, at + 4)?;
            slice(caller, buf as i32, u64::from(len))?;
            list.push((buf as i32, len));
        }
        Some(list)
    }

    /// Copies `app.avm` from `pos` into the iovecs; the count, or None on FAULT.
    fn read_into(caller: &mut Call<'_>, pos: u64, iovs: i32, n: i32) -> Option<usize> {
        let list = iovecs(caller, iovs, n)?;
        let app = std::mem::take(&mut caller.data_mut().app);
        let src = &app[(pos.min(app.len() as u64)) as usize..];
        let mut total = 0usize;
        for (buf, len) in list {
            if len == 0 {
                continue;
            }
            let take = (len as usize).min(src.len() - total);
            if take == 0 {
                break;
            }
            put(caller, buf, &src[total..total + take]);
            total += take;
            if take < len as usize {
                break;
            }
        }
        caller.data_mut().app = app;
        Some(total)
    }

    fn args() -> Vec<Vec<u8>> {
        ARGV.iter()
            .map(|a| {
                let mut v = a.as_bytes().to_vec();
                v.push(0);
                v
            })
            .collect()
    }

    fn sizes_get(caller: &mut Call<'_>, list: &[Vec<u8>], count: i32, size: i32) -> i32 {
        if slice(caller, count, 4).is_none() || slice(caller, size, 4).is_none() {
            return FAULT;
        }
        let total: usize = list.iter().map(Vec::len).sum();
        put(caller, count, &(list.len() as u32).to_le_bytes());
        put(caller, size, &(total as u32).to_le_bytes());
        SUCCESS
    }

    fn list_get(caller: &mut Call<'_>, list: &[Vec<u8>], ptrs: i32, buf: i32) -> i32 {
        let total: usize = list.iter().map(Vec::len).sum();
        if slice(caller, ptrs, list.len() as u64 * 4).is_none()
            || slice(caller, buf, total as u64).is_none()
        {
            return FAULT;
        }
        let (mut p, mut b) = (ptrs as u32, buf as u32);
        for item in list {
            put(caller, p as i32, &b.to_le_bytes());
            put(caller, b as i32, item);
            p += 4;
            b += item.len() as u32;
        }
        SUCCESS
    }

    fn filestat(caller: &mut Call<'_>, ptr: i32, filetype: u8, size: u64) {
        let mut st = [0u8; 64];
        st[16] = filetype;
        st[24..32].copy_from_slice(&1u64.to_le_bytes());
        st[32..40].copy_from_slice(&size.to_le_bytes());
        put(caller, ptr, &st);
    }

    /// What a path under the preopen names.
    enum Resolved {
        Dir,
        App,
    }

    fn resolve(caller: &mut Call<'_>, dir: i32, path: i32, len: i32) -> Result<Resolved, i32> {
        let dir = dir as u32;
        if dir != PREOPEN_FD {
            return Err(if caller.data().files.contains_key(&dir) {
                NOTDIR
            } else {
                BADF
            });
        }
        let Some(bytes) = slice(caller, path, len as u32 as u64) else {
            return Err(FAULT);
        };
        let text = String::from_utf8_lossy(bytes).into_owned();
        let parts: Vec<&str> = text
            .split('/')
            .filter(|p| !p.is_empty() && *p != ".")
            .collect();
        if parts.contains(&"..") {
            return Err(NOTCAPABLE);
        }
        match parts.join("/").as_str() {
            "" => Ok(Resolved::Dir),
            APP_FILE => Ok(Resolved::App),
            _ => Err(NOENT),
        }
    }

    fn not_at_boot(name: &'static str) -> Error {
        Error::new(format!(
            "the VM called {name} while booting: a boot that depends on the clock or on \
             random bytes cannot be made at build time"
        ))
    }

    const W: &str = "wasi_snapshot_preview1";

    /// The calls wasi.js answers with ENOSYS, answered the same way.
    const NOSYS_CALLS: &[&str] = &[
        "proc_raise",
        "fd_advise",
        "fd_allocate",
        "fd_fdstat_set_rights",
        "fd_filestat_set_size",
        "fd_filestat_set_times",
        "fd_pwrite",
        "fd_readdir",
        "fd_renumber",
        "path_create_directory",
        "path_filestat_set_times",
        "path_link",
        "path_readlink",
        "path_remove_directory",
        "path_rename",
        "path_symlink",
        "path_unlink_file",
        "sock_accept",
        "sock_recv",
        "sock_send",
        "sock_shutdown",
    ];

    /// Defines the ENOSYS calls that `module` imports, with its types.
    pub(super) fn define_nosys(
        linker: &mut Linker<Host>,
        module: &wasmi::Module,
    ) -> anyhow::Result<()> {
        for import in module.imports() {
            if import.module() != W || !NOSYS_CALLS.contains(&import.name()) {
                continue;
            }
            if let wasmi::ExternType::Func(ty) = import.ty() {
                linker.func_new(W, import.name(), ty.clone(), |_, _, results| {
                    if let Some(r) = results.first_mut() {
                        *r = wasmi::Val::I32(NOSYS);
                    }
                    Ok(())
                })?;
            }
        }
        Ok(())
    }

    /// The read position of a file the guest opened, or the errno wasi.js
    /// gives for seeking on `fd`.
    fn file_pos(caller: &Call<'_>, fd: i32) -> Result<u64, i32> {
        match fd as u32 {
            0..=2 => Err(SPIPE),
            PREOPEN_FD => Err(ISDIR),
            fd => caller.data().files.get(&fd).copied().ok_or(BADF),
        }
    }

    /// stdio, the preopen, or a file the guest opened.
    fn is_open(caller: &Call<'_>, fd: i32) -> bool {
        let fd = fd as u32;
        fd <= 2 || fd == PREOPEN_FD || caller.data().files.contains_key(&fd)
    }

    pub(super) fn define(linker: &mut Linker<Host>) -> anyhow::Result<()> {
        linker.func_wrap(W, "args_sizes_get", |mut c: Call<'_>, n: i32, s: i32| {
            sizes_get(&mut c, &args(), n, s)
        })?;
        linker.func_wrap(W, "args_get", |mut c: Call<'_>, p: i32, b: i32| {
            list_get(&mut c, &args(), p, b)
        })?;
        linker.func_wrap(W, "environ_sizes_get", |mut c: Call<'_>, n: i32, s: i32| {
            sizes_get(&mut c, &[], n, s)
        })?;
        linker.func_wrap(W, "environ_get", |mut c: Call<'_>, p: i32, b: i32| {
            list_get(&mut c, &[], p, b)
        })?;
        linker.func_wrap(
            W,
            "clock_time_get",
            |_: Call<'_>, _: i32, _: i64, _: i32| -> Result<i32, Error> {
                Err(not_at_boot("clock_time_get"))
            },
        )?;
        linker.func_wrap(
            W,
            "random_get",
            |_: Call<'_>, _: i32, _: i32| -> Result<i32, Error> { Err(not_at_boot("random_get")) },
        )?;
        linker.func_wrap(
            W,
            "proc_exit",
            |_: Call<'_>, code: i32| -> Result<(), Error> { Err(Error::i32_exit(code)) },
        )?;
        linker.func_wrap(
            W,
            "poll_oneoff",
            |_: Call<'_>, _: i32, _: i32, _: i32, _: i32| -> Result<i32, Error> {
                Err(not_at_boot("poll_oneoff"))
            },
        )?;
        linker.func_wrap(W, "clock_res_get", |mut c: Call<'_>, _: i32, res: i32| {
            if put(&mut c, res, &1000u64.to_le_bytes()) {
                SUCCESS
            } else {
                FAULT
            }
        })?;
        linker.func_wrap(W, "sched_yield", |_: Call<'_>| SUCCESS)?;
        let open_or_badf = |c: &Call<'_>, fd: i32| if is_open(c, fd) { SUCCESS } else { BADF };
        linker.func_wrap(
            W,
            "fd_fdstat_set_flags",
            move |c: Call<'_>, fd: i32, _: i32| open_or_badf(&c, fd),
        )?;
        for name in ["fd_sync", "fd_datasync"] {
            linker.func_wrap(W, name, move |c: Call<'_>, fd: i32| open_or_badf(&c, fd))?;
        }
        linker.func_wrap(
            W,
            "path_filestat_get",
            |mut c: Call<'_>, fd: i32, _flags: i32, path: i32, len: i32, buf: i32| {
                let (filetype, size) = match resolve(&mut c, fd, path, len) {
                    Err(e) => return e,
                    Ok(Resolved::Dir) => (FILETYPE_DIRECTORY, 0),
                    Ok(Resolved::App) => (FILETYPE_REGULAR_FILE, c.data().app.len() as u64),
                };
                if slice(&mut c, buf, 64).is_none() {
                    return FAULT;
                }
                filestat(&mut c, buf, filetype, size);
                SUCCESS
            },
        )?;
        linker.func_wrap(W, "fd_tell", |mut c: Call<'_>, fd: i32, out: i32| {
            let pos = match file_pos(&c, fd) {
                Ok(pos) => pos,
                Err(e) => return e,
            };
            if put(&mut c, out, &pos.to_le_bytes()) {
                SUCCESS
            } else {
                FAULT
            }
        })?;
        linker.func_wrap(
            W,
            "fd_pread",
            |mut c: Call<'_>, fd: i32, iovs: i32, n: i32, offset: i64, nread: i32| {
                if let Err(e) = file_pos(&c, fd) {
                    return e;
                }
                if i128::from(offset as u64) > MAX_OFFSET {
                    return INVAL;
                }
                if slice(&mut c, nread, 4).is_none() {
                    return FAULT;
                }
                let Some(total) = read_into(&mut c, offset as u64, iovs, n) else {
                    return FAULT;
                };
                put(&mut c, nread, &(total as u32).to_le_bytes());
                SUCCESS
            },
        )?;
        linker.func_wrap(W, "fd_prestat_get", |mut c: Call<'_>, fd: i32, buf: i32| {
            if fd as u32 != PREOPEN_FD {
                return BADF;
            }
            let mut st = [0u8; 8];
            st[4..].copy_from_slice(&(APP_DIR.len() as u32).to_le_bytes());
            if put(&mut c, buf, &st) {
                SUCCESS
            } else {
                FAULT
            }
        })?;
        linker.func_wrap(
            W,
            "fd_prestat_dir_name",
            |mut c: Call<'_>, fd: i32, path: i32, len: i32| {
                if fd as u32 != PREOPEN_FD {
                    return BADF;
                }
                let n = (len as u32 as usize).min(APP_DIR.len());
                if slice(&mut c, path, len as u32 as u64).is_none() {
                    return FAULT;
                }
                put(&mut c, path, &APP_DIR.as_bytes()[..n]);
                SUCCESS
            },
        )?;
        linker.func_wrap(W, "fd_fdstat_get", |mut c: Call<'_>, fd: i32, buf: i32| {
            let fd = fd as u32;
            let filetype = match fd {
                0..=2 => FILETYPE_CHARACTER_DEVICE,
                PREOPEN_FD => FILETYPE_DIRECTORY,
                _ if c.data().files.contains_key(&fd) => FILETYPE_REGULAR_FILE,
                _ => return BADF,
            };
            let mut st = [0u8; 24];
            st[0] = filetype;
            st[8..].fill(0xff);
            if put(&mut c, buf, &st) {
                SUCCESS
            } else {
                FAULT
            }
        })?;
        linker.func_wrap(
            W,
            "fd_filestat_get",
            |mut c: Call<'_>, fd: i32, buf: i32| {
                let fd = fd as u32;
                let (filetype, size) = match fd {
                    0..=2 => (FILETYPE_CHARACTER_DEVICE, 0),
                    PREOPEN_FD => (FILETYPE_DIRECTORY, 0),
                    _ if c.data().files.contains_key(&fd) => {
                        (FILETYPE_REGULAR_FILE, c.data().app.len() as u64)
                    }
                    _ => return BADF,
                };
                if slice(&mut c, buf, 64).is_none() {
                    return FAULT;
                }
                filestat(&mut c, buf, filetype, size);
                SUCCESS
            },
        )?;
        linker.func_wrap(
            W,
            "path_open",
            |mut c: Call<'_>,
             dir: i32,
             _dirflags: i32,
             path: i32,
             len: i32,
             oflags: i32,
             _base: i64,
             _inheriting: i64,
             _fdflags: i32,
             fd_ptr: i32| {
                let r = resolve(&mut c, dir, path, len);
                if oflags & (OFLAGS_CREAT | OFLAGS_TRUNC | OFLAGS_EXCL) != 0 {
                    return match r {
                        Err(e @ (BADF | NOTDIR | FAULT)) => e,
                        _ => ROFS,
                    };
                }
                match r {
                    Err(e) => e,
                    Ok(Resolved::Dir) => ISDIR,
                    Ok(Resolved::App) if oflags & OFLAGS_DIRECTORY != 0 => NOTDIR,
                    Ok(Resolved::App) => {
                        if slice(&mut c, fd_ptr, 4).is_none() {
                            return FAULT;
                        }
                        let fd = c.data().next_fd;
                        c.data_mut().next_fd += 1;
                        c.data_mut().files.insert(fd, 0);
                        put(&mut c, fd_ptr, &fd.to_le_bytes());
                        SUCCESS
                    }
                }
            },
        )?;
        linker.func_wrap(W, "fd_close", |mut c: Call<'_>, fd: i32| {
            match c.data_mut().files.remove(&(fd as u32)) {
                Some(_) => SUCCESS,
                None => BADF,
            }
        })?;
        linker.func_wrap(
            W,
            "fd_read",
            |mut c: Call<'_>, fd: i32, iovs: i32, n: i32, nread: i32| {
                let fd = fd as u32;
                let pos = match fd {
                    0 => None,
                    PREOPEN_FD => return ISDIR,
                    _ => match c.data().files.get(&fd) {
                        Some(&pos) => Some(pos),
                        None => return BADF,
                    },
                };
                if slice(&mut c, nread, 4).is_none() {
                    return FAULT;
                }
                // stdin is empty at boot.
                let read = match pos {
                    None => iovecs(&mut c, iovs, n).map(|_| 0),
                    Some(pos) => read_into(&mut c, pos, iovs, n),
                };
                let Some(total) = read else {
                    return FAULT;
                };
                if let Some(pos) = pos {
                    c.data_mut().files.insert(fd, pos + total as u64);
                }
                put(&mut c, nread, &(total as u32).to_le_bytes());
                SUCCESS
            },
        )?;
        linker.func_wrap(
            W,
            "fd_seek",
            |mut c: Call<'_>, fd: i32, offset: i64, whence: i32, new_offset: i32| {
                let pos = match file_pos(&c, fd) {
                    Ok(pos) => pos,
                    Err(e) => return e,
                };
                let base = match whence {
                    0 => 0,
                    1 => pos as i128,
                    2 => c.data().app.len() as i128,
                    _ => return INVAL,
                };
                let to = base + offset as i128;
                if !(0..=MAX_OFFSET).contains(&to) {
                    return INVAL;
                }
                if !put(&mut c, new_offset, &(to as u64).to_le_bytes()) {
                    return FAULT;
                }
                c.data_mut().files.insert(fd as u32, to as u64);
                SUCCESS
            },
        )?;
        linker.func_wrap(
            W,
            "fd_write",
            |mut c: Call<'_>, fd: i32, iovs: i32, n: i32, nwritten: i32| {
                if !(1..=2).contains(&fd) {
                    return if is_open(&c, fd) { PERM } else { BADF };
                }
                let Some(list) = iovecs(&mut c, iovs, n) else {
                    return FAULT;
                };
                if slice(&mut c, nwritten, 4).is_none() {
                    return FAULT;
                }
                let mut out = Vec::new();
                for (buf, len) in list {
                    out.extend_from_slice(slice(&mut c, buf, u64::from(len)).expect("checked"));
                }
                put(&mut c, nwritten, &(out.len() as u32).to_le_bytes());
                let sink = if fd == 1 {
                    &mut c.data_mut().stdout
                } else {
                    &mut c.data_mut().stderr
                };
                sink.extend_from_slice(&out);
                SUCCESS
            },
        )?;
        Ok(())
    }
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

    #[test]
    fn a_damaged_image_is_refused() {
        let image = BootImage {
            id: [1; 16],
            pages: 1,
            dirty: 0,
            ranges: vec![(8, vec![1, 2])],
        };
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
        let far = BootImage {
            id: [1; 16],
            pages: 1,
            dirty: 0,
            ranges: vec![(65535, vec![1, 2])],
        };
        assert!(BootImage::decode(&far.encode()).is_err());
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
