//! selur-nif: the Rustler NIF behind `Vordr.Selur.Bridge`.
//!
//! This crate owns the mapping from selur's Rust API to Erlang terms: a
//! bridge is a resource object holding `Mutex<Option<Bridge>>` (`free/1`
//! takes it out; any later call answers `{:error, :internal_error}`), every
//! result is `:ok | {:ok, term} | {:error, atom}`. It must never let a
//! panic unwind into the VM (each call runs under `catch_unwind`) and never
//! block a normal scheduler: every operation exists twice, a normal-
//! scheduler NIF that answers `:dirty` when the bridge's backend blocks
//! (runc), and a `_dirty` twin on a dirty I/O scheduler that the Elixir
//! side then calls. The in-memory backend stays on the fast path. A
//! normal-scheduler NIF never waits for the bridge's lock either: it only
//! tries it, and a busy lock (another call in the guest or in runc) sends
//! the call to a dirty scheduler too: operations answer `:dirty`, the
//! accessors without a `_dirty` twin in Elixir (`memory_size`,
//! `last_error`, `echo`, `nif_blocking`) reschedule themselves there with
//! `enif_schedule_nif`.

use std::ffi::CStr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, TryLockError};
use std::time::Duration;

use rustler::sys::{c_int, ErlNifEnv, ErlNifTerm, ERL_NIF_DIRTY_JOB_IO_BOUND};
use rustler::{Atom, Binary, Encoder, Env, NewBinary, ResourceArc, Term};
use selur::{Bridge, ContainerId, Error, ErrorKind, Limits, RuncBackend, RuncConfig};

mod atoms {
    rustler::atoms! {
        ok,
        error,
        dirty,
        invalid_request,
        container_not_found,
        container_already_exists,
        network_error,
        internal_error,
        unknown_error,
        trap,
        deadline_exceeded,
        resource_limit,
        enoent,
        io_error,
        module_error,
    }
}

/// The resource behind a bridge reference.
pub struct BridgeResource {
    /// Whether the backend blocks, fixed at creation and read without the
    /// lock, so a fast-path call on a runc bridge never touches it.
    blocking: bool,
    inner: Mutex<Option<Slot>>,
}

/// A live bridge and the message of its last error (`last_error/1`).
struct Slot {
    bridge: Bridge,
    last_error: String,
}

impl Slot {
    fn fail<'a>(&mut self, env: Env<'a>, e: Error) -> Term<'a> {
        self.last_error = e.to_string();
        error(env, e.kind())
    }
}

#[rustler::resource_impl]
impl rustler::Resource for BridgeResource {}

fn kind_atom(kind: ErrorKind) -> Atom {
    match kind {
        ErrorKind::InvalidRequest => atoms::invalid_request(),
        ErrorKind::ContainerNotFound => atoms::container_not_found(),
        ErrorKind::ContainerAlreadyExists => atoms::container_already_exists(),
        ErrorKind::NetworkError => atoms::network_error(),
        ErrorKind::InternalError => atoms::internal_error(),
        ErrorKind::Unknown(_) => atoms::unknown_error(),
        ErrorKind::Trap => atoms::trap(),
        ErrorKind::DeadlineExceeded => atoms::deadline_exceeded(),
        ErrorKind::ResourceLimit => atoms::resource_limit(),
        ErrorKind::FileNotFound => atoms::enoent(),
        ErrorKind::Io => atoms::io_error(),
        ErrorKind::Module => atoms::module_error(),
        // ErrorKind is non_exhaustive: a kind added later is not the
        // caller's business until it has an atom of its own.
        _ => atoms::internal_error(),
    }
}

fn error<'a>(env: Env<'a>, kind: ErrorKind) -> Term<'a> {
    (atoms::error(), kind_atom(kind)).encode(env)
}

fn ok_with<'a>(env: Env<'a>, t: impl Encoder) -> Term<'a> {
    (atoms::ok(), t).encode(env)
}

fn binary<'a>(env: Env<'a>, bytes: &[u8]) -> Term<'a> {
    let mut b = NewBinary::new(env, bytes.len());
    b.as_mut_slice().copy_from_slice(bytes);
    Binary::from(b).to_term(env)
}

/// How a call may take the bridge's lock.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lock {
    /// On a dirty scheduler: wait for it.
    Wait,
    /// On a normal scheduler: only try it; `busy` answers when it is held.
    Try,
    /// As `Try`, and a blocking backend answers `busy` without trying.
    TryUnlessBlocking,
}

/// Runs `f` with the bridge; catches panics; a freed bridge (or one whose
/// lock was poisoned by a panic) answers `{:error, :internal_error}`.
/// Without `Lock::Wait`, a lock that is held (and with
/// `TryUnlessBlocking` a blocking backend) answers `busy()` instead.
fn with_bridge<'a>(
    env: Env<'a>,
    res: Term<'a>,
    lock: Lock,
    busy: impl FnOnce() -> Term<'a>,
    f: impl FnOnce(&mut Slot) -> Term<'a>,
) -> Term<'a> {
    let r = catch_unwind(AssertUnwindSafe(|| {
        // Arguments arrive as terms and are checked here, so a wrong one is
        // {:error, :invalid_request} without any Elixir-side guard or rescue
        // on the hot path.
        let Ok(res) = res.decode::<ResourceArc<BridgeResource>>() else {
            return error(env, ErrorKind::InvalidRequest);
        };
        if lock == Lock::TryUnlessBlocking && res.blocking {
            return busy();
        }
        let taken = match lock {
            Lock::Wait => res.inner.lock().map_err(TryLockError::Poisoned),
            Lock::Try | Lock::TryUnlessBlocking => res.inner.try_lock(),
        };
        let mut guard: MutexGuard<'_, Option<Slot>> = match taken {
            Ok(g) => g,
            Err(TryLockError::WouldBlock) => return busy(),
            Err(TryLockError::Poisoned(poisoned)) => {
                // A panic while the bridge was held: its state is unknown,
                // so it is dropped and the reference behaves as freed.
                let mut g = poisoned.into_inner();
                *g = None;
                return error(env, ErrorKind::InternalError);
            }
        };
        match guard.as_mut() {
            None => error(env, ErrorKind::InternalError),
            Some(s) => f(s),
        }
    }));
    r.unwrap_or_else(|_| error(env, ErrorKind::InternalError))
}

/// What a fast-path operation answers when it must not run here: the
/// Elixir side repeats it with its `_dirty` twin.
fn dirty<'a>(env: Env<'a>) -> impl FnOnce() -> Term<'a> {
    move || atoms::dirty().encode(env)
}

type RawNif = unsafe extern "C" fn(*mut ErlNifEnv, c_int, *const ErlNifTerm) -> ErlNifTerm;

/// Hands the running NIF call over to `fun` on a dirty I/O scheduler with
/// the same arguments; the term returned must be the NIF's return value.
fn on_dirty_scheduler<'a>(
    env: Env<'a>,
    name: &'static CStr,
    fun: RawNif,
    args: &[Term<'a>],
) -> Term<'a> {
    let argv: Vec<ErlNifTerm> = args.iter().map(Term::as_c_arg).collect();
    // SAFETY: `env` is the environment of the NIF call being made (this is
    // only reached from inside one), `argv` holds terms of that call, which
    // stay valid in `env`, `name` is NUL-terminated and static, and `fun`
    // has the NIF signature. The returned term is handed straight back as
    // the NIF's result, as enif_schedule_nif requires.
    unsafe {
        let t = rustler::sys::enif_schedule_nif(
            env.as_c_arg(),
            name.as_ptr(),
            ERL_NIF_DIRTY_JOB_IO_BOUND as c_int,
            fun,
            argv.len() as c_int,
            argv.as_ptr(),
        );
        Term::new(env, t)
    }
}

/// An accessor as a normal-scheduler NIF `$nif` (Elixir name `$name`) that
/// only tries the lock, plus the raw function `$raw` that
/// `on_dirty_scheduler` reruns it as when the lock is busy. `$body(env,
/// lock, args...)` does the work.
macro_rules! accessor {
    ($nif:ident, $name:literal, $raw:ident, $body:ident, $($arg:ident),+) => {
        #[rustler::nif(name = $name)]
        fn $nif<'a>(env: Env<'a>, $($arg: Term<'a>),+) -> Term<'a> {
            let busy = move || on_dirty_scheduler(env, $raw::NAME, $raw::call, &[$($arg),+]);
            $body(env, Lock::Try, busy, $($arg),+)
        }

        mod $raw {
            use super::*;

            pub const NAME: &CStr = match CStr::from_bytes_with_nul(concat!($name, "_dirty\0").as_bytes()) {
                Ok(c) => c,
                Err(_) => panic!("a NIF name holds no NUL"),
            };

            /// # Safety
            /// Called by the VM as a NIF with this accessor's arguments.
            pub unsafe extern "C" fn call(
                env: *mut ErlNifEnv,
                argc: c_int,
                argv: *const ErlNifTerm,
            ) -> ErlNifTerm {
                let marker = ();
                // SAFETY: the VM passes a live environment and `argc` terms
                // at `argv`, valid for this call.
                let (env, args) = unsafe {
                    (
                        Env::new(&marker, env),
                        std::slice::from_raw_parts(argv, argc as usize),
                    )
                };
                // SAFETY: the terms belong to `env`.
                let args: Vec<Term<'_>> = args.iter().map(|&t| unsafe { Term::new(env, t) }).collect();
                let run = || {
                    let [$($arg),+] = args[..] else {
                        return error(env, ErrorKind::InvalidRequest);
                    };
                    $body(env, Lock::Wait, dirty(env), $($arg),+)
                };
                // No panic may unwind out of an extern "C" function.
                catch_unwind(AssertUnwindSafe(run))
                    .unwrap_or_else(|_| error(env, ErrorKind::InternalError))
                    .as_c_arg()
            }
        }
    };
}

fn guarded<'a>(env: Env<'a>, f: impl FnOnce() -> Term<'a>) -> Term<'a> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| error(env, ErrorKind::InternalError))
}

/// `:ok`, or the error tuple with its message kept for `last_error/1`.
fn unit<'a>(env: Env<'a>, s: &mut Slot, r: selur::Result<()>) -> Term<'a> {
    match r {
        Ok(()) => atoms::ok().encode(env),
        Err(e) => s.fail(env, e),
    }
}

fn text(bytes: &[u8]) -> Result<&str, Error> {
    std::str::from_utf8(bytes)
        .map_err(|_| Error::new(ErrorKind::InvalidRequest, "argument is not UTF-8"))
}

fn new_resource<'a>(env: Env<'a>, r: selur::Result<Bridge>) -> Term<'a> {
    match r {
        Ok(bridge) => {
            let slot = Slot {
                bridge,
                last_error: String::new(),
            };
            ok_with(
                env,
                ResourceArc::new(BridgeResource {
                    blocking: slot.bridge.is_blocking(),
                    inner: Mutex::new(Some(slot)),
                }),
            )
        }
        Err(e) => error(env, e.kind()),
    }
}

/// `nif_new(wasm_path)`: compiling the module takes milliseconds the first
/// time, so this runs on a dirty CPU scheduler.
#[rustler::nif(schedule = "DirtyCpu")]
fn nif_new<'a>(env: Env<'a>, path: Binary<'a>) -> Term<'a> {
    guarded(env, || match text(&path) {
        Ok(p) => new_resource(env, Bridge::new(p)),
        Err(e) => error(env, e.kind()),
    })
}

/// `nif_new_runc(wasm_path, image_store, runtime, stop_grace_ms)`.
#[rustler::nif(schedule = "DirtyIo")]
fn nif_new_runc<'a>(
    env: Env<'a>,
    path: Binary<'a>,
    images: Binary<'a>,
    runtime: Binary<'a>,
    stop_grace_ms: u64,
) -> Term<'a> {
    guarded(env, || {
        let args = (|| Ok::<_, Error>((text(&path)?, text(&images)?, text(&runtime)?)))();
        let (path, images, runtime) = match args {
            Ok(a) => a,
            Err(e) => return error(env, e.kind()),
        };
        let mut config = RuncConfig::new(images);
        config.runtime = PathBuf::from(runtime);
        config.stop_grace = Duration::from_millis(stop_grace_ms);
        let bridge = RuncBackend::new(config)
            .and_then(|backend| Bridge::with_backend(path, Box::new(backend), Limits::default()));
        new_resource(env, bridge)
    })
}

/// `free(bridge)`: drops the bridge now (a runc backend tears its
/// containers down, hence the dirty scheduler). Idempotent.
#[rustler::nif(schedule = "DirtyIo", name = "free")]
fn nif_free<'a>(env: Env<'a>, res: Term<'a>) -> Term<'a> {
    guarded(env, || {
        let Ok(res) = res.decode::<ResourceArc<BridgeResource>>() else {
            return error(env, ErrorKind::InvalidRequest);
        };
        let taken = match res.inner.lock() {
            Ok(mut g) => g.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        drop(taken);
        atoms::ok().encode(env)
    })
}

/// An accessor that only reads the bridge: `$body` is `{:ok, $value}`, with
/// `$env` and the slot `$s` in scope for `$value`; see `accessor!`.
macro_rules! reader {
    ($nif:ident, $name:literal, $raw:ident, $body:ident, |$env:ident, $s:ident| $value:expr) => {
        fn $body<'a>(
            env: Env<'a>,
            lock: Lock,
            busy: impl FnOnce() -> Term<'a>,
            res: Term<'a>,
        ) -> Term<'a> {
            let $env = env;
            with_bridge($env, res, lock, busy, |$s| ok_with($env, $value))
        }
        accessor!($nif, $name, $raw, $body, res);
    };
}

// Reading the size, the last error, the blocking flag, or echoing never
// touches the backend, so none has an Elixir `_dirty` twin; each reruns on
// a dirty scheduler only when the lock is busy.
reader!(
    nif_memory_size,
    "memory_size",
    memory_size_dirty,
    memory_size,
    |_env, s| s.bridge.memory_size() as u64
);

// The message of the bridge's last error, `""` when none.
reader!(
    nif_last_error,
    "last_error",
    last_error_dirty,
    last_error,
    |env, s| binary(env, s.last_error.as_bytes())
);

reader!(
    nif_blocking,
    "nif_blocking",
    blocking_dirty,
    blocking,
    |_env, s| s.bridge.is_blocking()
);

/// The diagnostics echo: the payload goes through guest memory and back.
fn echo<'a>(
    env: Env<'a>,
    lock: Lock,
    busy: impl FnOnce() -> Term<'a>,
    res: Term<'a>,
    payload: Term<'a>,
) -> Term<'a> {
    let Ok(payload) = payload.decode::<Binary<'a>>() else {
        return error(env, ErrorKind::InvalidRequest);
    };
    with_bridge(env, res, lock, busy, |s| {
        match s.bridge.echo_with(&payload, |p| binary(env, p)) {
            Ok(t) => ok_with(env, t),
            Err(e) => s.fail(env, e),
        }
    })
}
accessor!(nif_echo, "echo", echo_dirty, echo, res, payload);

fn do_send<'a>(env: Env<'a>, s: &mut Slot, request: &[u8]) -> Term<'a> {
    let last_error = &mut s.last_error;
    let r = s
        .bridge
        .send_request_with(request, |status, p| match status {
            selur::Status::Ok => ok_with(env, binary(env, p)),
            other => {
                let e = Error::from_status(other, p);
                *last_error = e.to_string();
                error(env, e.kind())
            }
        });
    r.unwrap_or_else(|e| s.fail(env, e))
}

fn do_create<'a>(env: Env<'a>, s: &mut Slot, image: &[u8], name: Option<&[u8]>) -> Term<'a> {
    let r = text(image).and_then(|image| match name {
        None => s.bridge.create_container(image),
        Some(n) => s.bridge.create_named_container(image, text(n)?),
    });
    match r {
        Ok(id) => ok_with(env, binary(env, id.as_str().as_bytes())),
        Err(e) => s.fail(env, e),
    }
}

fn id_of(bytes: &[u8]) -> Result<ContainerId, Error> {
    text(bytes).map(ContainerId::from)
}

fn do_start<'a>(env: Env<'a>, s: &mut Slot, id: &[u8]) -> Term<'a> {
    let r = id_of(id).and_then(|id| s.bridge.start(&id));
    unit(env, s, r)
}

fn do_stop<'a>(env: Env<'a>, s: &mut Slot, id: &[u8]) -> Term<'a> {
    let r = id_of(id).and_then(|id| s.bridge.stop(&id));
    unit(env, s, r)
}

fn do_delete<'a>(env: Env<'a>, s: &mut Slot, id: &[u8]) -> Term<'a> {
    let r = id_of(id).and_then(|id| s.bridge.delete(&id));
    unit(env, s, r)
}

fn do_inspect<'a>(env: Env<'a>, s: &mut Slot, id: &[u8]) -> Term<'a> {
    match id_of(id).and_then(|id| s.bridge.inspect_json(&id)) {
        Ok(json) => ok_with(env, binary(env, json.as_bytes())),
        Err(e) => s.fail(env, e),
    }
}

fn do_list<'a>(env: Env<'a>, s: &mut Slot) -> Term<'a> {
    match s.bridge.list() {
        Ok(ids) => {
            let terms: Vec<Term<'a>> = ids
                .iter()
                .map(|id| binary(env, id.as_str().as_bytes()))
                .collect();
            ok_with(env, terms)
        }
        Err(e) => s.fail(env, e),
    }
}

fn do_create_anon<'a>(env: Env<'a>, s: &mut Slot, image: &[u8]) -> Term<'a> {
    do_create(env, s, image, None)
}

fn do_create_named<'a>(env: Env<'a>, s: &mut Slot, image: &[u8], name: &[u8]) -> Term<'a> {
    do_create(env, s, image, Some(name))
}

/// Each operation as a fast-path NIF and its dirty-I/O twin.
macro_rules! twin {
    ($fast:ident, $dirty:ident, $op:ident $(, $arg:ident)*) => {
        #[rustler::nif]
        fn $fast<'a>(env: Env<'a>, res: Term<'a> $(, $arg: Term<'a>)*) -> Term<'a> {
            $(let Ok($arg) = $arg.decode::<Binary<'a>>() else {
                return error(env, ErrorKind::InvalidRequest);
            };)*
            with_bridge(env, res, Lock::TryUnlessBlocking, dirty(env), |s| $op(env, s $(, &$arg)*))
        }

        #[rustler::nif(schedule = "DirtyIo")]
        fn $dirty<'a>(env: Env<'a>, res: Term<'a> $(, $arg: Term<'a>)*) -> Term<'a> {
            $(let Ok($arg) = $arg.decode::<Binary<'a>>() else {
                return error(env, ErrorKind::InvalidRequest);
            };)*
            with_bridge(env, res, Lock::Wait, dirty(env), |s| $op(env, s $(, &$arg)*))
        }
    };
}

twin!(nif_send_request, nif_send_request_dirty, do_send, request);
twin!(
    nif_create_container,
    nif_create_container_dirty,
    do_create_anon,
    image
);
twin!(
    nif_create_named_container,
    nif_create_named_container_dirty,
    do_create_named,
    image,
    name
);
twin!(nif_start_container, nif_start_container_dirty, do_start, id);
twin!(nif_stop_container, nif_stop_container_dirty, do_stop, id);
twin!(
    nif_inspect_container,
    nif_inspect_container_dirty,
    do_inspect,
    id
);
twin!(
    nif_delete_container,
    nif_delete_container_dirty,
    do_delete,
    id
);
twin!(nif_list_containers, nif_list_containers_dirty, do_list);

rustler::init!("Elixir.Vordr.Selur.Bridge");
