//! The guest's state machine, driven through the host with the in-memory
//! backend: every transition, every error status, the raw protocol, traps,
//! deadlines and the memory cap.

use std::time::{Duration, Instant};

use selur::protocol::{encode_request, HEADER_LEN};
use selur::{
    Bridge, Command, ContainerId, ContainerState, ErrorKind, Limits, MemoryBackend, Status,
};

fn bridge() -> Bridge {
    Bridge::bundled().expect("the bundled guest loads")
}

fn kind<T: std::fmt::Debug>(r: selur::Result<T>) -> ErrorKind {
    r.expect_err("expected an error").kind()
}

#[test]
fn full_lifecycle_with_every_transition() {
    let mut b = bridge();
    assert!(b.list().unwrap().is_empty());
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let id = b.create_container("busybox:latest").unwrap();
    assert_eq!(
        id.as_str().len(),
        16,
        "generated ids are 16 hex digits: {id}"
    );

    let info = b.inspect(&id).unwrap();
    assert_eq!(info.id, id);
    assert_eq!(info.image, "busybox:latest");
    assert_eq!(info.state, ContainerState::Created);
    assert!(info.created_at_ms >= before, "{info:?}");
    assert_eq!(info.started_at_ms, None);
    assert_eq!(info.restart_count, 0);
    assert_eq!(info.runtime["backend"], "memory");
    assert_eq!(info.runtime["status"], "created");

    // created -> running
    b.start(&id).unwrap();
    let info = b.inspect(&id).unwrap();
    assert_eq!(info.state, ContainerState::Running);
    assert!(info.started_at_ms.unwrap() >= info.created_at_ms);
    assert_eq!(info.runtime["status"], "running");

    // running -> stopped
    b.stop(&id).unwrap();
    let info = b.inspect(&id).unwrap();
    assert_eq!(info.state, ContainerState::Stopped);
    assert!(info.stopped_at_ms.is_some());

    // stopped -> running again counts a restart
    b.start(&id).unwrap();
    let info = b.inspect(&id).unwrap();
    assert_eq!(
        (info.state, info.restart_count),
        (ContainerState::Running, 1)
    );
    b.stop(&id).unwrap();

    // stopped -> deleted
    assert_eq!(b.list().unwrap(), vec![id.clone()]);
    b.delete(&id).unwrap();
    assert!(b.list().unwrap().is_empty());
    assert_eq!(kind(b.inspect(&id)), ErrorKind::ContainerNotFound);
}

#[test]
fn created_container_can_be_deleted() {
    let mut b = bridge();
    let id = b.create_container("alpine:3.19").unwrap();
    b.delete(&id).unwrap();
    assert!(b.list().unwrap().is_empty());
}

#[test]
fn wrong_state_operations_are_refused_with_a_clear_message() {
    let mut b = bridge();
    let id = b.create_container("nginx").unwrap();

    // stop of a created container
    let e = b.stop(&id).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidRequest);
    assert!(
        e.message().contains("cannot stop") && e.message().contains("created"),
        "{e}"
    );

    b.start(&id).unwrap();
    // start of a running container
    let e = b.start(&id).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidRequest);
    assert!(
        e.message().contains("cannot start") && e.message().contains("running"),
        "{e}"
    );
    // delete of a running container
    let e = b.delete(&id).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidRequest);
    assert!(
        e.message().contains("cannot delete") && e.message().contains("running"),
        "{e}"
    );
    // the refusals changed nothing
    assert_eq!(b.inspect(&id).unwrap().state, ContainerState::Running);

    b.stop(&id).unwrap();
    // stop of a stopped container
    let e = b.stop(&id).unwrap_err();
    assert!(e.message().contains("stopped"), "{e}");
    b.delete(&id).unwrap();
}

#[test]
fn every_error_status_is_reachable() {
    let mut b = bridge();
    let missing = ContainerId::from("0123456789abcdef");
    for r in [b.start(&missing), b.stop(&missing), b.delete(&missing)] {
        let e = r.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ContainerNotFound);
        assert!(e.message().contains("0123456789abcdef"), "{e}");
    }
    assert_eq!(kind(b.inspect(&missing)), ErrorKind::ContainerNotFound);

    // container_already_exists: a chosen name used twice
    let id = b.create_named_container("redis:7", "cache").unwrap();
    assert_eq!(id.as_str(), "cache");
    let e = b.create_named_container("redis:7", "cache").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ContainerAlreadyExists);
    assert!(e.message().contains("cache"), "{e}");

    // network_error: the backend cannot obtain the image
    let e = b.create_container("no-such-image:1").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NetworkError);
    assert!(e.message().contains("could not be obtained"), "{e}");
    assert_eq!(
        b.list().unwrap(),
        vec![id],
        "a failed create leaves nothing"
    );

    // invalid_request: bad arguments
    assert_eq!(kind(b.create_container("")), ErrorKind::InvalidRequest);
    assert_eq!(
        kind(b.create_container("has space")),
        ErrorKind::InvalidRequest
    );
    assert_eq!(
        kind(b.create_container(&"x".repeat(256))),
        ErrorKind::InvalidRequest
    );
    assert_eq!(
        kind(b.create_named_container("redis:7", "../etc")),
        ErrorKind::InvalidRequest
    );
    assert_eq!(
        kind(b.start(&ContainerId::from("a/b"))),
        ErrorKind::InvalidRequest
    );

    // internal_error: a backend failure travels with its message
    let mut b = Bridge::from_bytes_with(
        selur::GUEST_WASM,
        Box::new(FailingBackend),
        Limits::default(),
    )
    .unwrap();
    let e = b.create_container("busybox").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InternalError);
    assert!(e.message().contains("disk on fire"), "{e}");
}

/// A backend whose every effect fails.
struct FailingBackend;

impl selur::Backend for FailingBackend {
    fn create(&mut self, _: &str, _: &str) -> selur::Result<()> {
        Err(selur::Error::new(ErrorKind::Io, "disk on fire"))
    }
    fn start(&mut self, _: &str) -> selur::Result<()> {
        unreachable!()
    }
    fn stop(&mut self, _: &str) -> selur::Result<()> {
        unreachable!()
    }
    fn delete(&mut self, _: &str) -> selur::Result<()> {
        unreachable!()
    }
    fn inspect(&mut self, _: &str) -> selur::Result<serde_json::Value> {
        unreachable!()
    }
    fn reset(&mut self) {}
}

#[test]
fn ids_are_unique() {
    let mut b = bridge();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..500 {
        assert!(seen.insert(b.create_container("busybox").unwrap()));
    }
    assert_eq!(b.list().unwrap().len(), 500);
}

#[test]
fn raw_protocol_is_checked() {
    let mut b = bridge();
    // shorter than a header
    for short in [&[][..], &[1], &[6, 0, 0, 0]] {
        let (st, msg) = b.send_request(short).unwrap();
        assert_eq!(st, Status::InvalidRequest);
        assert!(String::from_utf8_lossy(&msg).contains("header"), "{msg:?}");
    }
    // declared length does not match
    let (st, msg) = b.send_request(&[6, 9, 0, 0, 0]).unwrap();
    assert_eq!(st, Status::InvalidRequest);
    assert!(String::from_utf8_lossy(&msg).contains("does not match"));
    let (st, _) = b.send_request(&[6, 0, 0, 0, 0, 7]).unwrap();
    assert_eq!(st, Status::InvalidRequest);
    // unknown command
    let (st, msg) = b.send_request(&encode_request(99, b"").unwrap()).unwrap();
    assert_eq!(
        (st, &msg[..]),
        (Status::InvalidRequest, &b"unknown command"[..])
    );
    // list takes no payload
    let (st, _) = b
        .send_request(&encode_request(Command::List as u8, b"x").unwrap())
        .unwrap();
    assert_eq!(st, Status::InvalidRequest);
    // echo returns the payload; the borrowing variant sees it in place
    let payload: Vec<u8> = (0..10_000u32).map(|i| (i * 7) as u8).collect();
    let req = encode_request(Command::Echo as u8, &payload).unwrap();
    let same = b
        .send_request_with(&req, |st, p| st == Status::Ok && p == &payload[..])
        .unwrap();
    assert!(same);
    assert!(b.echo_with(b"hi", |p| p == b"hi").unwrap());
}

#[test]
fn random_requests_never_break_the_bridge() {
    // A deterministic xorshift stream of frames, valid headers and not.
    let mut b = bridge();
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..2000 {
        let len = (next() % 64) as usize;
        let mut req: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if i % 2 == 0 && len >= HEADER_LEN {
            req[0] = (next() % 8) as u8;
            let n = (len - HEADER_LEN) as u32;
            req[1..5].copy_from_slice(&n.to_le_bytes());
        }
        let r = b.send_request(&req);
        assert!(r.is_ok(), "request {req:?} failed on the host side: {r:?}");
    }
    assert!(b.echo_with(b"still here", |p| p == b"still here").unwrap());
}

/// A guest with the selur exports whose send_request traps on command 1,
/// loops forever on command 2 and recurses without end on command 3.
const BAD_GUEST: &str = r#"
(module
  (memory (export "memory") 1)
  (global $resp i32 (i32.const 1024))
  (func (export "allocate") (param i32) (result i32) (i32.const 64))
  (func (export "deallocate") (param i32 i32))
  (func (export "response_ptr") (result i32) (global.get $resp))
  (func (export "response_len") (result i32) (i32.const 5))
  (func $deep (param i32) (result i32) (i32.add (call $deep (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))
  (func (export "send_request") (param $p i32) (param $n i32) (result i32)
    (if (i32.eq (i32.load8_u (local.get $p)) (i32.const 1)) (then unreachable))
    (if (i32.eq (i32.load8_u (local.get $p)) (i32.const 2)) (then (loop $l (br $l))))
    (if (i32.eq (i32.load8_u (local.get $p)) (i32.const 3)) (then (return (call $deep (i32.const 0)))))
    (i32.store8 (global.get $resp) (i32.const 0))
    (i32.store (i32.add (global.get $resp) (i32.const 1)) (i32.const 0))
    (i32.const 0)))
"#;

#[test]
fn trap_returns_an_error_and_the_next_call_works() {
    let wasm = wat::parse_str(BAD_GUEST).unwrap();
    let mut b = Bridge::from_bytes(&wasm).unwrap();
    let e = b
        .send_request(&encode_request(1, b"").unwrap())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Trap, "{e}");
    assert!(e.message().contains("unreachable"), "{e}");
    let (st, p) = b.send_request(&encode_request(6, b"").unwrap()).unwrap();
    assert_eq!((st, p.len()), (Status::Ok, 0));
}

#[test]
fn runaway_recursion_traps_within_a_small_thread_stack() {
    // A BEAM dirty scheduler thread has 320 KiB of stack; the guest's native
    // stack limit must trap before the thread's stack runs out.
    let wasm = wat::parse_str(BAD_GUEST).unwrap();
    let mut b = Bridge::from_bytes(&wasm).unwrap();
    let e = std::thread::Builder::new()
        .stack_size(320 << 10)
        .spawn(move || {
            let e = b
                .send_request(&encode_request(3, b"").unwrap())
                .unwrap_err();
            let (st, _) = b.send_request(&encode_request(6, b"").unwrap()).unwrap();
            assert_eq!(st, Status::Ok);
            e
        })
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(e.kind(), ErrorKind::Trap, "{e}");
    assert!(e.message().contains("stack"), "{e}");
}

#[test]
fn looping_guest_hits_the_deadline_and_the_next_call_works() {
    let wasm = wat::parse_str(BAD_GUEST).unwrap();
    let limits = Limits {
        call_timeout: Duration::from_millis(50),
        ..Limits::default()
    };
    let mut b = Bridge::from_bytes_with(&wasm, Box::new(MemoryBackend::default()), limits).unwrap();
    let t = Instant::now();
    let e = b
        .send_request(&encode_request(2, b"").unwrap())
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DeadlineExceeded, "{e}");
    // Generous: proves the loop was interrupted, not how fast.
    assert!(t.elapsed() < Duration::from_secs(30));
    let (st, _) = b.send_request(&encode_request(6, b"").unwrap()).unwrap();
    assert_eq!(st, Status::Ok);
}

/// A guest that answers every request with status 42 and a message. The
/// Elixir tests load the same guest from its compiled file.
const STATUS_42_GUEST: &str =
    include_str!("../../../integrations/vordr/test/fixtures/unknown_status.wat");

#[test]
fn unknown_status_is_its_own_error_kind_not_a_protocol_failure() {
    let wasm = wat::parse_str(STATUS_42_GUEST).unwrap();
    let mut b = Bridge::from_bytes(&wasm).unwrap();
    // The raw round trip hands the status over as it came.
    let (st, p) = b.send_request(&encode_request(6, b"").unwrap()).unwrap();
    assert_eq!((st, &p[..]), (Status::Unknown(42), &b"from the future"[..]));
    assert_eq!(st.code(), 42);
    // Every typed operation reports it with the byte and the message.
    let e = b.create_container("nginx").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unknown(42), "{e}");
    assert_eq!(e.kind().as_str(), "unknown_error");
    assert!(
        e.message().contains("status 42") && e.message().contains("from the future"),
        "{e}"
    );
    let id = ContainerId::from("0123456789abcdef");
    assert_eq!(kind(b.start(&id)), ErrorKind::Unknown(42));
    assert_eq!(kind(b.stop(&id)), ErrorKind::Unknown(42));
    assert_eq!(kind(b.inspect(&id)), ErrorKind::Unknown(42));
    assert_eq!(kind(b.delete(&id)), ErrorKind::Unknown(42));
    assert_eq!(kind(b.list()), ErrorKind::Unknown(42));
    assert_eq!(kind(b.echo_with(b"x", |_| ())), ErrorKind::Unknown(42));
}

#[test]
fn elixir_fixture_is_its_wat_compiled() {
    // Nothing binary is committed without its source: the .wasm the
    // Elixir tests load is exactly what the `wat` crate makes of the .wat.
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../integrations/vordr/test/fixtures/unknown_status.wasm");
    let built = wat::parse_str(STATUS_42_GUEST).unwrap();
    if std::env::var_os("FIXTURES").is_some_and(|v| v == "overwrite") {
        std::fs::write(&path, &built).unwrap();
    }
    let committed = std::fs::read(&path).unwrap_or_default();
    assert!(
        committed == built,
        "{} is not unknown_status.wat compiled ({} vs {} bytes); regenerate it with \
         `FIXTURES=overwrite cargo test -p selur --test guest`",
        path.display(),
        committed.len(),
        built.len()
    );
}

#[test]
fn oversized_backend_answer_is_an_internal_error_not_a_trap() {
    // The backend's inspect JSON is larger than the guest may grow to: the
    // guest asks again with the size the host reported, cannot reserve it
    // under the cap, and answers internal_error with its table intact.
    struct LyingInspect(MemoryBackend);
    impl selur::Backend for LyingInspect {
        fn create(&mut self, id: &str, image: &str) -> selur::Result<()> {
            self.0.create(id, image)
        }
        fn start(&mut self, id: &str) -> selur::Result<()> {
            self.0.start(id)
        }
        fn stop(&mut self, id: &str) -> selur::Result<()> {
            self.0.stop(id)
        }
        fn delete(&mut self, id: &str) -> selur::Result<()> {
            self.0.delete(id)
        }
        fn inspect(&mut self, _: &str) -> selur::Result<serde_json::Value> {
            Ok(serde_json::json!({"huge": "y".repeat(1 << 20)}))
        }
        fn reset(&mut self) {
            self.0.reset()
        }
    }
    let limits = Limits {
        memory_bytes: 512 << 10,
        ..Limits::default()
    };
    let mut b = Bridge::from_bytes_with(
        selur::GUEST_WASM,
        Box::new(LyingInspect(MemoryBackend::default())),
        limits,
    )
    .unwrap();
    let id = b.create_container("busybox").unwrap();
    let e = b.inspect_json(&id).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InternalError, "{e}");
    assert!(b.memory_size() <= 512 << 10);
    assert_eq!(b.list().unwrap(), vec![id]);
}

#[test]
fn memory_cap_is_enforced_and_the_bridge_stays_usable() {
    let cap = 1 << 20;
    let limits = Limits {
        memory_bytes: cap,
        ..Limits::default()
    };
    let mut b = Bridge::from_bytes_with(
        selur::GUEST_WASM,
        Box::new(MemoryBackend::default()),
        limits,
    )
    .unwrap();
    let id = b.create_container("busybox").unwrap();
    let big = vec![7u8; 2 << 20];
    let e = b.echo_with(&big, |_| ()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ResourceLimit, "{e}");
    assert!(
        b.memory_size() <= cap,
        "memory grew past the cap: {}",
        b.memory_size()
    );
    // A request that fits but whose echo does not: the guest answers
    // internal_error instead of growing past the cap.
    let half = vec![7u8; 400 << 10];
    let r = b.echo_with(&half, |p| p.len());
    assert!(r.is_err() || b.memory_size() <= cap);
    assert!(b.memory_size() <= cap);
    // Nothing was lost.
    assert_eq!(b.list().unwrap(), vec![id]);
    assert!(b.echo_with(b"small", |p| p == b"small").unwrap());
}

#[test]
fn memory_size_and_module_cache() {
    let a = bridge();
    let b = bridge();
    assert!(a.memory_size() >= 2 * 65536);
    assert_eq!(a.memory_size() % 65536, 0);
    assert_eq!(a.memory_size(), b.memory_size());
    let e = Bridge::from_bytes(b"not wasm").err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Module);
    // A missing file is its own kind (Elixir's :enoent); other read
    // failures stay Io.
    let e = Bridge::new("/nonexistent/selur.wasm").err().unwrap();
    assert_eq!(e.kind(), ErrorKind::FileNotFound);
    assert!(e.to_string().starts_with("enoent"), "{e}");
    assert!(e.to_string().contains("/nonexistent/selur.wasm"), "{e}");
    let dir = std::env::temp_dir();
    let e = Bridge::new(&dir).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Io, "{e}");
}
