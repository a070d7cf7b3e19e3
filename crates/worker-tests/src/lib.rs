//! Test support for the runtime side of elixir-workers: the Elixir framework
//! (`crates/pipeline/framework`) and the JavaScript worker (`crates/pipeline/worker`).
//!
//! This crate owns no product code. Its tests run the non-Rust suites so that
//! `cargo test --workspace` runs everything: ExUnit on the real BEAM,
//! `node --test` of the shim against a WASI program compiled from C, and the
//! end-to-end tests on the real AtomVM runtime (skipped loudly when no runtime
//! has been built). The helpers here compile Elixir with the real `elixirc`,
//! pack with the pipeline's own `pack_archive` (what `elixir-workers build`
//! runs), and locate tools and the runtime. It must never be a dependency of
//! a shipped crate.

pub mod wrangler;

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/worker-tests is two levels below the workspace root")
        .to_path_buf()
}

pub fn framework_dir() -> PathBuf {
    workspace_root().join("crates/pipeline/framework")
}

pub fn worker_dir() -> PathBuf {
    workspace_root().join("crates/pipeline/worker")
}

/// The runtime directory (holding `atomvm.wasm` and `stdlib/`), found the
/// way the toolchain finds it (`ew_runtime::Runtime::locate`:
/// `$ELIXIR_WORKERS_RUNTIME`, else the user cache under the binary's
/// runtime id). `None` when there is none.
pub fn runtime_dir() -> Option<PathBuf> {
    ew_runtime::Runtime::locate().ok().map(|rt| rt.dir)
}

/// Prints the skip notice for a test that needs the runtime; under `CI` it
/// fails the test instead (see [`skip`]).
pub fn skip_without_runtime(test: &str) {
    skip(
        test,
        "no AtomVM runtime; run `elixir-workers runtime build` (or `runtime install`), \
         or set ELIXIR_WORKERS_RUNTIME",
    );
}

/// The project's one rule for a test that cannot run here: it says so on
/// stderr and returns, except under `CI`, where every test must run and a
/// missing prerequisite fails the test.
pub fn skip(test: &str, why: &str) {
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("{test} cannot run: {why} (CI is set, so this fails instead of skipping)");
    }
    // Straight to stderr, not eprintln!: libtest hides what the print
    // macros write in a passing test, and a skip must be seen.
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "SKIPPED: {test} ({why})");
}

/// AtomVM's source for tests that build from it: `$ATOMVM_SRC` (a checkout
/// or an archive), else the pinned archive beside the workspace
/// (`../shared/third_party/`), else `None`.
pub fn atomvm_src() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("ATOMVM_SRC").filter(|v| !v.is_empty()) {
        // Tests run in their crate's directory: a relative path is taken
        // from the workspace root, where the test command is typed.
        return Some(workspace_root().join(dir));
    }
    let shared = workspace_root().join("../shared/third_party/AtomVM-aa7ac0f8.tar.gz");
    shared.is_file().then_some(shared)
}

/// A tool from `$VAR`, else its name on `PATH`.
pub fn tool(var: &str, default: &str) -> PathBuf {
    std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default))
}

/// Runs a command to completion, failing with its command line and output
/// when it cannot start or exits non-zero.
pub fn run(cmd: &mut Command) -> Result<Output> {
    let line = format!("{cmd:?}");
    let out = cmd
        .output()
        .with_context(|| format!("cannot start {line}"))?;
    if !out.status.success() {
        bail!(
            "{line} failed ({})\n--- stdout ---\n{}\n--- stderr ---\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(out)
}

/// Compiles Elixir sources (files or directories) with the real `elixirc`
/// into `out`.
pub fn elixirc(sources: &[PathBuf], out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut cmd = Command::new(tool("ELIXIRC", "elixirc"));
    cmd.current_dir(workspace_root())
        .arg("--ignore-module-conflict")
        .arg("-o")
        .arg(out)
        .args(sources);
    run(&mut cmd)?;
    Ok(())
}

/// Compiles the framework (`crates/pipeline/framework/lib`) into
/// `dir/framework` and the test app (`crates/pipeline/framework/test/support`)
/// into `dir/ebin`, and packs them into `dir/app.avm` with
/// `pipeline::pack::pack_archive`, the function `elixir-workers build`
/// packs with: the same candidates (Elixir's and OTP's stdlib from the
/// toolchain, the runtime's stdlib), consolidated protocols, shake, call
/// check and function cuts, so the tests and benches run what a user gets.
pub fn build_test_app(runtime: &Path, dir: &Path) -> Result<PathBuf> {
    let fw = dir.join("framework");
    elixirc(&[framework_dir().join("lib")], &fw)?;
    // Two compiles, as `build` has them: the framework apart from the app,
    // so each module is shaken and its calls checked under its own origin.
    let ebin = dir.join("ebin");
    let sources = framework_dir().join("test/support");
    std::fs::create_dir_all(&ebin).with_context(|| format!("cannot create {}", ebin.display()))?;
    run(Command::new(tool("ELIXIRC", "elixirc"))
        .current_dir(workspace_root())
        .arg("-pa")
        .arg(&fw)
        .arg("-o")
        .arg(&ebin)
        .arg(&sources))?;

    let toolchain = pipeline::toolchain::Toolchain::detect(&workspace_root())?;
    let runtime = ew_runtime::Runtime::open(runtime, ew_runtime::Origin::Env)?;
    let app = pipeline::pack::pack_archive(&pipeline::pack::PackRequest {
        root: dir,
        sources: &sources,
        app_ebin: &ebin,
        framework_ebin: Some(&fw),
        toolchain: &toolchain,
        runtime: &runtime,
        consolidated: &dir.join("consolidated"),
        reconsolidate: true,
        allow_unresolved: false,
        keep: Vec::new(),
        explain: false,
    })?;
    let avm_path = dir.join("app.avm");
    std::fs::write(&avm_path, &app.bytes)
        .with_context(|| format!("cannot write {}", avm_path.display()))?;
    Ok(avm_path)
}

/// What a built worker ships for the archive `avm` on `runtime`, made by the
/// build's own function (`pipeline::boot::worker_files`): `atomvm.wasm` with
/// its build id and `boot.bin`, written into `dir`. Returns their paths.
pub fn boot_test_app(runtime: &Path, avm: &Path, dir: &Path) -> Result<(PathBuf, PathBuf)> {
    let read = |p: &Path| std::fs::read(p).with_context(|| format!("cannot read {}", p.display()));
    let (wasm, image) =
        pipeline::boot::worker_files(&read(&runtime.join("atomvm.wasm"))?, &read(avm)?)?;
    let (wasm_path, image_path) = (dir.join("atomvm.wasm"), dir.join("boot.bin"));
    for (path, bytes) in [(&wasm_path, wasm), (&image_path, image)] {
        std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok((wasm_path, image_path))
}

/// Prints a child's output so that `cargo test -- --nocapture` shows it.
pub fn echo_output(out: &Output) {
    print!("{}", String::from_utf8_lossy(&out.stdout));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
}

/// A static file server on 127.0.0.1 for download tests: `GET /NAME` answers
/// the file `dir/NAME` (404 when there is none). It serves one connection at
/// a time and stops by itself after `lifetime`, or when the returned guard
/// is dropped.
pub fn serve_dir(dir: &Path, lifetime: std::time::Duration) -> FileServer {
    use std::io::{BufRead as _, BufReader, Write as _};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
    listener
        .set_nonblocking(true)
        .expect("a non-blocking listener");
    let port = listener.local_addr().expect("a local address").port();
    let stop = Arc::new(AtomicBool::new(false));
    let dir = dir.to_path_buf();
    let flag = Arc::clone(&stop);
    let thread = std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + lifetime;
        while !flag.load(Ordering::Relaxed) && std::time::Instant::now() < deadline {
            let Ok((stream, _)) = listener.accept() else {
                std::thread::sleep(std::time::Duration::from_millis(10));
                continue;
            };
            let _ = stream.set_nonblocking(false);
            let mut reader = BufReader::new(&stream);
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            // Skip the headers.
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let name = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or("/")
                .trim_start_matches('/')
                .to_string();
            let file = (!name.contains("..") && !name.is_empty())
                .then(|| std::fs::read(dir.join(&name)).ok())
                .flatten();
            let mut out = &stream;
            let _ = match file {
                Some(bytes) => out
                    .write_all(
                        format!(
                            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                            bytes.len()
                        )
                        .as_bytes(),
                    )
                    .and_then(|()| out.write_all(&bytes)),
                None => out.write_all(
                    b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                ),
            };
        }
    });
    FileServer {
        port,
        stop,
        thread: Some(thread),
    }
}

/// The running server of [`serve_dir`]; dropping it stops the server.
pub struct FileServer {
    pub port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FileServer {
    pub fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
