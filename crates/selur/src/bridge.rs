//! The wasmtime host: compiled-module cache, store with limits, the guest's
//! imports, and the request/response round trip through linear memory.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use wasmtime::{
    AsContextMut, Caller, Config, Engine, Extern, InstancePre, Linker, Memory, Module, Store,
    StoreLimits, StoreLimitsBuilder, Trap, TypedFunc,
};

use crate::backend::memory::MemoryBackend;
use crate::backend::Backend;
use crate::error::{Error, ErrorKind, Result};
use crate::protocol::{frame_len, Command, Status, HEADER_LEN};

/// Stack for the thread that compiles a module.
const COMPILE_STACK: usize = 16 << 20;

/// Native stack the guest may use. Kept well under the smallest thread a
/// caller may run us on (BEAM dirty schedulers: 320 KiB) so that deep
/// recursion in a guest traps instead of running off the thread's stack;
/// the selur guest itself needs a few KiB.
const MAX_WASM_STACK: usize = 128 << 10;

/// How often the engine's epoch advances; the deadline granularity.
const TICK: Duration = Duration::from_millis(5);

/// Limits applied to every guest instance.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most bytes of linear memory the guest may hold.
    pub memory_bytes: usize,
    /// Most time the guest may run in one call between two host effects
    /// (time spent inside the backend does not count: a backend bounds its
    /// own waits).
    pub call_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 64 << 20,
            call_timeout: Duration::from_secs(1),
        }
    }
}

/// A container id as the guest hands it out.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ContainerId(pub String);

impl ContainerId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ContainerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for ContainerId {
    fn from(s: &str) -> Self {
        ContainerId(s.to_string())
    }
}

/// Lifecycle state as the guest tracks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerState {
    Created,
    Running,
    Stopped,
}

/// `inspect`: the guest's record merged with the backend's view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerInfo {
    pub id: ContainerId,
    pub image: String,
    pub state: ContainerState,
    pub created_at_ms: i64,
    pub started_at_ms: Option<i64>,
    pub stopped_at_ms: Option<i64>,
    pub restart_count: u32,
    /// What the backend reports (for runc: `runc state`'s status and pid).
    pub runtime: serde_json::Value,
}

/// Per-store data: the backend and what the imports need.
struct Host {
    backend: Box<dyn Backend>,
    limits: StoreLimits,
    last_error: String,
    deadline_ticks: u64,
    rng: u64,
}

/// A compiled module with its imports resolved; shared by every bridge
/// made from the same bytes.
struct Compiled {
    pre: InstancePre<Host>,
}

/// The guest's exports, looked up once per instance.
struct Guest {
    memory: Memory,
    allocate: TypedFunc<u32, u32>,
    deallocate: TypedFunc<(u32, u32), ()>,
    send_request: TypedFunc<(u32, u32), i32>,
    response_ptr: TypedFunc<(), u32>,
    response_len: TypedFunc<(), u32>,
}

/// One guest instance and its backend. Not `Sync`: callers that share a
/// bridge put it behind a lock.
pub struct Bridge {
    compiled: Arc<Compiled>,
    store: Store<Host>,
    guest: Guest,
    /// The request buffer in guest memory, reused across calls.
    request_buf: Option<(u32, u32)>,
    limits: Limits,
}

/// One engine for the process, with epoch interruption and its ticker.
fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let mut config = Config::new();
        config.epoch_interruption(true);
        config.max_wasm_stack(MAX_WASM_STACK);
        let engine = Engine::new(&config).expect("a cranelift engine with epochs is always valid");
        let weak = engine.weak();
        // The ticker holds only a weak reference; the engine lives in a
        // static, so in practice it ticks for the life of the process.
        std::thread::Builder::new()
            .name("selur-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(TICK);
                }
            })
            .expect("spawning the epoch ticker");
        engine
    })
}

/// Compiled modules by the SHA-256 of their bytes.
fn compile(bytes: &[u8]) -> Result<Arc<Compiled>> {
    static CACHE: OnceLock<Mutex<HashMap<[u8; 32], Arc<Compiled>>>> = OnceLock::new();
    let key: [u8; 32] = Sha256::digest(bytes).into();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(c) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Ok(c.clone());
    }
    let engine = engine();
    // Cranelift wants more stack than some callers' threads have (a BEAM
    // dirty scheduler has 320 KiB), so compile on a thread of our own.
    let module = std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("selur-compile".into())
            .stack_size(COMPILE_STACK)
            .spawn_scoped(s, || Module::new(engine, bytes))
            .map_err(|e| Error::new(ErrorKind::Io, format!("spawning the compile thread: {e}")))?
            .join()
            .map_err(|_| Error::new(ErrorKind::InternalError, "the compile thread panicked"))
    })?
    .map_err(|e| Error::new(ErrorKind::Module, format!("compiling the guest: {e}")))?;
    let mut linker = Linker::new(engine);
    define_imports(&mut linker)
        .map_err(|e| Error::new(ErrorKind::Module, format!("defining host imports: {e}")))?;
    let pre = linker
        .instantiate_pre(&module)
        .map_err(|e| Error::new(ErrorKind::Module, format!("linking the guest: {e}")))?;
    let compiled = Arc::new(Compiled { pre });
    cache
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key, compiled.clone());
    Ok(compiled)
}

impl Bridge {
    /// Loads the guest from a file, with the in-memory backend.
    pub fn new(path: impl AsRef<Path>) -> Result<Bridge> {
        Bridge::with_backend(path, Box::new(MemoryBackend::default()), Limits::default())
    }

    /// Loads the guest from a file with the given backend and limits. A
    /// file that does not exist is [`ErrorKind::FileNotFound`]; any other
    /// read failure is [`ErrorKind::Io`], a file that is not a selur guest
    /// [`ErrorKind::Module`].
    pub fn with_backend(
        path: impl AsRef<Path>,
        backend: Box<dyn Backend>,
        limits: Limits,
    ) -> Result<Bridge> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| {
            let kind = match e.kind() {
                std::io::ErrorKind::NotFound => ErrorKind::FileNotFound,
                _ => ErrorKind::Io,
            };
            Error::new(kind, format!("reading the guest: {e}")).with_path(path)
        })?;
        Bridge::from_bytes_with(&bytes, backend, limits).map_err(|e| e.with_path(path))
    }

    /// The guest from bytes, with the in-memory backend.
    pub fn from_bytes(bytes: &[u8]) -> Result<Bridge> {
        Bridge::from_bytes_with(bytes, Box::new(MemoryBackend::default()), Limits::default())
    }

    pub fn from_bytes_with(
        bytes: &[u8],
        backend: Box<dyn Backend>,
        limits: Limits,
    ) -> Result<Bridge> {
        let compiled = compile(bytes)?;
        let (store, guest) = instantiate(&compiled, backend, limits)?;
        Ok(Bridge {
            compiled,
            store,
            guest,
            request_buf: None,
            limits,
        })
    }

    /// The guest built from `crates/selur/guest/selur.c` (embedded).
    pub fn bundled() -> Result<Bridge> {
        Bridge::from_bytes(GUEST_WASM)
    }

    /// Current size of the guest's linear memory in bytes.
    pub fn memory_size(&self) -> usize {
        self.guest.memory.data_size(&self.store)
    }

    /// Whether the backend blocks on processes or I/O.
    pub fn is_blocking(&self) -> bool {
        self.store.data().backend.is_blocking()
    }

    /// Sends one encoded request and returns the status and a copy of the
    /// payload. Non-ok statuses are returned, not turned into errors; an
    /// `Err` means the host side failed (trap, deadline, memory cap, a
    /// malformed response).
    pub fn send_request(&mut self, request: &[u8]) -> Result<(Status, Vec<u8>)> {
        self.send_request_with(request, |status, payload| (status, payload.to_vec()))
    }

    /// Like [`Bridge::send_request`], but hands the response payload, still
    /// in guest memory, to `f` without copying it.
    pub fn send_request_with<R>(
        &mut self,
        request: &[u8],
        f: impl FnOnce(Status, &[u8]) -> R,
    ) -> Result<R> {
        self.round_trip(&[request], f)
    }

    /// Encodes `[command][len][payload]` straight into guest memory and
    /// runs the request.
    pub fn call_with<R>(
        &mut self,
        command: Command,
        payload: &[&[u8]],
        f: impl FnOnce(Status, &[u8]) -> R,
    ) -> Result<R> {
        let n: usize = payload.iter().map(|p| p.len()).sum();
        let len = frame_len(n)?;
        let mut header = [0u8; HEADER_LEN];
        header[0] = command as u8;
        header[1..].copy_from_slice(&len.to_le_bytes());
        let mut parts: [&[u8]; 4] = [&header, &[], &[], &[]];
        if payload.len() > 3 {
            let joined = payload.concat();
            return self.call_with(command, &[&joined], f);
        }
        parts[1..=payload.len()].copy_from_slice(payload);
        self.round_trip(&parts[..=payload.len()], f)
    }

    /// The diagnostics command: the payload comes back unchanged.
    pub fn echo_with<R>(&mut self, payload: &[u8], f: impl FnOnce(&[u8]) -> R) -> Result<R> {
        self.call_with(Command::Echo, &[payload], |status, p| match status {
            Status::Ok => Ok(f(p)),
            _ => Err(Error::from_status(status, p)),
        })?
    }

    pub fn create_container(&mut self, image: &str) -> Result<ContainerId> {
        self.typed(Command::Create, &[image.as_bytes()], |p| {
            ContainerId(lossy(p))
        })
    }

    /// Like [`Bridge::create_container`] with a chosen id; an id in use
    /// answers `ContainerAlreadyExists`.
    pub fn create_named_container(&mut self, image: &str, name: &str) -> Result<ContainerId> {
        self.typed(
            Command::Create,
            &[image.as_bytes(), b"\0", name.as_bytes()],
            |p| ContainerId(lossy(p)),
        )
    }

    pub fn start(&mut self, id: &ContainerId) -> Result<()> {
        self.typed(Command::Start, &[id.0.as_bytes()], |_| ())
    }

    pub fn stop(&mut self, id: &ContainerId) -> Result<()> {
        self.typed(Command::Stop, &[id.0.as_bytes()], |_| ())
    }

    pub fn delete(&mut self, id: &ContainerId) -> Result<()> {
        self.typed(Command::Delete, &[id.0.as_bytes()], |_| ())
    }

    /// The inspect JSON exactly as the guest wrote it.
    pub fn inspect_json(&mut self, id: &ContainerId) -> Result<String> {
        self.typed(Command::Inspect, &[id.0.as_bytes()], lossy)
    }

    pub fn inspect(&mut self, id: &ContainerId) -> Result<ContainerInfo> {
        self.typed(Command::Inspect, &[id.0.as_bytes()], |p| {
            serde_json::from_slice::<ContainerInfo>(p).map_err(|e| {
                Error::new(
                    ErrorKind::InternalError,
                    format!("guest inspect JSON is invalid: {e}"),
                )
            })
        })?
    }

    pub fn list(&mut self) -> Result<Vec<ContainerId>> {
        self.typed(Command::List, &[], |p| {
            if p.is_empty() {
                Vec::new()
            } else {
                p.split(|&b| b == b'\n')
                    .map(|id| ContainerId(lossy(id)))
                    .collect()
            }
        })
    }

    fn typed<R>(
        &mut self,
        command: Command,
        payload: &[&[u8]],
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<R> {
        self.call_with(command, payload, |status, p| match status {
            Status::Ok => Ok(f(p)),
            _ => Err(Error::from_status(status, p)),
        })?
    }

    /// Writes `parts` into the request buffer, calls the guest, checks the
    /// response frame and hands its payload to `f`.
    fn round_trip<R>(&mut self, parts: &[&[u8]], f: impl FnOnce(Status, &[u8]) -> R) -> Result<R> {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        let len = u32::try_from(total).map_err(|_| {
            Error::new(
                ErrorKind::InvalidRequest,
                format!("request of {total} bytes is too large"),
            )
        })?;
        let ptr = self.request_buffer(len)?;
        {
            let mem = self.guest.memory.data_mut(&mut self.store);
            let mut at = ptr as usize;
            // `request_buffer` checked that [ptr, ptr+len) lies in memory.
            for p in parts {
                mem[at..at + p.len()].copy_from_slice(p);
                at += p.len();
            }
        }
        let deadline = self.store.data().deadline_ticks;
        self.store.set_epoch_deadline(deadline);
        let status = match self.guest.send_request.call(&mut self.store, (ptr, len)) {
            Ok(s) => s,
            Err(e) => return Err(self.recover(e)),
        };
        let rp = self
            .guest
            .response_ptr
            .call(&mut self.store, ())
            .map_err(|e| self.recover(e))?;
        let rl = self
            .guest
            .response_len
            .call(&mut self.store, ())
            .map_err(|e| self.recover(e))?;
        let mem = self.guest.memory.data(&self.store);
        let frame = (rp as usize)
            .checked_add(rl as usize)
            .and_then(|end| mem.get(rp as usize..end))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::InternalError,
                    format!(
                        "guest response at {rp}+{rl} lies outside its {} bytes of memory",
                        mem.len()
                    ),
                )
            })?;
        if frame.is_empty() {
            // The guest could not even reserve a header: out of memory.
            return Err(Error::new(
                ErrorKind::ResourceLimit,
                format!(
                    "guest had no memory for a response (cap {} bytes)",
                    self.limits.memory_bytes
                ),
            ));
        }
        let (st, payload) = crate::protocol::decode_response(frame)?;
        if i32::from(st.code()) != status {
            return Err(Error::new(
                ErrorKind::InternalError,
                format!(
                    "guest returned status {status} but its response frame says {}",
                    st.code()
                ),
            ));
        }
        Ok(f(st, payload))
    }

    /// A guest buffer of at least `len` bytes, reusing the last one.
    fn request_buffer(&mut self, len: u32) -> Result<u32> {
        if let Some((ptr, cap)) = self.request_buf {
            if cap >= len {
                return Ok(ptr);
            }
            self.request_buf = None;
            self.guest
                .deallocate
                .call(&mut self.store, (ptr, cap))
                .map_err(|e| self.recover(e))?;
        }
        let cap = len.max(256).checked_next_power_of_two().unwrap_or(len);
        self.store
            .set_epoch_deadline(self.store.data().deadline_ticks);
        let ptr = self
            .guest
            .allocate
            .call(&mut self.store, cap)
            .map_err(|e| self.recover(e))?;
        let in_bounds = (ptr as usize)
            .checked_add(cap as usize)
            .is_some_and(|end| end <= self.guest.memory.data_size(&self.store));
        if ptr == 0 {
            return Err(Error::new(
                ErrorKind::ResourceLimit,
                format!(
                    "guest could not allocate {cap} bytes for a {len}-byte request (memory cap {} bytes)",
                    self.limits.memory_bytes
                ),
            ));
        }
        if !in_bounds {
            return Err(Error::new(
                ErrorKind::InternalError,
                format!("guest allocate({cap}) returned {ptr}, outside its memory"),
            ));
        }
        self.request_buf = Some((ptr, cap));
        Ok(ptr)
    }

    /// Turns a failed guest call into an error and replaces the instance:
    /// after a trap the guest's state cannot be trusted, so the bridge
    /// starts a fresh one and tells the backend to tear down what the old
    /// guest knew (nothing is left running that no table lists).
    fn recover(&mut self, e: wasmtime::Error) -> Error {
        let err = match e.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => Error::new(
                ErrorKind::DeadlineExceeded,
                format!("guest ran past its {:?} deadline", self.limits.call_timeout),
            ),
            Some(trap) => Error::new(ErrorKind::Trap, format!("guest trapped: {trap}")),
            None => Error::new(ErrorKind::Trap, format!("guest call failed: {e}")),
        };
        let fresh = MemoryBackend::default();
        let placeholder = Store::new(engine(), host(Box::new(fresh), self.limits));
        let old = std::mem::replace(&mut self.store, placeholder);
        let mut backend = old.into_data().backend;
        backend.reset();
        match instantiate(&self.compiled, backend, self.limits) {
            Ok((store, guest)) => {
                self.store = store;
                self.guest = guest;
                self.request_buf = None;
                err
            }
            Err(again) => Error::new(
                ErrorKind::InternalError,
                format!("{err}; re-instantiating the guest failed too: {again}"),
            ),
        }
    }
}

/// The guest built from `guest/selur.c` by `cargo xtask guest`.
pub const GUEST_WASM: &[u8] = include_bytes!("../guest/selur.wasm");

fn lossy(p: &[u8]) -> String {
    String::from_utf8_lossy(p).into_owned()
}

fn host(backend: Box<dyn Backend>, limits: Limits) -> Host {
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    Host {
        backend,
        limits: StoreLimitsBuilder::new()
            .memory_size(limits.memory_bytes)
            .instances(1)
            .build(),
        last_error: String::new(),
        deadline_ticks: limits.call_timeout.as_millis().div_ceil(TICK.as_millis()) as u64 + 1,
        // splitmix64 state; odd so it never sticks at zero.
        rng: seed ^ (std::process::id() as u64).rotate_left(32) | 1,
    }
}

fn instantiate(
    compiled: &Compiled,
    backend: Box<dyn Backend>,
    limits: Limits,
) -> Result<(Store<Host>, Guest)> {
    let mut store = Store::new(engine(), host(backend, limits));
    store.limiter(|h| &mut h.limits);
    store.set_epoch_deadline(store.data().deadline_ticks);
    let instance = compiled
        .pre
        .instantiate(&mut store)
        .map_err(|e| Error::new(ErrorKind::Module, format!("instantiating the guest: {e}")))?;
    let missing = |what: &str, e: wasmtime::Error| {
        Error::new(
            ErrorKind::Module,
            format!("guest export {what} missing or mistyped: {e}"),
        )
    };
    let memory = instance
        .get_memory(&mut store, "memory")
        .ok_or_else(|| Error::new(ErrorKind::Module, "guest exports no memory named `memory`"))?;
    let guest = Guest {
        memory,
        allocate: instance
            .get_typed_func(&mut store, "allocate")
            .map_err(|e| missing("allocate", e))?,
        deallocate: instance
            .get_typed_func(&mut store, "deallocate")
            .map_err(|e| missing("deallocate", e))?,
        send_request: instance
            .get_typed_func(&mut store, "send_request")
            .map_err(|e| missing("send_request", e))?,
        response_ptr: instance
            .get_typed_func(&mut store, "response_ptr")
            .map_err(|e| missing("response_ptr", e))?,
        response_len: instance
            .get_typed_func(&mut store, "response_len")
            .map_err(|e| missing("response_len", e))?,
    };
    Ok((store, guest))
}

/// Reads `len` bytes at `ptr` of the caller's memory as UTF-8; a bad range
/// traps the guest (it broke the ABI).
fn guest_str(caller: &mut Caller<'_, Host>, ptr: u32, len: u32) -> wasmtime::Result<String> {
    let mem = memory_of(caller)?;
    let data = mem.data(&*caller);
    let bytes = (ptr as usize)
        .checked_add(len as usize)
        .and_then(|end| data.get(ptr as usize..end))
        .ok_or_else(|| wasmtime::format_err!("guest passed {ptr}+{len}, outside its memory"))?;
    std::str::from_utf8(bytes)
        .map(str::to_owned)
        .map_err(|_| wasmtime::format_err!("guest passed non-UTF-8 bytes at {ptr}"))
}

fn memory_of(caller: &mut Caller<'_, Host>) -> wasmtime::Result<Memory> {
    match caller.get_export("memory") {
        Some(Extern::Memory(m)) => Ok(m),
        _ => Err(wasmtime::format_err!("guest exports no memory")),
    }
}

/// Runs one backend effect and turns its outcome into a wire status,
/// keeping the message for `host_error`. The deadline is re-armed after:
/// time spent in the backend is not guest time.
fn effect(caller: &mut Caller<'_, Host>, r: Result<()>) -> i32 {
    let ticks = caller.data().deadline_ticks;
    caller.as_context_mut().set_epoch_deadline(ticks);
    match r {
        Ok(()) => i32::from(Status::Ok.code()),
        Err(e) => {
            let status = i32::from(e.kind().status().code());
            caller.data_mut().last_error = e.to_string();
            status
        }
    }
}

fn define_imports(linker: &mut Linker<Host>) -> wasmtime::Result<()> {
    linker.func_wrap("selur", "host_now_ms", |_: Caller<'_, Host>| -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    })?;
    linker.func_wrap(
        "selur",
        "host_random",
        |mut caller: Caller<'_, Host>| -> i64 {
            // splitmix64: ids need to be distinct, not secret.
            let h = caller.data_mut();
            h.rng = h.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = h.rng;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            (z ^ (z >> 31)) as i64
        },
    )?;
    linker.func_wrap(
        "selur",
        "host_create",
        |mut caller: Caller<'_, Host>, id: u32, id_len: u32, img: u32, img_len: u32| {
            let id = guest_str(&mut caller, id, id_len)?;
            let image = guest_str(&mut caller, img, img_len)?;
            let r = caller.data_mut().backend.create(&id, &image);
            Ok(effect(&mut caller, r))
        },
    )?;
    linker.func_wrap(
        "selur",
        "host_start",
        |mut caller: Caller<'_, Host>, id: u32, len: u32| {
            let id = guest_str(&mut caller, id, len)?;
            let r = caller.data_mut().backend.start(&id);
            Ok(effect(&mut caller, r))
        },
    )?;
    linker.func_wrap(
        "selur",
        "host_stop",
        |mut caller: Caller<'_, Host>, id: u32, len: u32| {
            let id = guest_str(&mut caller, id, len)?;
            let r = caller.data_mut().backend.stop(&id);
            Ok(effect(&mut caller, r))
        },
    )?;
    linker.func_wrap(
        "selur",
        "host_delete",
        |mut caller: Caller<'_, Host>, id: u32, len: u32| {
            let id = guest_str(&mut caller, id, len)?;
            let r = caller.data_mut().backend.delete(&id);
            Ok(effect(&mut caller, r))
        },
    )?;
    linker.func_wrap(
        "selur",
        "host_inspect",
        |mut caller: Caller<'_, Host>, id: u32, len: u32, out: u32, cap: u32| {
            let id = guest_str(&mut caller, id, len)?;
            let json = match caller.data_mut().backend.inspect(&id) {
                Ok(v) => v.to_string(),
                Err(e) => return Ok(-effect(&mut caller, Err(e))),
            };
            effect(&mut caller, Ok(()));
            let n = i32::try_from(json.len())
                .map_err(|_| wasmtime::format_err!("backend inspect JSON is too large"))?;
            if json.len() > cap as usize {
                return Ok(n);
            }
            let mem = memory_of(&mut caller)?;
            let dst = (out as usize)
                .checked_add(json.len())
                .and_then(|end| mem.data_mut(&mut caller).get_mut(out as usize..end))
                .ok_or_else(|| {
                    wasmtime::format_err!("guest inspect buffer {out}+{cap} outside its memory")
                })?;
            dst.copy_from_slice(json.as_bytes());
            Ok(n)
        },
    )?;
    linker.func_wrap(
        "selur",
        "host_error",
        |mut caller: Caller<'_, Host>, out: u32, cap: u32| {
            let msg = std::mem::take(&mut caller.data_mut().last_error);
            let mut n = msg.len().min(cap as usize);
            while !msg.is_char_boundary(n) {
                n -= 1;
            }
            let mem = memory_of(&mut caller)?;
            let dst = (out as usize)
                .checked_add(n)
                .and_then(|end| mem.data_mut(&mut caller).get_mut(out as usize..end))
                .ok_or_else(|| {
                    wasmtime::format_err!("guest error buffer {out}+{cap} outside its memory")
                })?;
            dst.copy_from_slice(&msg.as_bytes()[..n]);
            Ok(n as i32)
        },
    )?;
    Ok(())
}
