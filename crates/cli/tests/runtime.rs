//! `elixir-workers runtime pack|install|status` on a stand-in runtime (a
//! module with the runtime's imports and exports, and a manifest under the
//! binary's id): packing, installing from a file and over HTTP from a server
//! on 127.0.0.1, and every refusal (a wrong sha256, a wrong id, no checksum,
//! a missing file). Needs nothing from outside, so it always runs.

use std::path::{Path, PathBuf};
use std::process::Command;
use test_support::cli::{bin, new_project, request, test_runtime};
use test_support::{assert_contains, run, serve_dir, skip, tempdir};

/// A runtime directory that passes every check `install` makes, with `id`.
fn stand_in_runtime(dir: &Path, id: &str) -> PathBuf {
    let wasm = wat::parse_str(
        r#"(module
             (import "elixir_workers" "memory" (memory 1))
             (func (export "_initialize")) (func (export "ew_boot"))
             (func (export "ew_run")) (func (export "ew_heap_high_water"))
             (func (export "ew_set_budget") (param i32 i32))
             (func (export "module_new_from_iff_binary") (param i32 i32 i32) (result i32)
               i32.const 0)
             (func (export "ew_loader_absent") (param i32 i32 i32) (result i32) i32.const 0)
             (global (export "__stack_pointer") (mut i32) (i32.const 0))
             (export "memory" (memory 0)))"#,
    )
    .unwrap();
    let beam = b"FOR1\0\0\0\x04BEAM".to_vec();
    std::fs::create_dir_all(dir.join("stdlib")).unwrap();
    std::fs::write(dir.join("atomvm.wasm"), &wasm).unwrap();
    std::fs::write(dir.join("stdlib/lists.beam"), &beam).unwrap();
    let manifest = serde_json::json!({
        "id": id,
        "artifacts": [
            {"path": "atomvm.wasm", "size": wasm.len(), "sha256": ew_runtime::digest::sha256_hex(&wasm)},
            {"path": "stdlib/lists.beam", "size": beam.len(), "sha256": ew_runtime::digest::sha256_hex(&beam)},
        ],
    });
    std::fs::write(dir.join("runtime.json"), manifest.to_string()).unwrap();
    dir.to_path_buf()
}

/// The binary with its own cache and no runtime override. The stand-in
/// runtimes carry the binary's id but not the released bytes, so the
/// built-in lock (which would refuse them) is replaced by an empty one.
fn ew(cache: &Path) -> Command {
    let lock = cache.with_extension("lock");
    std::fs::write(&lock, "# no entries\n").unwrap();
    let mut cmd = Command::new(bin());
    cmd.env("ELIXIR_WORKERS_CACHE", cache)
        .env_remove("ELIXIR_WORKERS_RUNTIME")
        .env(ew_runtime::bundle::LOCK_ENV, &lock)
        .env("NO_COLOR", "1");
    cmd
}

fn pack(runtime: &Path, out: &Path) {
    let r = run(ew(&runtime.with_extension("unused-cache"))
        .env("ELIXIR_WORKERS_RUNTIME", runtime)
        .args(["runtime", "pack", "-o"])
        .arg(out));
    assert_eq!(r.code, Some(0), "{}", r.stderr);
}

fn status(cache: &Path) -> serde_json::Value {
    let r = run(ew(cache).args(["runtime", "status", "--json"]));
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout))
}

#[test]
fn pack_is_deterministic_and_install_from_a_file_checks_its_sha256() {
    let tmp = tempdir();
    let rt = stand_in_runtime(&tmp.path().join("rt"), &ew_runtime::runtime_id());
    let (a, b) = (tmp.path().join("a.tar.gz"), tmp.path().join("b.tar.gz"));
    pack(&rt, &a);
    pack(&rt, &b);
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let sha = std::fs::read_to_string(tmp.path().join("a.tar.gz.sha256")).unwrap();
    assert_eq!(
        sha,
        format!(
            "{}  a.tar.gz\n",
            ew_runtime::digest::sha256_hex(&std::fs::read(&a).unwrap())
        )
    );

    let cache = tmp.path().join("cache");
    assert_eq!(status(&cache)["matches"], false);
    let r = run(ew(&cache).args(["runtime", "install"]).arg(&a));
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let st = status(&cache);
    assert_eq!(st["matches"], true, "{st}");
    assert_eq!(st["origin"], "cache");
    let installed = PathBuf::from(st["dir"].as_str().unwrap());
    assert_eq!(
        std::fs::read(installed.join("atomvm.wasm")).unwrap(),
        std::fs::read(rt.join("atomvm.wasm")).unwrap()
    );

    // No checksum beside the file (and none in runtime.lock for a stand-in).
    std::fs::remove_file(tmp.path().join("b.tar.gz.sha256")).unwrap();
    let r = run(ew(&tmp.path().join("cache2"))
        .args(["runtime", "install"])
        .arg(&b));
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.contains("no checksum for"), "{}", r.stderr);
    assert_eq!(status(&tmp.path().join("cache2"))["matches"], false);
}

/// A lock line for the binary's id wins over a `.sha256` beside the file:
/// an archive with that id and other bytes is refused.
#[test]
fn a_lock_line_refuses_other_bytes_for_its_id() {
    let id = ew_runtime::runtime_id();
    let tmp = tempdir();
    let rt = stand_in_runtime(&tmp.path().join("rt"), &id);
    let archive = tmp.path().join("rt.tar.gz");
    pack(&rt, &archive);
    let locked = "0".repeat(64);
    let lock = tmp.path().join("release.lock");
    std::fs::write(&lock, format!("# a release\n{id} {locked}\n")).unwrap();
    let cache = tmp.path().join("cache");
    let r = run(ew(&cache)
        .env(ew_runtime::bundle::LOCK_ENV, &lock)
        .args(["runtime", "install"])
        .arg(&archive));
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "runtime.lock says {locked}; nothing was installed"
        )),
        "{}",
        r.stderr
    );
    assert_eq!(status(&cache)["matches"], false);
}

#[test]
fn install_over_http_refuses_a_wrong_sha256_a_wrong_id_and_a_missing_file() {
    let tmp = tempdir();
    let srv = tmp.path().join("srv");
    std::fs::create_dir_all(&srv).unwrap();
    let good = stand_in_runtime(&tmp.path().join("good"), &ew_runtime::runtime_id());
    pack(&good, &srv.join("good.tar.gz"));
    // The same sha256 file beside different bytes.
    let mut bytes = std::fs::read(srv.join("good.tar.gz")).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(srv.join("tampered.tar.gz"), &bytes).unwrap();
    std::fs::copy(
        srv.join("good.tar.gz.sha256"),
        srv.join("tampered.tar.gz.sha256"),
    )
    .unwrap();
    let other = stand_in_runtime(
        &tmp.path().join("other"),
        "atomvm-aa7ac0f8-0000000000000000",
    );
    pack(&other, &srv.join("other.tar.gz"));

    let server = serve_dir(&srv, std::time::Duration::from_secs(120));

    let cache = tmp.path().join("cache-tampered");
    let r = run(ew(&cache).args(["runtime", "install", &server.url("tampered.tar.gz")]));
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.contains("nothing was installed"), "{}", r.stderr);
    assert_eq!(status(&cache)["matches"], false);

    let cache = tmp.path().join("cache-other");
    let r = run(ew(&cache).args(["runtime", "install", &server.url("other.tar.gz")]));
    assert_eq!(r.code, Some(1));
    assert!(
        r.stderr
            .contains("holds runtime atomvm-aa7ac0f8-0000000000000000; this binary needs"),
        "{}",
        r.stderr
    );

    let r = run(ew(&cache).args(["runtime", "install", &server.url("missing.tar.gz")]));
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.contains("404"), "{}", r.stderr);

    let cache = tmp.path().join("cache-good");
    let r = run(ew(&cache).args(["runtime", "install", &server.url("good.tar.gz")]));
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let st = status(&cache);
    assert_eq!(st["matches"], true, "{st}");
    assert_eq!(st["found_id"], ew_runtime::runtime_id());
}

#[test]
fn with_no_runtime_status_fails_and_names_both_ways_to_get_one() {
    let tmp = tempdir();
    let r = run(ew(tmp.path()).args(["runtime", "status"]));
    assert_eq!(r.code, Some(1));
    assert_contains(
        &r.stdout,
        &[
            &ew_runtime::runtime_id(),
            "elixir-workers runtime install",
            "elixir-workers runtime build",
        ],
    );
}

/// `build` with no runtime installed and the C toolchain present builds the
/// runtime itself, saying so, and then builds the app. The test's cache is
/// fresh except for the runtime build's working directory, shared with the
/// user cache (where `.ci/run`'s `runtime build` left objects and the
/// verified AtomVM source), so this costs a link-cache hit, not a cold build.
#[test]
fn build_builds_a_missing_runtime_when_the_toolchain_is_here() {
    let test = "build_builds_a_missing_runtime_when_the_toolchain_is_here";
    if !ew_runtime::toolchain::available() {
        return skip(
            test,
            "no clang/gperf/erlc toolchain to build a runtime with",
        );
    }
    let shared = ew_runtime::cache::build_dir().unwrap();
    let pinned = shared.join(format!("src/AtomVM-{}/.verified", ew_runtime::ATOMVM_PIN));
    if !pinned.is_file() {
        return skip(
            test,
            "no verified AtomVM source in the user cache: run `elixir-workers runtime build` once",
        );
    }
    let tmp = tempdir();
    let cache = tmp.path().join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    std::os::unix::fs::symlink(&shared, cache.join("runtime-build")).unwrap();
    let project = new_project(tmp.path(), "auto_rt", &test_runtime());
    let out = run(ew(&cache)
        .current_dir(&project)
        .env("ELIXIR_WORKERS_COMPILE_SERVER", "0")
        .args(["build", "--no-install"]));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stderr.contains("building it now from AtomVM's source"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("Finished runtime"), "{}", out.stderr);
    let st = status(&cache);
    assert_eq!(st["matches"], true, "{st}");
    assert_eq!(request(&project, "/api/health").0, 200);
}
