//! End to end on the real AtomVM runtime: the test app from
//! `priv/framework/test/support` compiled with the real elixirc, packed with
//! the runtime's stdlib, and served by the real `atomvm.wasm`
//!
//! * through the shim's request path in Node with fake KV/D1 bindings
//!   (`templates/worker/test/e2e.test.mjs`), and
//! * through a real `wrangler dev` with real HTTP requests.
//!
//! Without a runtime both print SKIPPED and return.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use worker_tests::{
    build_test_app, echo_output, run, runtime_dir, skip_without_runtime, tool, worker_dir,
    workspace_root,
};

#[test]
fn every_route_and_correctness_case_on_the_real_runtime() {
    let Some(runtime) = runtime_dir() else {
        skip_without_runtime("end-to-end tests of the shim and framework on atomvm.wasm");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let avm = build_test_app(&runtime, dir.path()).unwrap_or_else(|e| panic!("{e:#}"));
    if std::env::var_os("WORKER_TESTS_KEEP").is_some() {
        let kept = dir.keep();
        eprintln!("kept the test app: {}", kept.join("app.avm").display());
    }

    let wd = worker_dir();
    let mut cmd = Command::new(tool("NODE", "node"));
    cmd.current_dir(&wd)
        .arg("--test")
        .arg(wd.join("test/e2e.test.mjs"))
        .env("E2E_WASM", runtime.join("atomvm.wasm"))
        .env("E2E_AVM", &avm);
    let out = run(&mut cmd).unwrap_or_else(|e| panic!("end-to-end node tests failed:\n{e:#}"));
    echo_output(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("# fail 0"), "{text}");
    assert!(
        text.contains("# skipped 0"),
        "e2e tests were skipped:\n{text}"
    );
}

/// wrangler 4 installed once under target/ (npm), reused by later runs.
fn wrangler() -> PathBuf {
    let cache = workspace_root().join("target/wrangler-cache");
    let bin = cache.join("node_modules/.bin/wrangler");
    if !bin.exists() {
        std::fs::create_dir_all(&cache).unwrap();
        if !cache.join("package.json").exists() {
            std::fs::write(cache.join("package.json"), "{\"private\":true}\n").unwrap();
        }
        let mut cmd = Command::new(tool("NPM", "npm"));
        cmd.current_dir(&cache)
            .args(["install", "--no-audit", "--no-fund", "wrangler@4"]);
        run(&mut cmd).unwrap_or_else(|e| panic!("installing wrangler failed:\n{e:#}"));
    }
    bin
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Lays out a worker project the way the build does: wrangler.jsonc at the
/// root, the shim in _build/worker/src, the wasm and archive beside it.
fn lay_out_project(dir: &Path, runtime: &Path, avm: &Path, port: u16) {
    let src = dir.join("_build/worker/src");
    std::fs::create_dir_all(&src).unwrap();
    for entry in std::fs::read_dir(worker_dir().join("src")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, src.join(path.file_name().unwrap())).unwrap();
    }
    std::fs::copy(
        runtime.join("atomvm.wasm"),
        dir.join("_build/worker/atomvm.wasm"),
    )
    .unwrap();
    std::fs::copy(avm, dir.join("_build/worker/app.avm")).unwrap();
    let config = format!(
        r#"{{
  "name": "e2e-app",
  "main": "_build/worker/src/index.js",
  "compatibility_date": "2025-01-01",
  "dev": {{ "ip": "127.0.0.1", "port": {port} }},
  "rules": [
    {{ "type": "CompiledWasm", "globs": ["**/*.wasm"], "fallthrough": false }},
    {{ "type": "Data", "globs": ["**/*.avm"], "fallthrough": false }}
  ],
  "kv_namespaces": [{{ "binding": "CACHE", "id": "e2e-cache" }}],
  "vars": {{ "APP_NAME": "from-wrangler" }}
}}
"#
    );
    std::fs::write(dir.join("wrangler.jsonc"), config).unwrap();
}

/// Stops wrangler (and workerd under it) when the test ends, pass or fail.
struct Server {
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        // wrangler runs in its own process group: end the whole group.
        let pid = self.child.id() as i32;
        let _ = Command::new("kill")
            .args(["-s", "TERM", "--", &format!("-{pid}")])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{pid}")])
            .status();
        let _ = self.child.wait();
    }
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A plain HTTP/1.1 request over a TCP socket (Connection: close).
fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Reply> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    s.write_all(body)?;
    let mut reader = BufReader::new(s);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    // Read exactly the body: a server may keep the socket open regardless
    // of `Connection: close`.
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let length = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok());
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)
                .unwrap_or(0);
            if size == 0 {
                break;
            }
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..])?;
            line.clear();
            reader.read_line(&mut line)?;
        }
    } else if let Some(n) = length {
        body.resize(n, 0);
        reader.read_exact(&mut body)?;
    } else if method != "HEAD" {
        reader.read_to_end(&mut body)?;
    }
    Ok(Reply {
        status,
        headers,
        body,
    })
}

#[test]
fn real_wrangler_dev_serves_the_app() {
    let Some(runtime) = runtime_dir() else {
        skip_without_runtime("end-to-end test through wrangler dev");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let avm = build_test_app(&runtime, dir.path()).unwrap_or_else(|e| panic!("{e:#}"));
    let project = dir.path().join("project");
    let port = free_port();
    lay_out_project(&project, &runtime, &avm, port);

    let mut cmd = Command::new(wrangler());
    cmd.current_dir(&project)
        .args([
            "dev",
            "--ip",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--log-level",
            "log",
        ])
        .env("WRANGLER_SEND_METRICS", "false")
        .env("CI", "1")
        .env("XDG_CONFIG_HOME", dir.path().join("xdg"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn().expect("cannot start wrangler dev");
    let log = Arc::new(Mutex::new(String::new()));
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let log = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let mut l = log.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
    }
    let server = Server { child, log };

    // Wait until it answers (first start compiles the worker).
    let deadline = Instant::now() + Duration::from_secs(120);
    let health = loop {
        match http(port, "GET", "/health", &[], b"") {
            Ok(r) if r.status != 0 => break r,
            _ if Instant::now() > deadline => panic!(
                "wrangler dev did not answer in 120 s:\n{}",
                server.log.lock().unwrap()
            ),
            _ => std::thread::sleep(Duration::from_millis(300)),
        }
    };
    assert_eq!(health.status, 200, "{}", health.text());
    assert_eq!(health.text(), r#"{"status":"ok"}"#);
    assert_eq!(health.header("x-content-type-options"), Some("nosniff"));

    let page = http(port, "GET", "/page", &[], b"").unwrap();
    assert_eq!(page.status, 200);
    assert!(page.text().contains("item &lt;52&gt;"));

    let echo = http(
        port,
        "POST",
        "/echo",
        &[("content-type", "application/json")],
        br#"{"s":"\u2603\u00e9\ud83d\ude00","n":[1,2.5,null]}"#,
    )
    .unwrap();
    assert_eq!(echo.status, 200);
    let v: serde_json::Value = serde_json::from_slice(&echo.body).unwrap();
    assert_eq!(v, serde_json::json!({"s": "☃é😀", "n": [1, 2.5, null]}));

    let bad = http(
        port,
        "POST",
        "/echo",
        &[("content-type", "application/json")],
        b"{\"a\":",
    )
    .unwrap();
    assert_eq!(bad.status, 400);
    assert_eq!(bad.header("content-type"), Some("application/json"));

    let bytes: Vec<u8> = (0..=255u8).chain([0xff, 0xfe, b'\n', 0]).collect();
    let bin = http(
        port,
        "POST",
        "/binary",
        &[("content-type", "application/octet-stream")],
        &bytes,
    )
    .unwrap();
    assert_eq!(bin.body, bytes);

    let env = http(port, "GET", "/env/APP_NAME", &[], b"").unwrap();
    assert_eq!(env.text(), r#"{"value":"from-wrangler"}"#);

    // KV through miniflare's local KV: a miss, a write after the response, a hit.
    let miss = http(port, "GET", "/kv/e2e-key", &[], b"").unwrap();
    assert_eq!(miss.status, 200);
    let mv: serde_json::Value = serde_json::from_slice(&miss.body).unwrap();
    assert_eq!(
        mv,
        serde_json::json!({"key": "e2e-key", "value": null, "found": false})
    );
    let put = http(port, "POST", "/kv/e2e-key", &[], b"stored value").unwrap();
    assert_eq!(put.status, 202);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let hit = http(port, "GET", "/kv/e2e-key", &[], b"").unwrap();
        let hv: serde_json::Value = serde_json::from_slice(&hit.body).unwrap();
        if hv["found"] == serde_json::json!(true) {
            assert_eq!(hv["value"], "stored value");
            break;
        }
        assert!(Instant::now() < deadline, "the KV write never landed: {hv}");
        std::thread::sleep(Duration::from_millis(200));
    }

    let crash = http(port, "GET", "/crash", &[], b"").unwrap();
    assert_eq!(crash.status, 500);
    let cv: serde_json::Value = serde_json::from_slice(&crash.body).unwrap();
    assert_eq!(cv["error"], "internal_error");
    let id = cv["request_id"].as_str().expect("a request id").to_owned();
    assert!(!id.is_empty());
    // The Elixir error and its stack trace reach wrangler's console.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = server.log.lock().unwrap().clone();
        if log.contains("** (RuntimeError) boom from TestApp")
            && log.contains("TestApp.Router.crash/1")
            && log.contains(&id)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "crash report missing from wrangler output:\n{log}"
        );
        drop(log);
        std::thread::sleep(Duration::from_millis(200));
    }

    let big = vec![b'x'; 1024 * 1024 + 1];
    let too_big = http(port, "POST", "/echo", &[], &big).unwrap();
    assert_eq!(too_big.status, 413);

    drop(server);
}
