//! End to end: the real `elixir-workers` binary with the real elixirc and
//! `npx wrangler`, on the stand-in runtime `test_support::cli` assembles
//! (and, for the tests at the bottom, on the real AtomVM runtime).

use std::path::Path;
use std::time::Duration;
use test_support::cli::*;
use test_support::{free_port, http_text as http, require_runtime, run, tempdir, wait_for, Run};

fn archive_names(path: &Path) -> Vec<(String, bool)> {
    let bytes = std::fs::read(path).unwrap();
    let archive = avm::Archive::parse(&bytes).unwrap();
    archive
        .sections
        .iter()
        .map(|s| (s.name.clone(), s.is_start()))
        .collect()
}

fn summary(run: &Run) -> serde_json::Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("--json printed no JSON ({e}):\n{}", run.stdout))
}

/// new → build (archive inspected) → deploy --dry-run --outdir (bundle
/// inspected) → package.
#[test]
fn new_build_deploy_package() {
    let rt = test_runtime();
    let tmp = tempdir();
    let project = new_project(tmp.path(), "e2e_app", &rt);
    link_node_modules(&project);

    let built = run(ew(&project, &rt).args(["build", "--explain", "--json"])).ok();
    let s = summary(&built);
    assert_eq!(s["startup_module"], "Elixir.E2eApp");
    assert_eq!(s["modules"]["app"], 2);
    assert!(s["compiled"].as_bool().unwrap() && s["packed"].as_bool().unwrap());

    let names = archive_names(&project.join("_build/worker/app.avm"));
    // The startup module comes first and is the only one flagged start.
    assert_eq!(names[0], ("Elixir.E2eApp.beam".to_string(), true));
    assert_eq!(names.iter().filter(|(_, start)| *start).count(), 1);
    let has = |m: &str| names.iter().any(|(n, _)| n == &format!("{m}.beam"));
    for kept in [
        "Elixir.E2eApp.Router",
        "Elixir.ElixirWorkers.Handler",
        "Elixir.ElixirWorkers.Dispatch",
        "Elixir.ElixirWorkers.Conn",
        "lists",
    ] {
        assert!(has(kept), "{kept} missing from the archive: {names:?}");
    }
    // The starter uses no bindings: the KV and D1 modules are pruned. App and
    // Router only hold macros: nothing at run time names them.
    for dropped in [
        "Elixir.ElixirWorkers.KV",
        "Elixir.ElixirWorkers.D1",
        "Elixir.ElixirWorkers.App",
        "Elixir.ElixirWorkers.Router",
    ] {
        assert!(!has(dropped), "{dropped} should have been pruned");
    }
    // --explain: every kept module is in the archive with a reason, every
    // dropped one is absent, and they add up to all candidates.
    let explain = s["explain"].as_array().unwrap();
    // The apps' test helpers are compiled with the framework but nothing the
    // worker runs names them: --explain lists them as dropped.
    for helper in [
        "Elixir.ElixirWorkers.Test",
        "Elixir.ElixirWorkers.Test.Response",
    ] {
        let fate = explain
            .iter()
            .find(|f| f["module"] == helper)
            .unwrap_or_else(|| panic!("{helper} is not among the candidates"));
        assert_eq!(fate["kept"], false, "{fate}");
        assert!(!has(helper), "{helper} was packed");
    }
    let mut n_dropped = 0;
    for fate in explain {
        let module = fate["module"].as_str().unwrap();
        if fate["kept"].as_bool().unwrap() {
            assert!(has(module), "{module} explained as kept but absent");
            assert!(
                module == "Elixir.E2eApp" || fate["kept_by"].is_string(),
                "{fate}"
            );
        } else {
            assert!(!has(module), "{module} explained as dropped but packed");
            n_dropped += 1;
        }
    }
    assert!(
        n_dropped > 20,
        "the test stdlib has many unused modules; dropped {n_dropped}"
    );
    assert_eq!(explain.len() - n_dropped, names.len());
    assert_eq!(
        s["modules"]["total"].as_u64().unwrap() as usize,
        names.len()
    );
    // The human --explain listing names the reasons.
    let human = run(ew(&project, &rt).args(["build", "--explain"])).ok();
    assert!(
        human.stdout.contains("E2eApp.Router")
            && human.stdout.contains("an atom in E2eApp.start/0 names it"),
        "{}",
        human.stdout
    );
    assert!(
        human.stdout.contains("ElixirWorkers.KV") && human.stdout.contains("dropped"),
        "{}",
        human.stdout
    );

    // The generated project's own tests pass on the BEAM through
    // `elixir-workers test` (ElixirWorkers.Test, the framework on the path).
    let tested = run(ew(&project, &rt).arg("test")).ok();
    assert!(
        tested.stdout.contains("4 tests, 0 failures"),
        "{}",
        tested.stdout
    );
    // Arguments reach ExUnit: a line picks one test.
    let one = run(ew(&project, &rt).args(["test", "test/e2e_app_test.exs:19"])).ok();
    assert!(
        one.stdout.contains("4 tests, 0 failures, 3 excluded"),
        "{}",
        one.stdout
    );

    // The worker directory wrangler serves.
    for f in [
        "_build/worker/atomvm.wasm",
        "_build/worker/src/index.js",
        "wrangler.jsonc",
        "package.json",
    ] {
        assert!(project.join(f).is_file(), "{f} missing");
    }
    // The worker's module is the runtime's without its loader and what only
    // the boot calls (this stand-in runtime has no interpreter to cut; the
    // real one's cut is in tests/ordinary.rs), with the boot image's build
    // id appended as a custom section.
    let worker_wasm = std::fs::read(project.join("_build/worker/atomvm.wasm")).unwrap();
    let runtime_wasm = std::fs::read(rt.join("atomvm.wasm")).unwrap();
    let avm = std::fs::read(project.join("_build/worker/app.avm")).unwrap();
    let image = std::fs::read(project.join("_build/worker/boot.bin")).unwrap();
    let image = pipeline::boot::BootImage::decode(&image).unwrap();
    let served = pipeline::boot::worker_module(&runtime_wasm, &avm, &image).unwrap();
    assert!(
        worker_wasm == served.wasm,
        "the worker's atomvm.wasm is not worker_module's"
    );
    assert!(
        worker_wasm.ends_with(&image.id),
        "the build id is not the image's"
    );

    // deploy --dry-run --outdir: wrangler bundles without network.
    let deployed = run(ew(&project, &rt).args(["deploy", "--dry-run", "--outdir", "dist"])).ok();
    let dist: Vec<String> = std::fs::read_dir(project.join("dist"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        dist.iter().any(|f| f == "index.js"),
        "no bundled worker in dist: {dist:?}\n{}",
        deployed.stderr
    );
    assert!(
        dist.iter().any(|f| f.ends_with("atomvm.wasm")),
        "no wasm in dist: {dist:?}"
    );
    // The boot image is bundled; the archive inside it is not bundled again.
    let image = dist
        .iter()
        .find(|f| f.ends_with("boot.bin"))
        .expect("no boot image in dist");
    assert_eq!(
        std::fs::read(project.join("dist").join(image)).unwrap(),
        std::fs::read(project.join("_build/worker/boot.bin")).unwrap()
    );
    assert!(
        !dist.iter().any(|f| f.ends_with(".avm")),
        "the archive was bundled: {dist:?}"
    );

    // package: the worker, the static assets, wrangler.jsonc and a manifest.
    let packaged = run(ew(&project, &rt).args(["package", "-o", "out/app.tar.gz", "--json"])).ok();
    let manifest: serde_json::Value = serde_json::from_str(&packaged.stdout).unwrap();
    assert_eq!(manifest["startup_module"], "Elixir.E2eApp");
    assert_eq!(manifest["modules"].as_array().unwrap().len(), names.len());
    let file = std::fs::File::open(project.join("out/app.tar.gz")).unwrap();
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut entries: Vec<String> = tar
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    entries.sort();
    for f in [
        "_build/worker/app.avm",
        "_build/worker/atomvm.wasm",
        "_build/worker/boot.bin",
        "_build/worker/src/index.js",
        "wrangler.jsonc",
        "public/robots.txt",
        "elixir-workers-manifest.json",
    ] {
        assert!(
            entries.contains(&f.to_string()),
            "{f} missing from the package: {entries:?}"
        );
    }
    let wasm_sha = manifest["runtime_sha256"].as_str().unwrap();
    assert_eq!(wasm_sha.len(), 64);
}

/// A rebuild with no change runs no elixirc and leaves the archive alone; a
/// change recompiles; a compile error exits non-zero and keeps the archive.
#[test]
fn incremental_rebuilds_and_compile_errors() {
    let rt = test_runtime();
    let tmp = tempdir();
    let project = new_project(tmp.path(), "inc_app", &rt);
    // An elixirc that records its compile calls, then runs the real one.
    let real = String::from_utf8(
        std::process::Command::new("sh")
            .args(["-c", "command -v elixirc"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let log = tmp.path().join("elixirc.log");
    let wrapper = tmp.path().join("elixirc-wrapper");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
            log.display(),
            real.trim()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let build = |args: &[&str]| {
        let mut cmd = ew(&project, &rt);
        cmd.env("ELIXIRC", &wrapper)
            .arg("build")
            .arg("--no-install")
            .args(args);
        run(&mut cmd)
    };
    // Calls that compiled the application (not version queries).
    let compiles = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("lib/inc_app.ex"))
            .count()
    };
    let archive = project.join("_build/worker/app.avm");

    build(&[]).ok();
    assert_eq!(compiles(), 1);
    let before = std::fs::metadata(&archive).unwrap();
    let bytes_before = std::fs::read(&archive).unwrap();

    // No change: no elixirc, archive untouched (same inode, same mtime).
    let again = build(&["--json"]).ok();
    assert_eq!(compiles(), 1, "elixirc ran without a source change");
    let s = summary(&again);
    assert_eq!(
        (s["compiled"].as_bool(), s["packed"].as_bool()),
        (Some(false), Some(false))
    );
    let after = std::fs::metadata(&archive).unwrap();
    use std::os::unix::fs::MetadataExt as _;
    assert_eq!(
        (before.ino(), before.mtime_nsec(), before.mtime()),
        (after.ino(), after.mtime_nsec(), after.mtime())
    );

    // Touched without a content change: still nothing to do.
    let router = project.join("lib/inc_app/router.ex");
    let text = std::fs::read_to_string(&router).unwrap();
    std::fs::write(&router, &text).unwrap();
    build(&[]).ok();
    assert_eq!(
        compiles(),
        1,
        "elixirc ran for a file whose content did not change"
    );

    // A real change: recompiled and repacked.
    std::fs::write(
        &router,
        text.replace("\"status\" => \"ok\"", "\"status\" => \"changed\""),
    )
    .unwrap();
    let changed = build(&["--json"]).ok();
    assert_eq!(compiles(), 2);
    assert_eq!(summary(&changed)["packed"], true);
    let bytes_changed = std::fs::read(&archive).unwrap();
    assert_ne!(bytes_before, bytes_changed);

    // A compile error: elixirc's own message, its exit code, archive intact.
    std::fs::write(
        &router,
        text.replace("def health(conn) do", "def health(conn) do\n    %{"),
    )
    .unwrap();
    let failed = build(&[]);
    assert_eq!(failed.code, Some(1), "stderr:\n{}", failed.stderr);
    assert!(
        failed.stderr.contains("lib/inc_app/router.ex"),
        "the error names the file:\n{}",
        failed.stderr
    );
    assert!(
        failed.stderr.contains("Error"),
        "elixirc's error is shown:\n{}",
        failed.stderr
    );
    assert!(
        failed.stderr.contains("elixirc-wrapper"),
        "the command line is shown:\n{}",
        failed.stderr
    );
    assert_eq!(
        std::fs::read(&archive).unwrap(),
        bytes_changed,
        "the previous archive must survive"
    );
    assert!(
        project
            .join("_build/ebin/Elixir.IncApp.Router.beam")
            .is_file(),
        "the previous beams must survive"
    );

    // Fixed again: builds.
    std::fs::write(&router, &text).unwrap();
    build(&[]).ok();
    assert_eq!(
        std::fs::read(&archive).unwrap(),
        bytes_before,
        "the same sources give the same archive"
    );
}

#[test]
fn startup_module_must_be_exactly_one() {
    let rt = test_runtime();
    let tmp = tempdir();
    let project = new_project(tmp.path(), "start_app", &rt);
    let entry = project.join("lib/start_app.ex");
    let original = std::fs::read_to_string(&entry).unwrap();

    std::fs::write(&entry, "defmodule StartApp do\n  def start, do: :ok\nend\n").unwrap();
    let none = run(ew(&project, &rt).args(["build", "--no-install"]));
    assert_ne!(none.code, Some(0));
    assert!(
        none.stderr.contains("no startup module") && none.stderr.contains("use ElixirWorkers.App"),
        "{}",
        none.stderr
    );

    std::fs::write(&entry, &original).unwrap();
    std::fs::write(
        project.join("lib/second.ex"),
        "defmodule Second do\n  use ElixirWorkers.App, router: StartApp.Router\nend\n",
    )
    .unwrap();
    let two = run(ew(&project, &rt).args(["build", "--no-install"]));
    assert_ne!(two.code, Some(0));
    assert!(
        two.stderr.contains("several startup modules")
            && two.stderr.contains("Second")
            && two.stderr.contains("StartApp"),
        "{}",
        two.stderr
    );
}

#[test]
fn missing_runtime_says_how_to_build_one() {
    let rt = test_runtime();
    let tmp = tempdir();
    let project = new_project(tmp.path(), "nort_app", &rt);
    // ELIXIR_WORKERS_RUNTIME names a directory that is not a runtime.
    let missing = tmp.path().join("no-runtime-here");
    let out = run(ew(&project, &missing).args(["build", "--no-install"]));
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("ELIXIR_WORKERS_RUNTIME=") && out.stderr.contains("is not a runtime"),
        "{}",
        out.stderr
    );
    // Nothing in the user cache, and no C toolchain to build one with: the
    // error names the runtime the binary needs and both ways to get it.
    let out = run(ew(&project, &missing)
        .env_remove("ELIXIR_WORKERS_RUNTIME")
        .env("ELIXIR_WORKERS_CACHE", tmp.path().join("empty-cache"))
        .env("CLANG", tmp.path().join("no-clang-here"))
        .args(["build", "--no-install"]));
    assert_eq!(out.code, Some(1));
    for needle in [
        "no AtomVM runtime atomvm-",
        "elixir-workers runtime install",
        "elixir-workers runtime build",
        "ELIXIR_WORKERS_RUNTIME",
    ] {
        assert!(out.stderr.contains(needle), "{needle}: {}", out.stderr);
    }
}

/// `elixir-workers test`: a user's test with binding fakes passes without
/// any runtime, a failing test makes the exit code non-zero, and a test
/// file that does not compile, or no test/ at all, is named.
#[test]
fn test_command_runs_the_apps_exunit_tests() {
    let tmp = tempdir();
    let rt = tmp.path().join("no-runtime-here");
    let project = new_project(tmp.path(), "tested_app", &test_runtime());
    std::fs::write(
        project.join("lib/tested_app/router.ex"),
        r#"defmodule TestedApp.Router do
  use ElixirWorkers.Router

  get "/greet/:id", :greet

  def greet(conn) do
    id = Conn.param(conn, "id")

    case KV.get(conn, "NAMES", id) do
      nil -> Conn.json(conn, 404, %{"error" => "unknown"})
      name -> conn |> KV.put("SEEN", id, "1") |> Conn.json(200, %{"hello" => name})
    end
  end
end
"#,
    )
    .unwrap();
    std::fs::write(
        project.join("test/tested_app_test.exs"),
        r#"defmodule TestedAppTest do
  use ExUnit.Case, async: true
  import ElixirWorkers.Test

  test "a name read from KV, and the visit written back" do
    resp = call(TestedApp, request("GET", "/greet/7"), kv: %{"NAMES" => %{"7" => "Ada"}})
    assert resp.status == 200
    assert json(resp) == %{"hello" => "Ada"}
    assert resp.passes == 2
    assert [%{"ns" => "SEEN", "key" => "7", "value" => "1"}] = effects(resp, "kv_put")
  end

  test "a miss answers 404 and writes nothing" do
    resp = call(TestedApp, request("GET", "/greet/8"), kv: %{"NAMES" => %{}})
    assert resp.status == 404
    assert resp.effects == []
  end
end
"#,
    )
    .unwrap();
    // No runtime is needed: the tests run on the BEAM.
    let passed = run(ew(&project, &rt).arg("test")).ok();
    assert!(
        passed.stdout.contains("2 tests, 0 failures"),
        "{}",
        passed.stdout
    );

    std::fs::write(
        project.join("test/wrong_test.exs"),
        r#"defmodule WrongTest do
  use ExUnit.Case
  import ElixirWorkers.Test

  test "expects the wrong status" do
    assert call(TestedApp, request("GET", "/greet/7"), kv: %{"NAMES" => %{"7" => "Ada"}}).status == 201
  end
end
"#,
    )
    .unwrap();
    let failed = run(ew(&project, &rt).arg("test"));
    assert_eq!(failed.code, Some(1), "{}{}", failed.stdout, failed.stderr);
    assert!(
        failed.stdout.contains("3 tests, 1 failure"),
        "{}",
        failed.stdout
    );

    std::fs::write(project.join("test/wrong_test.exs"), "defmodule Broken do\n").unwrap();
    let broken = run(ew(&project, &rt).arg("test"));
    assert_eq!(broken.code, Some(2), "{}{}", broken.stdout, broken.stderr);
    assert!(
        broken
            .stderr
            .contains("test/wrong_test.exs could not be loaded"),
        "{}",
        broken.stderr
    );

    std::fs::remove_dir_all(project.join("test")).unwrap();
    let missing = run(ew(&project, &rt).arg("test"));
    assert!(!missing.success());
    assert!(
        missing.stderr.contains("test does not exist"),
        "{}",
        missing.stderr
    );
}

#[test]
fn outside_a_project_is_a_clear_error() {
    let rt = test_runtime();
    let tmp = tempdir();
    let out = run(ew(tmp.path(), &rt).args(["build"]));
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.contains("no elixir-workers project"),
        "{}",
        out.stderr
    );
}

#[test]
fn doctor_and_completions() {
    let rt = test_runtime();
    let tmp = tempdir();
    let doctor = run(ew(tmp.path(), &rt).args(["doctor", "--json"])).ok();
    let report: serde_json::Value = serde_json::from_str(&doctor.stdout).unwrap();
    let checks = report["checks"].as_array().unwrap();
    let check = |name: &str| {
        checks
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no {name} check"))
    };
    assert_eq!(check("elixirc")["ok"], true);
    assert!(check("elixirc")["version"]
        .as_str()
        .unwrap()
        .starts_with("Elixir "));
    assert_eq!(check("runtime")["ok"], true);
    assert_eq!(check("node")["ok"], true);
    let broken = run(ew(tmp.path(), &tmp.path().join("none")).arg("doctor"));
    assert_eq!(broken.code, Some(1));
    assert!(
        broken.stdout.contains("MISSING runtime") && broken.stdout.contains("is not a runtime"),
        "{}",
        broken.stdout
    );

    for shell in ["bash", "zsh", "fish"] {
        let out = run(ew(tmp.path(), &rt).args(["completions", shell])).ok();
        assert!(
            out.stdout.contains("elixir-workers") && out.stdout.contains("deploy"),
            "{shell}"
        );
    }
}

/// Cleans up after a `dev` that ignored the first Ctrl-C (the test then
/// fails): a second one makes it SIGKILL wrangler's own process group, which
/// killing `dev` alone would leave serving; `dev` itself is killed last.
fn stop_hung_dev(child: &mut std::process::Child) {
    interrupt(child.id());
    if wait_for(Duration::from_secs(10), || child.try_wait().unwrap()).is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// `dev` on the test runtime: wrangler serves on 127.0.0.1 (the fake VM
/// answers nothing, so the shim answers an error), and Ctrl-C stops it and
/// its exit code comes back.
#[test]
fn dev_serves_and_stops_on_ctrl_c() {
    let _lock = dev_lock();
    let rt = test_runtime();
    let tmp = tempdir();
    let project = new_project(tmp.path(), "dev_app", &rt);
    link_node_modules(&project);
    let port = free_port();
    let mut child = ew(&project, &rt)
        .args(["dev", "--no-watch", "--port", &port.to_string()])
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let answered = wait_for(Duration::from_secs(180), || {
        http(port, "GET", "/api/health", "")
    });
    interrupt(child.id());
    let status = wait_for(Duration::from_secs(30), || child.try_wait().unwrap());
    if status.is_none() {
        stop_hung_dev(&mut child);
    }
    let (code, _) = answered.expect("wrangler dev never answered on 127.0.0.1");
    assert!(
        code >= 500,
        "the fake runtime cannot answer a route; got {code}"
    );
    let status = status.expect("dev did not stop on Ctrl-C");
    assert!(
        status.code().is_some(),
        "dev should exit with wrangler's code, not die of the signal: {status:?}"
    );
    assert!(
        http(port, "GET", "/", "").is_none(),
        "wrangler still serving after Ctrl-C"
    );
}

/// With the real AtomVM runtime: real requests through `wrangler dev`, and an
/// edit picked up by `--watch` (and a compile error that keeps serving).
#[test]
fn dev_real_runtime_serves_and_watches() {
    let Some(rt) = require_runtime("dev_real_runtime_serves_and_watches") else {
        return;
    };
    let _lock = dev_lock();
    let tmp = tempdir();
    let project = new_project(tmp.path(), "live_app", &rt);
    link_node_modules(&project);
    let port = free_port();
    let log = std::fs::File::create(tmp.path().join("dev.log")).unwrap();
    let mut child = ew(&project, &rt)
        .args(["dev", "--port", &port.to_string()])
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let dev_log = || std::fs::read_to_string(tmp.path().join("dev.log")).unwrap_or_default();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let health = wait_for(Duration::from_secs(180), || {
            http(port, "GET", "/api/health", "")
        })
        .unwrap_or_else(|| panic!("no answer from wrangler dev:\n{}", dev_log()));
        assert_eq!(
            health,
            (200, r#"{"status":"ok"}"#.to_string()),
            "{}",
            dev_log()
        );
        let hello = http(port, "GET", "/hello/world", "").unwrap();
        assert_eq!(hello, (200, r#"{"hello":"world"}"#.to_string()));
        let echo = http(port, "POST", "/api/echo", r#"{"a":[1,2]}"#).unwrap();
        assert_eq!(echo.0, 200);
        assert!(
            echo.1.contains(r#""body":{"a":[1,2]}"#) && echo.1.contains(r#""method":"POST""#),
            "{}",
            echo.1
        );
        let home = http(port, "GET", "/", "").unwrap();
        assert!(
            home.0 == 200 && home.1.contains("Hello from LiveApp"),
            "{home:?}"
        );
        assert_eq!(http(port, "GET", "/nope", "").unwrap().0, 404);

        // Edit a route: --watch rebuilds and wrangler reloads.
        let router = project.join("lib/live_app/router.ex");
        let text = std::fs::read_to_string(&router).unwrap();
        std::fs::write(
            &router,
            text.replace("\"status\" => \"ok\"", "\"status\" => \"edited\""),
        )
        .unwrap();
        let edited = wait_for(Duration::from_secs(60), || {
            http(port, "GET", "/api/health", "").filter(|(_, body)| body.contains("edited"))
        });
        assert!(
            edited.is_some(),
            "the edit was not picked up:\n{}",
            dev_log()
        );

        // A compile error: printed, and the last good build keeps serving.
        std::fs::write(
            &router,
            text.replace("def health(conn) do", "def health(conn) do\n    %{"),
        )
        .unwrap();
        let reported = wait_for(Duration::from_secs(60), || {
            dev_log()
                .contains("previous build keeps serving")
                .then_some(())
        });
        assert!(
            reported.is_some(),
            "the compile error was not reported:\n{}",
            dev_log()
        );
        let still = http(port, "GET", "/api/health", "").unwrap();
        assert_eq!(still, (200, r#"{"status":"edited"}"#.to_string()));
    }));
    interrupt(child.id());
    let status = wait_for(Duration::from_secs(30), || child.try_wait().unwrap());
    if status.is_none() {
        stop_hung_dev(&mut child);
    }
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
    assert!(
        status.is_some(),
        "dev did not stop on Ctrl-C:\n{}",
        dev_log()
    );
}

/// A project without wrangler.jsonc/package.json (found by its lib/) gets
/// both from the build, as `new` writes them.
#[test]
fn missing_project_files_are_recreated() {
    let rt = test_runtime();
    let tmp = tempdir();
    let project = new_project(tmp.path(), "files_app", &rt);
    let wrangler = std::fs::read_to_string(project.join("wrangler.jsonc")).unwrap();
    let package = std::fs::read_to_string(project.join("package.json")).unwrap();
    std::fs::remove_file(project.join("wrangler.jsonc")).unwrap();
    std::fs::remove_file(project.join("package.json")).unwrap();
    let out = run(ew(&project.join("lib"), &rt).args(["build", "--no-install"])).ok();
    assert!(
        out.stderr.contains("Created wrangler.jsonc")
            && out.stderr.contains("Created package.json"),
        "{}",
        out.stderr
    );
    assert_eq!(
        std::fs::read_to_string(project.join("wrangler.jsonc")).unwrap(),
        wrangler
    );
    assert_eq!(
        std::fs::read_to_string(project.join("package.json")).unwrap(),
        package
    );
}

/// A Durable Object class bound in wrangler.jsonc (and defined by the app)
/// becomes a class the worker's entry module exports; a binding to another
/// worker's class (`script_name`) does not, and without bindings the
/// generated module exports nothing.
#[test]
fn build_exports_the_durable_object_classes_wrangler_binds() {
    let rt = test_runtime();
    let tmp = tempdir();
    let project = new_project(tmp.path(), "objects_app", &rt);
    std::fs::write(
        project.join("lib/objects_app.ex"),
        r#"defmodule ObjectsApp do
  use ElixirWorkers.App, router: ObjectsApp.Router, durable_objects: %{"Counter" => ObjectsApp.Counter}
end

defmodule ObjectsApp.Counter do
  alias ElixirWorkers.{Conn, Storage}

  def fetch(conn) do
    n = (Storage.get(conn, "count") || 0) + 1
    conn |> Storage.put("count", n) |> Conn.text(200, Integer.to_string(n))
  end
end
"#,
    )
    .unwrap();
    let config = project.join("wrangler.jsonc");
    let scaffolded = std::fs::read_to_string(&config).unwrap();
    let with_objects = scaffolded.replacen(
        "  ]\n\n  // --- Bindings",
        "  ],\n  \"durable_objects\": { \"bindings\": [\n    { \"name\": \"COUNTER\", \"class_name\": \"Counter\" },\n    \
         { \"name\": \"REMOTE\", \"class_name\": \"Remote\", \"script_name\": \"other\" }\n  ] },\n  \
         \"migrations\": [{ \"tag\": \"v1\", \"new_sqlite_classes\": [\"Counter\"] }]\n\n  // --- Bindings",
        1,
    );
    assert_ne!(
        with_objects, scaffolded,
        "the scaffold's rules end where the test expects"
    );
    std::fs::write(&config, &with_objects).unwrap();

    run(ew(&project, &rt).args(["build", "--no-install"])).ok();
    let generated = project.join("_build/worker/src/durable_objects.js");
    let js = std::fs::read_to_string(&generated).unwrap();
    assert!(
        js.contains("export const Counter = objectClass(\"Counter\", app);"),
        "{js}"
    );
    assert!(
        !js.contains("Remote"),
        "another worker's class is not this one's: {js}"
    );
    let index = std::fs::read_to_string(project.join("_build/worker/src/index.js")).unwrap();
    assert!(
        index.contains("export * from \"./durable_objects.js\";"),
        "{index}"
    );

    std::fs::write(&config, &scaffolded).unwrap();
    run(ew(&project, &rt).args(["build", "--no-install"])).ok();
    let js = std::fs::read_to_string(&generated).unwrap();
    assert!(
        js.ends_with("export {};\n") && !js.contains("Counter"),
        "{js}"
    );
}

/// Without an ELIXIRC override, builds go through the warm compile server:
/// an edit recompiles, a compile error is Elixir's message with exit code 1
/// and the previous archive survives.
#[test]
fn compile_server_rebuilds_and_reports_errors() {
    let rt = test_runtime();
    let tmp = tempdir();
    let project = new_project(tmp.path(), "warm_app", &rt);
    let build = || run(ew(&project, &rt).args(["build", "--no-install", "--json"]));
    build().ok();
    let info = std::fs::read_to_string(project.join("_build/.elixir-workers/compiler"))
        .expect("the build started a compile server");
    let server_pid = info.lines().nth(3).unwrap().to_string();
    let archive = project.join("_build/worker/app.avm");
    let first = std::fs::read(&archive).unwrap();

    let router = project.join("lib/warm_app/router.ex");
    let text = std::fs::read_to_string(&router).unwrap();
    std::fs::write(
        &router,
        text.replace("\"status\" => \"ok\"", "\"status\" => \"warm\""),
    )
    .unwrap();
    let edited = build().ok();
    assert_eq!(summary(&edited)["compiled"], true);
    let second = std::fs::read(&archive).unwrap();
    assert_ne!(first, second);
    let beam = std::fs::read(project.join("_build/ebin/Elixir.WarmApp.Router.beam")).unwrap();
    assert!(
        beam.windows(4).any(|w| w == b"warm"),
        "the new source was compiled"
    );

    std::fs::write(
        &router,
        text.replace("def health(conn) do", "def health(conn) do\n    %{"),
    )
    .unwrap();
    let failed = build();
    assert_eq!(failed.code, Some(1), "{}", failed.stderr);
    assert!(
        failed.stderr.contains("lib/warm_app/router.ex") && failed.stderr.contains("SyntaxError"),
        "{}",
        failed.stderr
    );
    assert_eq!(std::fs::read(&archive).unwrap(), second);

    // A deleted module is really gone on the next compile (the server
    // unloads the previous compile's modules).
    std::fs::write(&router, &text).unwrap();
    std::fs::write(
        project.join("lib/extra.ex"),
        "defmodule Extra do\n  def x, do: 1\nend\n",
    )
    .unwrap();
    build().ok();
    assert!(project.join("_build/ebin/Elixir.Extra.beam").is_file());
    std::fs::remove_file(project.join("lib/extra.ex")).unwrap();
    std::fs::write(
        project.join("lib/uses_extra.ex"),
        "defmodule UsesExtra do\n  @x Extra.x()\n  def x, do: @x\nend\n",
    )
    .unwrap();
    let gone = build();
    assert_eq!(
        gone.code,
        Some(1),
        "Extra was deleted, so compiling UsesExtra must fail:\n{}",
        gone.stderr
    );
    assert!(!project.join("_build/ebin/Elixir.UsesExtra.beam").exists());

    let _ = std::process::Command::new("kill").arg(&server_pid).status();
}
