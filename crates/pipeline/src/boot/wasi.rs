//! The boot's WASI host: the calls answered as worker/src/wasi.js answers
//! them (the same errnos, the same bytes written): a flat read-only `/app`
//! holding `app.avm`, empty stdin and environment, output kept for error
//! messages. Reading the clock or random bytes stops the boot (see the
//! `boot` module's docs).

use super::{APP_DIR, APP_FILE, ARGV};
use wasmi::{Caller, Error, Linker, Memory};

/// What the WASI host keeps: the memory, the open files and the output.
pub(super) struct Host {
    pub(super) memory: Option<Memory>,
    app: Vec<u8>,
    /// fd → read position of an opened `app.avm` (fd 3 is the `/app` preopen).
    files: std::collections::BTreeMap<u32, u64>,
    next_fd: u32,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl Host {
    pub(super) fn new(avm: &[u8]) -> Host {
        Host {
            memory: None,
            app: avm.to_vec(),
            files: Default::default(),
            next_fd: 4,
            stdout: Vec::new(),
            stderr: Vec::new(),
        }
    }

    pub(super) fn output(&self) -> String {
        let mut out = String::from_utf8_lossy(&self.stdout).into_owned();
        out.push_str(&String::from_utf8_lossy(&self.stderr));
        out.trim_end().to_string()
    }
}

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

/// Writes `bytes` at `ptr`: SUCCESS, or FAULT when they do not fit.
fn answer(caller: &mut Call<'_>, ptr: i32, bytes: &[u8]) -> i32 {
    if put(caller, ptr, bytes) {
        SUCCESS
    } else {
        FAULT
    }
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
        answer(&mut c, res, &1000u64.to_le_bytes())
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
        answer(&mut c, out, &pos.to_le_bytes())
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
        answer(&mut c, buf, &st)
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
        answer(&mut c, buf, &st)
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
