//! End-to-end tests of the AtomVM WASI runtime built by `cargo xtask runtime`:
//! small Erlang and Elixir applications from `crates/runtime/atomvm-wasi/test/apps/`
//! are compiled with the real erlc/elixirc, packed with the `avm` crate and
//! run on the real `atomvm.wasm` under Node's WASI by
//! `crates/runtime/atomvm-wasi/test/run.mjs`, the way the worker shim runs them.
//!
//! Skipped, loudly, when no runtime has been built (it is not committed).

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use test_support::{
    assert_contains, require_runtime as runtime, tool, workspace_root as workspace,
};

fn apps_dir() -> PathBuf {
    workspace().join("crates/runtime/atomvm-wasi/test/apps")
}

fn run_tool(cmd: &mut Command) -> test_support::Run {
    test_support::run(cmd).ok()
}

/// Compiles `source` (an .erl or .ex file of the test apps) into `out`.
fn compile(source: &str, out: &Path) {
    let path = apps_dir().join(source);
    // Compilers run in `out`, which holds no AtomVM beams that could shadow
    // OTP's own modules on the compiler's code path.
    if source.ends_with(".ex") {
        run_tool(
            Command::new(tool("ELIXIRC", "elixirc"))
                .current_dir(out)
                .arg("-o")
                .arg(out)
                .arg(&path),
        );
    } else {
        run_tool(
            Command::new(tool("ERLC", "erlc"))
                .current_dir(out)
                .arg("-o")
                .arg(out)
                .arg(&path),
        );
    }
}

/// Packs `start_beam` (first, start flag) with every beam of `stdlib`, if given.
fn pack(start_beam: &Path, stdlib: Option<&Path>) -> Vec<u8> {
    let mut inputs = vec![avm::PackInput {
        path: start_beam.to_path_buf(),
        bytes: fs::read(start_beam).expect("reading the start beam"),
        start: true,
    }];
    if let Some(dir) = stdlib {
        for entry in fs::read_dir(dir).expect("listing the stdlib") {
            let path = entry.expect("stdlib entry").path();
            if path.extension().and_then(|e| e.to_str()) == Some("beam") {
                inputs.push(avm::PackInput {
                    bytes: fs::read(&path).expect("reading a stdlib beam"),
                    path,
                    start: false,
                });
            }
        }
    }
    avm::pack(&inputs, &avm::PackOptions::default())
        .expect("packing the test app")
        .bytes
}

struct Run {
    exit_code: Option<i64>,
    trap: Option<String>,
    response: Option<Vec<u8>>,
    stdout: String,
    stderr: String,
}

/// Runs `avm` on the runtime with `stdin` through the Node runner.
fn run(runtime: &Path, avm: &[u8], stdin: &[u8]) -> Run {
    let tmp = tempfile::tempdir().expect("temp dir");
    let avm_path = tmp.path().join("app.avm");
    let stdin_path = tmp.path().join("stdin");
    let out_dir = tmp.path().join("out");
    fs::write(&avm_path, avm).expect("writing app.avm");
    fs::write(&stdin_path, stdin).expect("writing stdin");
    let runner = workspace().join("crates/runtime/atomvm-wasi/test/run.mjs");
    let out = run_tool(
        Command::new(tool("NODE", "node"))
            .arg("--no-warnings")
            .arg(&runner)
            .arg(runtime.join("atomvm.wasm"))
            .arg(&avm_path)
            .arg("--stdin")
            .arg(&stdin_path)
            .arg("--out-dir")
            .arg(&out_dir),
    );
    let summary: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("runner printed no JSON ({e}): {}", out.stdout));
    let read = |name: &str| fs::read(out_dir.join(name));
    Run {
        exit_code: summary["exit_code"].as_i64(),
        trap: summary["trap"].as_str().map(str::to_string),
        response: read("response").ok(),
        stdout: String::from_utf8(read("stdout").expect("stdout file")).expect("utf-8 stdout"),
        stderr: String::from_utf8_lossy(&read("stderr").expect("stderr file")).into_owned(),
    }
}

fn erlang_app(module: &str, with_stdlib: Option<&Path>) -> Vec<u8> {
    let build = tempfile::tempdir().expect("temp dir");
    compile(&format!("{module}.erl"), build.path());
    pack(
        &build.path().join(format!("{module}.beam")),
        with_stdlib.map(|r| r.join("stdlib")).as_deref(),
    )
}

#[test]
fn response_travels_on_its_own_channel_byte_for_byte() {
    let Some(rt) = runtime("response_travels_on_its_own_channel_byte_for_byte") else {
        return;
    };
    let app = erlang_app("echo_app", None);
    // Every byte value, several times over the adapter's 16 KiB first read.
    let request: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let r = run(&rt, &app, &request);
    assert_eq!(r.exit_code, Some(0), "stderr: {}", r.stderr);
    assert_eq!(r.trap, None);
    let mut expected = b"{\"echo\":".to_vec();
    expected.extend(&request);
    expected.push(b'}');
    let response = r.response.expect("the app responded");
    assert_eq!(response.len(), expected.len());
    assert!(
        response == expected,
        "the response differs from the request it echoes"
    );
    // stdout holds exactly what the app wrote there, nothing from the VM.
    assert_eq!(r.stdout, "stdout log 100000\n");
    assert_eq!(r.stderr, "stderr log\n");
}

#[test]
fn crash_exits_non_zero_with_a_report_on_stderr() {
    let Some(rt) = runtime("crash_exits_non_zero_with_a_report_on_stderr") else {
        return;
    };
    let app = erlang_app("crash_app", None);
    let r = run(&rt, &app, b"payload");
    assert_eq!(r.exit_code, Some(1), "stderr: {}", r.stderr);
    assert_eq!(r.response, None);
    assert_eq!(r.stdout, "before the crash\n");
    // The reason, then the stack trace.
    assert_contains(
        &r.stderr,
        &[
            "crash_app.beam:start/0 terminated with reason: {{deliberate_crash,",
            "[{crash_app,start,0,",
        ],
    );
}

#[test]
fn waiting_forever_is_reported_as_a_deadlock() {
    let Some(rt) = runtime("waiting_forever_is_reported_as_a_deadlock") else {
        return;
    };
    let app = erlang_app("deadlock_app", None);
    let r = run(&rt, &app, b"");
    assert_eq!(r.exit_code, Some(3), "stderr: {}", r.stderr);
    assert!(r.stderr.contains("deadlock"), "stderr: {}", r.stderr);
    assert_eq!(r.stdout, "");
}

#[test]
fn timers_random_bytes_and_platform_work() {
    let Some(rt) = runtime("timers_random_bytes_and_platform_work") else {
        return;
    };
    let app = erlang_app("platform_app", Some(&rt));
    let r = run(&rt, &app, b"");
    assert_eq!(r.exit_code, Some(0), "stderr: {}", r.stderr);
    let response = String::from_utf8(r.response.expect("the app responded")).expect("utf-8");
    let field = |key: &str| -> String {
        response
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("no {key} in {response:?}"))
            .to_string()
    };
    let slept: u64 = field("slept_ms").parse().expect("slept_ms is a number");
    assert!(
        slept >= 500,
        "timers of 300 + 200 ms took {slept} ms of VM time"
    );
    assert_eq!(field("rand_sizes"), "32,32");
    assert_eq!(field("rand_distinct"), "true");
    assert_eq!(field("platform"), "wasi");
    assert_eq!(field("year_ok"), "true");
}

#[test]
fn elixir_stdlib_modules_run() {
    let Some(rt) = runtime("elixir_stdlib_modules_run") else {
        return;
    };
    let build = tempfile::tempdir().expect("temp dir");
    compile("elixir_app.ex", build.path());
    let app = pack(
        &build.path().join("Elixir.ElixirApp.beam"),
        Some(&rt.join("stdlib")),
    );
    let r = run(&rt, &app, b"one two three");
    assert_eq!(r.exit_code, Some(0), "stderr: {}", r.stderr);
    assert_eq!(
        r.response.as_deref(),
        Some(&b"all ok"[..]),
        "stderr: {}",
        r.stderr
    );
    // IO.puts is a log line on stdout.
    assert_eq!(r.stdout, "elixir_app ran 9 checks\n");
}

#[test]
fn runtime_json_describes_the_artifacts() {
    let Some(rt) = runtime("runtime_json_describes_the_artifacts") else {
        return;
    };
    let manifest_path = rt.join("runtime.json");
    let manifest: Value = serde_json::from_slice(
        &fs::read(&manifest_path).expect("runtime.json next to atomvm.wasm"),
    )
    .expect("runtime.json is JSON");
    let artifacts = manifest["artifacts"].as_array().expect("artifacts list");
    let mut names = Vec::new();
    for a in artifacts {
        let path = a["path"].as_str().expect("artifact path");
        let bytes = fs::read(rt.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(a["size"].as_u64(), Some(bytes.len() as u64), "{path} size");
        let digest: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(a["sha256"].as_str(), Some(digest.as_str()), "{path} sha256");
        names.push(path.to_string());
    }
    for required in [
        "atomvm.wasm",
        "stdlib/lists.beam",
        "stdlib/Elixir.Enum.beam",
    ] {
        assert!(names.iter().any(|n| n == required), "{required} not listed");
    }
    assert!(manifest["atomvm"]["commit"].is_string());
}
