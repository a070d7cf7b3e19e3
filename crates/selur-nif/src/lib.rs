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
//! side then calls. The in-memory backend stays on the fast path.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

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
        trap,
        deadline_exceeded,
        resource_limit,
        io_error,
        module_error,
    }
}

/// The resource behind a bridge reference.
pub struct BridgeResource {
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
        ErrorKind::Trap => atoms::trap(),
        ErrorKind::DeadlineExceeded => atoms::deadline_exceeded(),
        ErrorKind::ResourceLimit => atoms::resource_limit(),
        ErrorKind::Io => atoms::io_error(),
        ErrorKind::Module => atoms::module_error(),
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

/// Runs `f` with the bridge; catches panics; a freed bridge (or one whose
/// lock was poisoned by a panic) answers `{:error, :internal_error}`.
/// With `fast_path`, a blocking backend answers `:dirty` untouched.
fn with_bridge<'a>(
    env: Env<'a>,
    res: Term<'a>,
    fast_path: bool,
    f: impl FnOnce(&mut Slot) -> Term<'a>,
) -> Term<'a> {
    let r = catch_unwind(AssertUnwindSafe(|| {
        // Arguments arrive as terms and are checked here, so a wrong one is
        // {:error, :invalid_request} without any Elixir-side guard or rescue
        // on the hot path.
        let Ok(res) = res.decode::<ResourceArc<BridgeResource>>() else {
            return error(env, ErrorKind::InvalidRequest);
        };
        let mut guard = match res.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => {
                // A panic while the bridge was held: its state is unknown,
                // so it is dropped and the reference behaves as freed.
                let mut g = poisoned.into_inner();
                *g = None;
                return error(env, ErrorKind::InternalError);
            }
        };
        match guard.as_mut() {
            None => error(env, ErrorKind::InternalError),
            Some(s) if fast_path && s.bridge.is_blocking() => atoms::dirty().encode(env),
            Some(s) => f(s),
        }
    }));
    r.unwrap_or_else(|_| error(env, ErrorKind::InternalError))
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

#[rustler::nif(name = "memory_size")]
fn nif_memory_size<'a>(env: Env<'a>, res: Term<'a>) -> Term<'a> {
    // Reading the size never touches the backend: no dirty detour.
    with_bridge(env, res, false, |s| {
        ok_with(env, s.bridge.memory_size() as u64)
    })
}

/// The message of the bridge's last error, `""` when none.
#[rustler::nif(name = "last_error")]
fn nif_last_error<'a>(env: Env<'a>, res: Term<'a>) -> Term<'a> {
    with_bridge(env, res, false, |s| {
        ok_with(env, binary(env, s.last_error.as_bytes()))
    })
}

#[rustler::nif]
fn nif_blocking<'a>(env: Env<'a>, res: Term<'a>) -> Term<'a> {
    with_bridge(env, res, false, |s| ok_with(env, s.bridge.is_blocking()))
}

/// The diagnostics echo: the payload goes through guest memory and back.
#[rustler::nif(name = "echo")]
fn nif_echo<'a>(env: Env<'a>, res: Term<'a>, payload: Term<'a>) -> Term<'a> {
    let Ok(payload) = payload.decode::<Binary<'a>>() else {
        return error(env, ErrorKind::InvalidRequest);
    };
    with_bridge(env, res, false, |s| {
        match s.bridge.echo_with(&payload, |p| binary(env, p)) {
            Ok(t) => ok_with(env, t),
            Err(e) => s.fail(env, e),
        }
    })
}

fn do_send<'a>(env: Env<'a>, s: &mut Slot, request: &[u8]) -> Term<'a> {
    let last_error = &mut s.last_error;
    let r = s
        .bridge
        .send_request_with(request, |status, p| match status {
            selur::Status::Ok => ok_with(env, binary(env, p)),
            other => {
                *last_error = format!("{}: {}", other.as_str(), String::from_utf8_lossy(p));
                error(env, ErrorKind::from_status(other))
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
            with_bridge(env, res, true, |s| $op(env, s $(, &$arg)*))
        }

        #[rustler::nif(schedule = "DirtyIo")]
        fn $dirty<'a>(env: Env<'a>, res: Term<'a> $(, $arg: Term<'a>)*) -> Term<'a> {
            $(let Ok($arg) = $arg.decode::<Binary<'a>>() else {
                return error(env, ErrorKind::InvalidRequest);
            };)*
            with_bridge(env, res, false, |s| $op(env, s $(, &$arg)*))
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
