//! Driving the real `elixir-workers` binary in temporary projects: the
//! binary, the `ew` command builder, `new`, node_modules shared by every
//! test project, requests through a built project's worker in Node, and a
//! stand-in runtime for tests of the toolchain that need no real VM.
//!
//! The stand-in: OTP's own stdlib beams and Elixir's ebin play AtomVM's
//! stdlib, and a small WASI program (`fixtures/fake_atomvm.c`, compiled
//! with clang for wasm32-wasi) plays `atomvm.wasm`. That exercises compile,
//! collection, pruning, packing, layout and bundling where no runtime has
//! been built.

use crate::process::{run, tool};
use crate::{profile_dir, scratch, tempdir};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// The `elixir-workers` binary: `$ELIXIR_WORKERS_BIN`, else the one cargo
/// built beside the running test (`<target>/debug/elixir-workers`, which
/// `cargo test --workspace` builds for the CLI's own integration tests).
pub fn bin() -> PathBuf {
    if let Some(path) = std::env::var_os("ELIXIR_WORKERS_BIN").filter(|v| !v.is_empty()) {
        return PathBuf::from(path);
    }
    let path = profile_dir().join(format!("elixir-workers{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build -p elixir-workers` (or the whole \
         `cargo test --workspace`), or set ELIXIR_WORKERS_BIN",
        path.display()
    );
    path
}

/// The framework compile cache shared by every test.
pub fn cache_dir() -> PathBuf {
    scratch().join("e2e-cache")
}

/// The stand-in runtime directory, assembled once per test process (and
/// kept under the target directory, keyed by the fake's source).
pub fn test_runtime() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let source =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/fake_atomvm.c");
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
        let staging = tempfile::Builder::new()
            .prefix(".rt-")
            .tempdir_in(scratch())
            .unwrap();
        let stdlib = staging.path().join("stdlib");
        std::fs::create_dir(&stdlib).unwrap();
        let otp_stdlib = run(Command::new(tool("ERL", "erl")).args([
            "-noshell",
            "-eval",
            "io:format(\"~s\", [code:lib_dir(stdlib, ebin)]), halt().",
        ]))
        .ok()
        .stdout;
        let elixir_ebin = run(Command::new(tool("ELIXIR", "elixir"))
            .args(["-e", "IO.write(:code.lib_dir(:elixir, :ebin))"]))
        .ok()
        .stdout;
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
        // clang-16 with wasi-libc and libclang-rt-16-dev-wasm32 (or $CLANG).
        run(Command::new(tool("CLANG", "clang-16"))
            .args([
                "--target=wasm32-wasi",
                "-Os",
                "-mexec-model=reactor",
                "-Xlinker",
                "--import-memory=elixir_workers,memory",
                "-Wl,--export-memory",
                "-Wl,--export=__stack_pointer",
                "-o",
            ])
            .arg(staging.path().join("atomvm.wasm"))
            .arg(&source))
        .ok();
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

/// `elixir-workers` in `dir` with a given runtime and the shared cache.
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

/// `elixir-workers new NAME --no-install` in `parent`; returns the project dir.
pub fn new_project(parent: &Path, name: &str, runtime: &Path) -> PathBuf {
    run(ew(parent, runtime).args(["new", name, "--no-install"])).ok();
    parent.join(name)
}

/// node_modules with the wrangler version `new` pins, installed once under
/// the target directory and shared (symlinked) by every test project.
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
            run(Command::new(tool("NPM", "npm"))
                .args(["install", "--no-audit", "--no-fund"])
                .current_dir(&dir))
            .ok();
        }
        dir.join("node_modules")
    })
    .clone()
}

/// Links the shared node_modules into `project`.
pub fn link_node_modules(project: &Path) {
    std::os::unix::fs::symlink(shared_node_modules(), project.join("node_modules")).unwrap();
}

/// Serialises tests that start wrangler dev (ports, inspector).
pub fn dev_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Sends SIGINT to a process (what Ctrl-C does).
pub fn interrupt(pid: u32) {
    run(Command::new("kill").args(["-INT", &pid.to_string()])).ok();
}

/// One GET of `path` through a built project's own worker (`handleRequest`
/// of `_build/worker/src/worker.js`, its `atomvm.wasm`, `boot.bin` and the
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
const bootImage = new Uint8Array(readFileSync({image:?}));
const out = [];
for (const path of {paths}) {{
  const logs = [];
  const keep = (...parts) => logs.push(parts.map(String).join(" "));
  const logger = {{ log: keep, info: keep, warn: keep, error: keep, debug: keep }};
  const res = await handleRequest(new Request("http://localhost" + path), {{}},
    {{ waitUntil() {{}} }}, {{ wasmModule, bootImage, logger, budget }});
  out.push([res.status, await res.text(), logs]);
}}
process.stdout.write(JSON.stringify(out));
"#,
        src = format!("file://{}", worker.join("src/worker.js").display()),
        budget = format!("file://{}", worker.join("src/budget.js").display()),
        wasm = worker.join("atomvm.wasm").display().to_string(),
        image = worker.join("boot.bin").display().to_string(),
        paths = serde_json::to_string(paths).unwrap(),
    );
    let out = run(Command::new(tool("NODE", "node"))
        .args(["--no-warnings", "--input-type=module", "-e", &script])
        .current_dir(project))
    .ok();
    serde_json::from_str(&out.stdout).unwrap()
}
