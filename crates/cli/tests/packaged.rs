//! Installing as a stranger would: the published crates are packaged
//! (`cargo package`), unpacked into a temp dir, installed from there with
//! `cargo install --path` into a temp root, and the unpacked sources are
//! deleted. The installed binary then runs with a fresh home and cache and
//! no source tree: `runtime install FILE` (an archive packed from the real
//! runtime) -> `new` -> `build` -> one request through the built worker in
//! Node, answering 200. Each step's time is printed.
//!
//! Needs the real runtime (to pack the archive it installs).

use std::path::Path;
use std::process::Command;
use std::time::Instant;
use test_support::{require_runtime, workspace_root as workspace, Run};

/// The crates of the binary's dependency tree, in dependency order.
const CRATES: &[&str] = &[
    "elixir-workers-avm",
    "elixir-workers-runtime",
    "elixir-workers-scaffold",
    "elixir-workers-pipeline",
    "elixir-workers",
];

/// Runs `cmd`, failing the test with its output unless it succeeds.
fn checked(cmd: &mut Command) -> Run {
    test_support::run(cmd).ok()
}

fn step<T>(name: &str, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let out = f();
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "packaged install: {name}: {:.1} s",
        t.elapsed().as_secs_f64()
    );
    out
}

#[test]
fn the_packaged_cli_installs_builds_and_serves_without_a_source_tree() {
    let Some(runtime) =
        require_runtime("the_packaged_cli_installs_builds_and_serves_without_a_source_tree")
    else {
        return;
    };
    // Outside the workspace: cargo would take a package under it for a
    // member of this workspace.
    let tmp = tempfile::tempdir().unwrap();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    // Kept between runs (objects of the dependencies); never the source.
    let target = workspace().join("target/packaged-install");

    // 1. Package every crate of the binary's tree, as `cargo publish` would.
    step("cargo package", || {
        let mut cmd = Command::new(&cargo);
        cmd.current_dir(workspace())
            .args(["package", "--allow-dirty", "--no-verify", "--target-dir"])
            .arg(&target);
        for c in CRATES {
            cmd.args(["-p", c]);
        }
        checked(&mut cmd);
    });
    let unpacked = tmp.path().join("unpacked");
    std::fs::create_dir_all(&unpacked).unwrap();
    let version = env!("CARGO_PKG_VERSION");
    for c in CRATES {
        let file = target.join(format!("package/{c}-{version}.crate"));
        let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]))
            .unpack(&unpacked)
            .unwrap();
    }

    // 2. Install from the unpacked package, its siblings patched in for the
    //    crates.io versions it names.
    let root = tmp.path().join("root");
    step("cargo install --path (debug)", || {
        let mut cmd = Command::new(&cargo);
        cmd.args(["install", "--debug", "--offline", "--root"])
            .arg(&root)
            .arg("--target-dir")
            .arg(&target)
            .arg("--path")
            .arg(unpacked.join(format!("elixir-workers-{version}")));
        for c in &CRATES[..CRATES.len() - 1] {
            cmd.arg("--config").arg(format!(
                "patch.crates-io.{c}.path={:?}",
                unpacked
                    .join(format!("{c}-{version}"))
                    .display()
                    .to_string()
            ));
        }
        checked(&mut cmd);
    });
    // 3. No source tree from here on.
    std::fs::remove_dir_all(&unpacked).unwrap();
    let bin = root.join("bin/elixir-workers");

    let archive = tmp.path().join("runtime.tar.gz");
    checked(
        Command::new(test_support::cli::bin())
            .env("ELIXIR_WORKERS_RUNTIME", &runtime)
            .args(["runtime", "pack", "-o"])
            .arg(&archive),
    );

    let home = tmp.path().join("home");
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    let ew = |dir: &Path| {
        let mut cmd = Command::new(&bin);
        cmd.current_dir(dir)
            .env("HOME", &home)
            .env_remove("XDG_CACHE_HOME")
            .env_remove("ELIXIR_WORKERS_CACHE")
            .env_remove("ELIXIR_WORKERS_RUNTIME")
            .env("ELIXIR_WORKERS_COMPILE_SERVER", "0")
            .env("NO_COLOR", "1");
        cmd
    };
    step("runtime install FILE", || {
        checked(ew(&work).args(["runtime", "install"]).arg(&archive));
    });
    let status = checked(ew(&work).args(["runtime", "status", "--json"]));
    let status: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(status["matches"], true, "{status}");
    assert!(
        status["dir"]
            .as_str()
            .unwrap()
            .starts_with(home.to_str().unwrap()),
        "{status}"
    );
    step("new hello", || {
        checked(ew(&work).args(["new", "hello", "--no-install"]));
    });
    let project = work.join("hello");
    step("first build", || {
        checked(ew(&project).args(["build", "--no-install"]));
    });
    let (code, body) = step("first request", || {
        test_support::cli::request(&project, "/api/health")
    });
    assert_eq!(code, 200, "{body}");
    assert_eq!(body, r#"{"status":"ok"}"#);
}
