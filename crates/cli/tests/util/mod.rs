//! A small harness for driving the real `elixir-workers` binary in temporary
//! directories with the real elixirc and npx wrangler.
//!
//! Without the AtomVM runtime (CI has no AtomVM source) a test runtime is
//! assembled here: OTP's own stdlib beams and Elixir's ebin stand in for the
//! AtomVM stdlib, and a small WASI program of ours (fixtures/fake_atomvm.c,
//! compiled with clang for wasm32-wasi) stands in for atomvm.wasm. That
//! exercises compile, collection, pruning, packing, layout and bundling.

#![allow(dead_code)]

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_elixir-workers"))
}

/// Cargo's scratch directory for integration tests (under target/).
pub fn scratch() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
}

pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A fresh temporary directory under target/ (kept out of /tmp so a failed
/// test can be inspected; removed when the value drops).
pub fn tempdir() -> tempfile::TempDir {
    let root = scratch().join("e2e-work");
    std::fs::create_dir_all(&root).unwrap();
    tempfile::Builder::new()
        .prefix("t-")
        .tempdir_in(root)
        .unwrap()
}

/// The framework compile cache shared by every test.
pub fn cache_dir() -> PathBuf {
    scratch().join("e2e-cache")
}

fn capture(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("could not run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The test runtime directory, assembled once per test process.
pub fn test_runtime() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fake_atomvm.c");
        // Keyed by the fake's source, so an edited fake is rebuilt.
        let key = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            std::fs::read(&source).unwrap().hash(&mut h);
            h.finish()
        };
        let dir = scratch().join(format!("e2e-test-runtime-{key:016x}"));
        if dir.join("runtime.json").is_file() {
            return dir;
        }
        let staging = tempfile::Builder::new().prefix(".rt-").tempdir_in(scratch()).unwrap();
        let stdlib = staging.path().join("stdlib");
        std::fs::create_dir(&stdlib).unwrap();
        let otp_stdlib = capture(Command::new("erl").args([
            "-noshell",
            "-eval",
            "io:format(\"~s\", [code:lib_dir(stdlib, ebin)]), halt().",
        ]));
        let elixir_ebin = capture(Command::new("elixir").args(["-e", "IO.write(:code.lib_dir(:elixir, :ebin))"]));
        let mut n = 0;
        for dir in [otp_stdlib.trim(), elixir_ebin.trim()] {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_some_and(|e| e == "beam") {
                    std::fs::copy(&path, stdlib.join(path.file_name().unwrap())).unwrap();
                    n += 1;
                }
            }
        }
        assert!(n > 300, "expected OTP stdlib + Elixir beams, found {n}");
        let clang = std::env::var("CLANG").unwrap_or_else(|_| "clang-16".into());
        let status = Command::new(&clang)
            .args([
                "--target=wasm32-wasi",
                "-Os",
                "-mexec-model=reactor",
                "-Xlinker",
                "--import-memory=elixir_workers,memory",
                "-Wl,--export-memory",
                "-o",
            ])
            .arg(staging.path().join("atomvm.wasm"))
            .arg(&source)
            .status()
            .unwrap_or_else(|e| panic!("could not run {clang} (install clang-16, wasi-libc, libclang-rt-16-dev-wasm32 or set CLANG): {e}"));
        assert!(status.success(), "{clang} could not compile {}", source.display());
        std::fs::write(
            staging.path().join("runtime.json"),
            r#"{"test_runtime": true, "stdlib": "OTP stdlib + Elixir ebin", "atomvm": "fixtures/fake_atomvm.c"}"#,
        )
        .unwrap();
        match std::fs::rename(staging.keep(), &dir) {
            Ok(()) => {}
            Err(_) if dir.join("runtime.json").is_file() => {}
            Err(e) => panic!("could not create {}: {e}", dir.display()),
        }
        dir
    })
    .clone()
}

/// The real AtomVM runtime, found as the binary finds it
/// (`$ELIXIR_WORKERS_RUNTIME`, else the user cache under its id).
pub fn real_runtime() -> Option<PathBuf> {
    worker_tests::runtime_dir().filter(|dir| !is_test_runtime(dir))
}

fn is_test_runtime(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("runtime.json")).is_ok_and(|t| t.contains("\"test_runtime\""))
}

/// `elixir-workers ARGS` in `dir` with a given runtime and the shared cache.
pub fn ew(dir: &Path, runtime: &Path) -> Command {
    let mut cmd = Command::new(bin());
    cmd.current_dir(dir)
        .env("ELIXIR_WORKERS_RUNTIME", runtime)
        .env("ELIXIR_WORKERS_CACHE", cache_dir())
        .env("NO_COLOR", "1")
        .env("WRANGLER_SEND_METRICS", "false")
        // Compile servers started by tests go away soon after the tests.
        .env("ELIXIR_WORKERS_COMPILER_IDLE_SECS", "60")
        .env_remove("ELIXIRC");
    cmd
}

/// What a finished command printed.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(self) -> Run {
        assert_eq!(
            self.code,
            Some(0),
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

pub fn run(cmd: &mut Command) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("could not run {cmd:?}: {e}"));
    Run {
        code: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// `elixir-workers new NAME --no-install` in `parent`; returns the project dir.
pub fn new_project(parent: &Path, name: &str, runtime: &Path) -> PathBuf {
    run(ew(parent, runtime).args(["new", name, "--no-install"])).ok();
    parent.join(name)
}

/// node_modules with the wrangler version `new` pins, installed once under
/// target/ and shared (symlinked) by every test project.
pub fn shared_node_modules() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = scratch().join("e2e-node");
        std::fs::create_dir_all(&dir).unwrap();
        let tmp = tempdir();
        let project = new_project(tmp.path(), "node_deps", &test_runtime());
        let package = std::fs::read_to_string(project.join("package.json")).unwrap();
        let installed = std::fs::read_to_string(dir.join("package.json")).ok();
        if installed.as_deref() != Some(package.as_str())
            || !dir.join("node_modules/.bin/wrangler").exists()
        {
            std::fs::write(dir.join("package.json"), &package).unwrap();
            let out = Command::new("npm")
                .args(["install", "--no-audit", "--no-fund"])
                .current_dir(&dir)
                .output()
                .expect("npm is installed");
            assert!(
                out.status.success(),
                "npm install failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        dir.join("node_modules")
    })
    .clone()
}

pub fn link_node_modules(project: &Path) {
    std::os::unix::fs::symlink(shared_node_modules(), project.join("node_modules")).unwrap();
}

/// Serialises tests that start wrangler dev (ports, inspector).
pub fn dev_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A minimal HTTP/1.1 client: (status, body) or None when nothing answers.
pub fn http(port: u16, method: &str, path: &str, body: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .ok()?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    Some((status, body))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// Polls `f` until it returns Some or `timeout` passes.
pub fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if let Some(v) = f() {
            return Some(v);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    None
}

/// Sends SIGINT to a process (what Ctrl-C does).
pub fn interrupt(pid: u32) {
    let status = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// One GET of `path` through a built project's own worker (`handleRequest`
/// of `_build/worker/src/worker.js`, its `atomvm.wasm`, `app.avm` and the
/// budget `build` wrote) in Node: the status and the body.
pub fn request(project: &Path, path: &str) -> (u16, String) {
    requests(project, &[path]).remove(0)
}

/// [`request`] for several paths, on one Node process (one isolate).
pub fn requests(project: &Path, paths: &[&str]) -> Vec<(u16, String)> {
    requests_logged(project, paths)
        .into_iter()
        .map(|(status, body, _)| (status, body))
        .collect()
}

/// [`requests`] with what the worker logged for each request.
pub fn requests_logged(project: &Path, paths: &[&str]) -> Vec<(u16, String, Vec<String>)> {
    let worker = project.join("_build/worker");
    let script = format!(
        r#"import {{ readFileSync }} from "node:fs";
import {{ handleRequest }} from {src:?};
import {{ BUDGET as budget }} from {budget:?};
const wasmModule = await WebAssembly.compile(readFileSync({wasm:?}));
const avmBytes = new Uint8Array(readFileSync({avm:?}));
const out = [];
for (const path of {paths}) {{
  const logs = [];
  const keep = (...parts) => logs.push(parts.map(String).join(" "));
  const logger = {{ log: keep, info: keep, warn: keep, error: keep, debug: keep }};
  const res = await handleRequest(new Request("http://localhost" + path), {{}},
    {{ waitUntil() {{}} }}, {{ wasmModule, avmBytes, logger, budget }});
  out.push([res.status, await res.text(), logs]);
}}
process.stdout.write(JSON.stringify(out));
"#,
        src = format!("file://{}", worker.join("src/worker.js").display()),
        budget = format!("file://{}", worker.join("src/budget.js").display()),
        wasm = worker.join("atomvm.wasm").display().to_string(),
        avm = worker.join("app.avm").display().to_string(),
        paths = serde_json::to_string(paths).unwrap(),
    );
    let out = Command::new("node")
        .args(["--no-warnings", "--input-type=module", "-e", &script])
        .current_dir(project)
        .output()
        .expect("node is installed");
    assert!(
        out.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}
