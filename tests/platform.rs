//! The Workers platform from Elixir, end to end under a real `wrangler dev`:
//! the test app (`crates/pipeline/framework/test/support`) on the real
//! runtime, with a local KV namespace, R2 bucket, queue (producer and
//! consumer in the same worker), a cron trigger driven through
//! `--test-scheduled`, typed vars and a secret from `.dev.vars`, and an
//! HTTP server of the test's own on 127.0.0.1 for outbound fetches.
//!
//! One wrangler serves every section (each start costs tens of seconds on
//! a small machine); each section says what it proves.

use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use test_support::wrangler::{Server, TestProject};
use test_support::{free_port, require_runtime, Reply};

/// The most outbound fetches one request may make in this project
/// (`"budget": {"subrequests": 5}`).
const SUBREQUESTS: u32 = 5;

#[test]
fn the_workers_platform_under_wrangler_dev() {
    let Some(runtime) = require_runtime("the Workers platform under wrangler dev") else {
        return;
    };
    let budget = pipeline::project::Budget {
        subrequests: Some(SUBREQUESTS),
        ..Default::default()
    };
    let project = TestProject::build(
        &runtime,
        &budget,
        r#"  "name": "e2e-platform",
  "kv_namespaces": [{ "binding": "CACHE", "id": "e2e-cache" }],
  "r2_buckets": [{ "binding": "BUCKET", "bucket_name": "e2e-bucket" }],
  "queues": {
    "producers": [{ "binding": "JOBS", "queue": "e2e-jobs" }],
    "consumers": [{ "queue": "e2e-jobs", "max_batch_size": 10, "max_batch_timeout": 1, "max_retries": 3 }]
  },
  "triggers": { "crons": ["*/5 * * * *"] },
  "vars": {
    "APP_NAME": "from-wrangler",
    "COUNT": 42,
    "RATIO": 1.5,
    "ENABLED": true,
    "LIMITS": { "max": 3, "tags": ["a", "b"] }
  }"#,
    );
    // What `wrangler dev` reads secrets from.
    std::fs::write(project.path.join(".dev.vars"), "API_TOKEN=s3cret-value\n").unwrap();

    let upstream = Upstream::start(Duration::from_secs(600));
    let server = project.serve(&["--test-scheduled"]);

    outbound_fetch(&server, &upstream);
    env_and_secrets(&server);
    cron_trigger(&server);
    r2_bucket(&server);
    one_round_of_reads(&server, &upstream);
    queues(&server);
}

fn json_of(reply: &Reply) -> Value {
    serde_json::from_slice(&reply.body)
        .unwrap_or_else(|e| panic!("not JSON ({e}), status {}: {}", reply.status, reply.text()))
}

fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Bytes no text encoding would keep: every value, NULs and newlines.
fn awkward_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if i % 97 == 0 {
                b'\n'
            } else {
                (x >> 24) as u8
            }
        })
        .collect()
}

/// A GET with no headers or body.
fn get(server: &Server, path: &str) -> Reply {
    server.request("GET", path, &[], b"")
}

/// Outbound HTTP: binary-safe both ways, status and headers, several
/// fetches of one round in flight together, the per-fetch timeout, the
/// subrequest limit and a refused connection as errors the route handles.
fn outbound_fetch(server: &Server, up: &Upstream) {
    let r = get(server, &format!("/fetch?url={}", encode(&up.url("/bytes"))));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.body,
        (0..=255u8).collect::<Vec<_>>(),
        "the upstream body, byte for byte"
    );
    assert_eq!(r.header("x-upstream-status"), Some("200"));
    assert_eq!(r.header("x-upstream-type"), Some("application/x-all-bytes"));
    assert_eq!(
        r.header("x-upstream-cookies"),
        Some("2"),
        "two set-cookie headers, not one joined"
    );
    assert_eq!(r.header("x-pass"), Some("2"), "one fetch: one extra pass");

    let sent = awkward_bytes(200_000, 7);
    let r = server.request(
        "POST",
        &format!("/fetch?url={}", encode(&up.url("/echo"))),
        &[],
        &sent,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.body == sent,
        "a 200 KB binary body went out and came back unchanged"
    );
    let seen = up.last("/echo").expect("the upstream saw the POST");
    assert_eq!(seen.method, "POST");
    assert_eq!(
        seen.headers.get("x-from").map(String::as_str),
        Some("elixir-workers")
    );

    // Four fetches of one round, held by the upstream until all four have
    // arrived: they answer "together" only if the worker made them at once.
    let r = get(
        server,
        &format!("/fetch_many?n=4&url={}", encode(&up.url("/barrier/4"))),
    );
    let v = json_of(&r);
    assert_eq!(v["pass"], 2, "{v}");
    for result in v["results"].as_array().unwrap() {
        assert_eq!(
            result["body"], "together",
            "the fetches of one pass were not in flight together: {v}"
        );
    }

    let started = Instant::now();
    let r = get(
        server,
        &format!("/fetch?timeout_ms=300&url={}", encode(&up.url("/slow"))),
    );
    assert_eq!(r.status, 502, "{}", r.text());
    let v = json_of(&r);
    assert_eq!(v["error"]["reason"], "timeout", "{v}");
    assert!(
        v["error"]["error"]
            .as_str()
            .is_some_and(|m| m.contains("no complete answer within 300 ms")),
        "{v}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the timeout did not wait for the slow upstream"
    );

    let before = up.hits("/name");
    let n = SUBREQUESTS + 1;
    let r = get(
        server,
        &format!("/fetch_many?n={n}&url={}", encode(&up.url("/name"))),
    );
    let v = json_of(&r);
    let results = v["results"].as_array().unwrap_or_else(|| panic!("{v}"));
    assert_eq!(results.len(), n as usize);
    for ok in &results[..SUBREQUESTS as usize] {
        assert_eq!(ok["status"], 200, "{v}");
    }
    let over = &results[SUBREQUESTS as usize];
    assert_eq!(over["reason"], "subrequest_limit", "{v}");
    assert!(
        over["error"]
            .as_str()
            .unwrap()
            .contains(r#""budget": {"subrequests": N}"#),
        "{v}"
    );
    assert_eq!(
        up.hits("/name") - before,
        SUBREQUESTS as usize,
        "the fetch past the limit was not made"
    );

    let closed = free_port();
    let r = get(
        server,
        &format!(
            "/fetch?url={}",
            encode(&format!("http://127.0.0.1:{closed}/"))
        ),
    );
    assert_eq!(r.status, 502, "{}", r.text());
    assert_eq!(json_of(&r)["error"]["reason"], "network", "{}", r.text());
}

/// Vars keep their JSON types; a secret from .dev.vars is there too.
fn env_and_secrets(server: &Server) {
    for (name, value) in [
        ("APP_NAME", json!("from-wrangler")),
        ("COUNT", json!(42)),
        ("RATIO", json!(1.5)),
        ("ENABLED", json!(true)),
        ("LIMITS", json!({"max": 3, "tags": ["a", "b"]})),
        ("API_TOKEN", json!("s3cret-value")),
        ("CACHE", Value::Null),
    ] {
        let r = get(server, &format!("/env/{name}"));
        assert_eq!(json_of(&r), json!({ "value": value }), "env {name}");
    }
}

fn kv(server: &Server, key: &str) -> Value {
    let v = json_of(&get(server, &format!("/kv/{key}")));
    v["value"].clone()
}

/// A cron trigger runs the app's scheduled handler: it reads KV (one extra
/// pass) and its write has landed when the trigger returns.
fn cron_trigger(server: &Server) {
    let mut previous = Value::Null;
    for _ in 0..2 {
        let r = get(server, "/__scheduled?cron=*/5+*+*+*+*");
        assert_eq!(r.status, 200, "{}\n{}", r.text(), server.log());
        let stored = kv(server, "cron-last");
        let record: Value =
            serde_json::from_str(stored.as_str().expect("the cron handler's record"))
                .unwrap_or_else(|e| panic!("{e}: {stored}"));
        assert_eq!(record["cron"], "*/5 * * * *", "{record}");
        assert!(
            record["scheduled_time"].as_u64().unwrap() > 1_600_000_000_000,
            "{record}"
        );
        assert_eq!(record["pass"], 2, "{record}");
        assert_eq!(
            record["previous"], previous,
            "the handler read the last run's record"
        );
        previous = stored;
    }
}

/// Waits for an effect (written after the response) to become visible.
fn eventually(what: &str, secs: u64, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check() {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen in {secs} s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// R2: an object of the largest body the worker takes round-trips byte for
/// byte with its metadata; ranges, head, list with prefix and cursor, delete.
fn r2_bucket(server: &Server) {
    let big = awkward_bytes(1024 * 1024, 11);
    let put = server.request(
        "PUT",
        "/r2/big.bin",
        &[("content-type", "application/x-test")],
        &big,
    );
    assert_eq!(put.status, 202, "{}", put.text());
    let mut got = None;
    eventually("the R2 put", 15, || {
        let r = get(server, "/r2/big.bin");
        let found = r.status == 200;
        got = Some(r);
        found
    });
    let got = got.unwrap();
    assert_eq!(got.body.len(), big.len());
    assert!(got.body == big, "1 MiB came back byte for byte");
    assert_eq!(got.header("content-type"), Some("application/x-test"));
    assert_eq!(got.header("x-size"), Some("1048576"));
    assert_eq!(got.header("x-meta"), Some(r#"{"by":"test-app"}"#));

    let part = get(server, "/r2/big.bin?offset=1000&length=64");
    assert_eq!(part.body, &big[1000..1064]);
    assert_eq!(part.header("x-size"), Some("1048576"));
    let tail = get(server, "/r2/big.bin?suffix=10");
    assert_eq!(tail.body, &big[big.len() - 10..]);

    let head = json_of(&get(server, "/r2_head/big.bin"));
    assert_eq!(head["size"], 1048576, "{head}");
    assert_eq!(
        head["http_metadata"]["content_type"], "application/x-test",
        "{head}"
    );
    assert!(
        head["etag"].as_str().is_some_and(|e| !e.is_empty()),
        "{head}"
    );
    assert!(head.get("body").is_none(), "{head}");

    for key in ["list/a", "list/b", "list/c"] {
        assert_eq!(
            server
                .request("PUT", &format!("/r2/{}", encode(key)), &[], key.as_bytes())
                .status,
            202
        );
    }
    let mut keys = Vec::new();
    eventually("the three R2 puts", 15, || {
        keys.clear();
        let mut cursor = String::new();
        loop {
            let path = format!("/r2_list?prefix=list/&limit=2{cursor}");
            let page = json_of(&get(server, &path));
            keys.extend(
                page["objects"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|o| o["key"].as_str().unwrap().to_owned()),
            );
            match page["cursor"].as_str() {
                Some(c) if page["truncated"] == true => cursor = format!("&cursor={}", encode(c)),
                _ => break,
            }
        }
        keys.len() == 3
    });
    assert_eq!(keys, ["list/a", "list/b", "list/c"], "two pages, by cursor");

    assert_eq!(
        server.request("DELETE", "/r2/big.bin", &[], b"").status,
        202
    );
    eventually("the R2 delete", 15, || {
        get(server, "/r2/big.bin").status == 404
    });
}

/// KV, R2 and a fetch read in one round cost one extra pass together; a
/// read that needs another's answer costs one more.
fn one_round_of_reads(server: &Server, up: &Upstream) {
    assert_eq!(
        server.request("POST", "/kv/round", &[], b"from kv").status,
        202
    );
    assert_eq!(
        server.request("PUT", "/r2/round", &[], b"from r2").status,
        202
    );
    eventually("the KV and R2 writes", 15, || {
        kv(server, "round") == json!("from kv") && get(server, "/r2/round").status == 200
    });
    let v = json_of(&get(
        server,
        &format!("/round/round?url={}", encode(&up.url("/bytes"))),
    ));
    assert_eq!(
        v,
        json!({"pass": 2, "kv": "from kv", "r2_size": 7, "fetch_status": 200})
    );
    let v = json_of(&get(
        server,
        &format!("/chain/round?url={}", encode(&up.url("/name"))),
    ));
    assert_eq!(v, json!({"pass": 3, "key": "round", "r2_size": 7}));
    eprintln!("passes measured under wrangler dev: KV + R2 + fetch in one round = 2 passes; fetch then R2 = 3");
}

/// A route sends (one message, a batch, JSON, text and bytes); the app's
/// consumer in the same worker gets them, acks, and retries one message
/// once, which comes back with its attempt count raised.
fn queues(server: &Server) {
    let json_ct = [("content-type", "application/json")];
    type Header<'a> = (&'a str, &'a str);
    let sends: [(&str, &[Header<'_>], &[u8]); 4] = [
        ("/queue/send", &json_ct, br#"{"id":"q1"}"#),
        ("/queue/send", &json_ct, br#"{"id":"q2","retry_once":true}"#),
        ("/queue/batch", &json_ct, br#"[{"id":"q3"},"hello text"]"#),
        ("/queue/send?bytes=1", &[], &[0, 1, 254, 255]),
    ];
    for (path, headers, body) in sends {
        assert_eq!(
            server.request("POST", path, headers, body).status,
            202,
            "POST {path}"
        );
    }

    let record = |key: &str| -> Option<Value> {
        kv(server, key)
            .as_str()
            .map(|s| serde_json::from_str(s).unwrap_or(Value::String(s.to_owned())))
    };
    eventually("the consumer's writes", 60, || {
        [
            "queue-q1",
            "queue-q2",
            "queue-q3",
            "queue-text",
            "queue-bytes",
        ]
        .iter()
        .all(|k| record(k).is_some())
    });
    assert_eq!(
        record("queue-q1").unwrap(),
        json!({"attempts": 1, "body": {"id": "q1"}, "queue": "e2e-jobs"})
    );
    assert_eq!(
        record("queue-q2").unwrap(),
        json!({"attempts": 2, "body": {"id": "q2", "retry_once": true}, "queue": "e2e-jobs"}),
        "retried once, delivered again"
    );
    assert_eq!(record("queue-q3").unwrap()["attempts"], 1);
    assert_eq!(record("queue-text").unwrap(), json!("hello text"));
    assert_eq!(record("queue-bytes").unwrap(), json!("0001feff"));
}

// ---------------------------------------------------------------------------
// The upstream: an HTTP/1.1 server on 127.0.0.1, a thread per connection
// ---------------------------------------------------------------------------

struct Seen {
    method: String,
    path: String,
    headers: HashMap<String, String>,
}

#[derive(Default)]
struct State {
    seen: Vec<Seen>,
    barrier: HashMap<String, usize>,
}

/// Answers `/bytes` (every byte value, two cookies), `/echo` (the request
/// body), `/slow` (after 3 s), `/name?key=K` (K) and `/barrier/N` ("together"
/// once N requests to it are in flight at once, "alone" after 10 s without).
/// It stops when dropped, or by itself after its lifetime.
struct Upstream {
    port: u16,
    state: Arc<(Mutex<State>, Condvar)>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Upstream {
    fn start(lifetime: Duration) -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new((Mutex::new(State::default()), Condvar::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, flag) = (Arc::clone(&state), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + lifetime;
            while !flag.load(Ordering::Relaxed) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let st = Arc::clone(&st);
                        std::thread::spawn(move || {
                            let _ = serve(stream, &st);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Upstream {
            port,
            state,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn hits(&self, path: &str) -> usize {
        self.state
            .0
            .lock()
            .unwrap()
            .seen
            .iter()
            .filter(|s| s.path == path)
            .count()
    }

    fn last(&self, path: &str) -> Option<Seen> {
        let state = self.state.0.lock().unwrap();
        state
            .seen
            .iter()
            .rev()
            .find(|s| s.path == path)
            .map(|s| Seen {
                method: s.method.clone(),
                path: s.path.clone(),
                headers: s.headers.clone(),
            })
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(stream: TcpStream, state: &(Mutex<State>, Condvar)) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let target = parts.next().unwrap_or("/").to_owned();
    let headers: HashMap<String, String> = test_support::read_headers(&mut reader)?
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let path = path.to_owned();
    state.0.lock().unwrap().seen.push(Seen {
        method,
        path: path.clone(),
        headers,
    });

    let mut extra = String::new();
    let answer: Vec<u8> = if path == "/bytes" {
        extra.push_str(
            "content-type: application/x-all-bytes\r\nset-cookie: a=1\r\nset-cookie: b=2\r\n",
        );
        (0..=255u8).collect()
    } else if path == "/echo" {
        body
    } else if path == "/slow" {
        std::thread::sleep(Duration::from_secs(3));
        b"late".to_vec()
    } else if path == "/name" {
        query.strip_prefix("key=").unwrap_or("").as_bytes().to_vec()
    } else if let Some(n) = path
        .strip_prefix("/barrier/")
        .and_then(|n| n.parse::<usize>().ok())
    {
        let (lock, arrived) = state;
        let mut st = lock.lock().unwrap();
        *st.barrier.entry(path.clone()).or_default() += 1;
        arrived.notify_all();
        let (st, timeout) = arrived
            .wait_timeout_while(st, Duration::from_secs(10), |st| st.barrier[&path] < n)
            .unwrap();
        drop(st);
        if timeout.timed_out() {
            b"alone".to_vec()
        } else {
            b"together".to_vec()
        }
    } else {
        b"".to_vec()
    };
    let mut out = &stream;
    out.write_all(
        format!(
            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n{extra}\r\n",
            answer.len()
        )
        .as_bytes(),
    )?;
    out.write_all(&answer)
}
