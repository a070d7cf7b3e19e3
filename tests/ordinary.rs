//! An app written the ordinary way (pipes, `String`, `Enum`, `Integer`,
//! ranges, a struct with its own `defimpl String.Chars`, `raise`, a module
//! called through a variable) built with `elixir-workers build` and run on
//! the real runtime; an app of 400 modules; the build's refusals: a call
//! nothing answers, and more modules than the runtime can address; a run's
//! budgets; and a module loaded at run time.

use std::path::{Path, PathBuf};
use test_support::cli::{ew, new_project, request, requests, requests_logged, test_runtime};
use test_support::{require_runtime, run, tempdir, workspace_root};

/// A project from `new` whose `lib/` is replaced by `fixture`'s.
fn project_with(parent: &Path, name: &str, fixture: &str, runtime: &Path) -> std::path::PathBuf {
    let project = new_project(parent, name, runtime);
    std::fs::remove_dir_all(project.join("lib")).unwrap();
    let from = workspace_root().join("tests/fixtures").join(fixture);
    for entry in walkdir::WalkDir::new(&from) {
        let entry = entry.unwrap();
        let to = project.join(entry.path().strip_prefix(&from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&to).unwrap();
        } else {
            std::fs::copy(entry.path(), &to).unwrap();
        }
    }
    project
}

/// Replaces `from` with `to` in the scaffold's router of `project` (`app`).
/// A new project for the test `test` (None when there is no runtime, as
/// `require_runtime` decides) whose router has `routes` (route lines and the
/// functions they name) before its health route; with the temporary
/// directory that holds it, and the runtime.
fn app_with_routes(
    test: &str,
    app: &str,
    routes: &str,
) -> Option<(test_support::TempDir, PathBuf, PathBuf)> {
    let rt = require_runtime(test)?;
    let tmp = tempdir();
    let project = new_project(tmp.path(), app, &rt);
    let health = "  def health(conn) do";
    edit_router(&project, app, health, &format!("{routes}\n\n{health}"));
    Some((tmp, project, rt))
}

fn edit_router(project: &Path, app: &str, from: &str, to: &str) {
    let router = project.join(format!("lib/{app}/router.ex"));
    let text = std::fs::read_to_string(&router).unwrap();
    assert!(text.contains(from), "{from:?} not in {}", router.display());
    std::fs::write(&router, text.replace(from, to)).unwrap();
}

#[test]
fn ordinary_elixir_runs_on_the_runtime() {
    let Some(rt) = require_runtime("ordinary_elixir_runs_on_the_runtime") else {
        return;
    };
    let tmp = tempdir();
    let project = project_with(tmp.path(), "ordinary", "ordinary", &rt);
    let build = run(ew(&project, &rt).args(["build", "--no-install", "--json"])).ok();
    let summary: serde_json::Value = serde_json::from_str(&build.stdout).unwrap();
    // The worker's interpreter dispatches every opcode the archive's code
    // holds, and only those; the requests below run on it.
    let avm = std::fs::read(project.join("_build/worker/app.avm")).unwrap();
    let archive = pipeline::boot::archive_use(&avm).unwrap();
    let used = &archive.opcodes;
    let opcodes = &summary["opcodes"];
    assert_eq!(
        opcodes["kept"].as_u64(),
        Some(used.len() as u64),
        "{opcodes}"
    );
    assert!(
        opcodes["handled"].as_u64().unwrap() > used.len() as u64 + 10,
        "{opcodes}"
    );
    let runtime_wasm = std::fs::read(rt.join("atomvm.wasm")).unwrap();
    let worker_wasm = std::fs::read(project.join("_build/worker/atomvm.wasm")).unwrap();
    // AtomVM's BIF and NIF name tables were found in the runtime, every one
    // the archive imports is kept, and some were cut; the requests below
    // call many of them.
    let natives = &summary["natives"];
    let named = pipeline::boot::natives::named_slots(&runtime_wasm).unwrap();
    let imported = named
        .named
        .keys()
        .filter(|n| archive.imports.contains(*n))
        .count() as u64;
    assert!(imported > 40, "{imported}");
    assert_eq!(natives["named"].as_u64(), Some(named.named.len() as u64));
    assert!(named.named.len() > 150, "{natives}");
    let kept = natives["kept"].as_u64().unwrap();
    assert!(
        kept >= imported && kept < named.named.len() as u64,
        "{natives}"
    );
    assert!(worker_wasm.len() + 100_000 < runtime_wasm.len());
    let modules: Vec<&str> = summary["module_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    // The app's own implementation, and the stdlib's for ranges, are kept.
    for m in [
        "Elixir.String.Chars.Ordinary.Point",
        "Elixir.Enumerable.Range",
        "Elixir.Ordinary.Plugin",
    ] {
        assert!(modules.contains(&m), "{m} not packed: {modules:?}");
    }

    let answers = requests(
        &project,
        &[
            "/words/%20Pear,%20apple%20banana,pear%20",
            "/numbers?n=7",
            "/point/3/-4",
            "/squares/5",
            "/stats",
            "/users/42",
            "/users/0",
            "/plugin",
            "/text",
            "/more",
            "/link?url=http%3A%2F%2F%5Bfe80%3A%3A1%5D%3A8080%2Fdocs",
        ],
    );
    let json = |i: usize| -> serde_json::Value {
        assert_eq!(answers[i].0, 200, "{:?}", answers[i]);
        serde_json::from_str(&answers[i].1).unwrap()
    };
    assert_eq!(
        json(0),
        serde_json::json!({"words": ["1. Apple", "2. Banana", "3. Pear"], "count": 3})
    );
    assert_eq!(
        json(1),
        serde_json::json!({"sum": 28, "product": 5040, "evens": "2,4,6",
                           "chunks": [[1, 2, 3], [4, 5, 6], [7]], "padded": "00007",
                           "ops": [7, 6]})
    );
    assert_eq!(answers[2], (200, "point (3, -4)".to_string()));
    assert_eq!(json(3), serde_json::json!([1, 4, 9, 16, 25]));
    assert_eq!(
        json(4),
        serde_json::json!({"by_score": {"3": ["ann", "cy"], "5": ["bob"]}, "best": "bob",
                           "keys": ["ann", "bob", "cy"]})
    );
    assert_eq!(json(5), serde_json::json!({"id": "42", "name": "user 42"}));
    assert_eq!(answers[6].0, 500, "{:?}", answers[6]);
    assert!(answers[6].1.contains("internal_error"), "{:?}", answers[6]);
    assert_eq!(answers[7], (200, "hello there".to_string()));
    // String.replace/3 with a list of patterns (binary:matches/2), Map.pop/2
    // (maps:take/2), graphemes (unicode_util), inspect/1 (persistent_term),
    // String.split with a list, trim, whitespace and parts (binary:split/3).
    assert_eq!(
        json(8),
        serde_json::json!({"line": "a-b-c-d", "loud": "A-B-C-D!", "left": ["extra", "mode"],
                           "length": 11,
                           "inspected": "%{point: %Ordinary.Point{x: 1, y: 2}, tags: [:a, \"b\"]}",
                           "split": ["two", "words"], "first": ["k", "v=w"]})
    );
    // Floats as text (float_to_list/2 with `short`), regexes (the runtime's
    // `re`), a KeyError's message (a stack trace through `maps`, which needs
    // its LocT; AtomVM's stack frames carry no arguments, so the message
    // cannot name the map), an exception's message/1 reached only through
    // Exception.message/1 (not cut from the module), a stable sort_by and
    // OTP's `lists`, erlang:append_element/2.
    assert_eq!(
        json(9),
        serde_json::json!({"price": "costs 19.99 (0.30000000000000004, 1.0e20)",
                           "slug": "hello-world-2024",
                           "digits": ["1", "22", "333"],
                           "named": {"year": "2024", "month": "06"},
                           "valid": [true, false],
                           "missing": "key :b not found",
                           "raised": "bad id",
                           "stable": ["bob", "dee", "ann", "cy"],
                           "max": 9, "tuple": [1, 2, 3]})
    );
    // URI.new/1 of an IPv6 host: uri_string, the runtime's inet, OTP's
    // inet_parse; an invalid host is an error tuple, as on the BEAM.
    assert_eq!(
        json(10),
        serde_json::json!({"host": "fe80::1", "port": 8080, "path": "/docs",
                           "address": "fe80::1", "bad": true})
    );
}

#[test]
fn a_call_nothing_answers_stops_the_build_naming_caller_and_callee() {
    let Some((_tmp, project, rt)) = app_with_routes(
        "a_call_nothing_answers_stops_the_build_naming_caller_and_callee",
        "missing_fun",
        "  get \"/shout\", :shout\n  def shout(conn), do: Conn.text(conn, 200, String.shout(\"hi\"))",
    ) else {
        return;
    };
    let out = run(ew(&project, &rt).args(["build", "--no-install"]));
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "MissingFun.Router.shout/1 (the app) calls String.shout/1: String does not export it"
        ),
        "{}",
        out.stderr
    );
    // For code the user knows is never taken: a warning, and a build.
    let out = run(ew(&project, &rt).args(["build", "--no-install", "--allow-unresolved"])).ok();
    assert!(
        out.stderr.contains("unresolved: MissingFun.Router.shout/1"),
        "{}",
        out.stderr
    );
    assert_eq!(request(&project, "/api/health").0, 200);
}

/// A new app `many_mods` in `parent` with `n` modules `ManyMods.M<i>`, each
/// `def n` with the body `body(i)`, after `prelude`; its health route answers
/// their sum as `n` (through `ManyMods.All.sum/0`).
fn many_modules_app(
    parent: &Path,
    runtime: &Path,
    prelude: &str,
    n: usize,
    body: impl Fn(usize) -> String,
) -> std::path::PathBuf {
    let project = new_project(parent, "many_mods", runtime);
    let mut source = prelude.to_string();
    for i in 0..n {
        source.push_str(&format!(
            "defmodule ManyMods.M{i} do\n  def n do\n{}\n  end\nend\n",
            body(i)
        ));
    }
    let calls: Vec<String> = (0..n).map(|i| format!("ManyMods.M{i}.n()")).collect();
    source.push_str(&format!(
        "defmodule ManyMods.All do\n  def sum, do: Enum.sum([{}])\nend\n",
        calls.join(", ")
    ));
    std::fs::write(project.join("lib/many_mods/many.ex"), source).unwrap();
    edit_router(
        &project,
        "many_mods",
        "%{\"status\" => \"ok\"}",
        "%{\"status\" => \"ok\", \"n\" => ManyMods.All.sum()}",
    );
    project
}

/// More modules than an 8-bit module index in a return address can name
/// (AtomVM's own encoding on wasm32: a return into module 256 landed in
/// module 0): each of 400 modules makes a call that returns into it and
/// rescues an exception raised by another, and the sum comes back right.
#[test]
fn an_app_of_four_hundred_modules_runs() {
    let Some(rt) = require_runtime("an_app_of_four_hundred_modules_runs") else {
        return;
    };
    let tmp = tempdir();
    let base = "defmodule ManyMods.Base do\n  def one, do: 1\n\n  \
                def boom(i), do: raise(ArgumentError, \"no #{i}\")\nend\n";
    let project = many_modules_app(tmp.path(), &rt, base, 400, |i| {
        format!(
            "    caught =\n      try do\n        ManyMods.Base.boom({i})\n      rescue\n        \
             e in ArgumentError -> String.length(e.message) - 3\n      end\n\n    \
             caught + ManyMods.Base.one() + {i}"
        )
    });
    let out = run(ew(&project, &rt).args(["build", "--no-install", "--json"])).ok();
    let summary: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let total = summary["modules"]["total"].as_u64().unwrap();
    assert!(total > 400, "{total} modules");
    // "no 7" is 4 characters, "no 123" 6: the rescue gives i's digit count.
    let digits: u64 = (0..400u64).map(|i| i.to_string().len() as u64).sum();
    let expected = digits + 400 + (0..400u64).sum::<u64>();
    let (status, body) = request(&project, "/api/health");
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["n"].as_u64(), Some(expected), "{body}");
}

/// Past the runtime's limits the build stops and says which and why: more
/// modules than a return address can name.
#[test]
fn more_modules_than_the_runtime_can_address_are_refused() {
    // The stand-in runtime is enough: the build stops before anything runs.
    let rt = test_runtime();
    let tmp = tempdir();
    let n = pipeline::pack::MAX_MODULES;
    let project = many_modules_app(tmp.path(), &rt, "", n, |i| format!("    {i}"));
    let out = run(ew(&project, &rt).args(["build", "--no-install"]));
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(
        out.stderr.contains("the runtime can run at most 1024")
            && out.stderr.contains("in its top 10 bits"),
        "{}",
        out.stderr
    );
    assert!(!project.join("_build/worker/app.avm").exists());
}

/// Consolidation is reused while the app's protocols and implementations
/// stay the same, and redone when one is added: an implementation written
/// after the first build is dispatched to.
#[test]
fn an_implementation_added_after_a_build_is_dispatched() {
    let Some(rt) = require_runtime("an_implementation_added_after_a_build_is_dispatched") else {
        return;
    };
    let tmp = tempdir();
    let project = new_project(tmp.path(), "late_impl", &rt);
    run(ew(&project, &rt).args(["build", "--no-install"])).ok();
    std::fs::write(
        project.join("lib/late_impl/money.ex"),
        "defmodule LateImpl.Money do\n  defstruct cents: 0\nend\n\n\
         defimpl String.Chars, for: LateImpl.Money do\n  \
         def to_string(%{cents: c}), do: \"$#{div(c, 100)}.#{String.pad_leading(Integer.to_string(rem(c, 100)), 2, \"0\")}\"\nend\n",
    )
    .unwrap();
    edit_router(
        &project,
        "late_impl",
        "  def health(conn) do",
        "  get \"/price\", :price\n  def price(conn), do: Conn.text(conn, 200, \"#{%LateImpl.Money{cents: 1205}}\")\n\n  def health(conn) do",
    );
    run(ew(&project, &rt).args(["build", "--no-install"])).ok();
    assert_eq!(request(&project, "/price"), (200, "$12.05".to_string()));
}

#[test]
fn a_runaway_handler_is_stopped_by_its_budget_and_the_isolate_keeps_serving() {
    let Some((_tmp, project, rt)) = app_with_routes(
        "a_runaway_handler_is_stopped_by_its_budget_and_the_isolate_keeps_serving",
        "runaway",
        r#"  get "/loop", :loop
  get "/grow", :grow
  get "/deep", :deep
  get "/sum/:n", :sum

  def loop(conn), do: spin(0, conn)
  defp spin(n, conn), do: spin(n + 1, conn)

  def grow(conn), do: grow([], conn)
  defp grow(acc, conn), do: grow([String.duplicate("x", 100) | acc], conn)

  def deep(conn), do: Conn.json(conn, 200, %{"depth" => down(1_000_000_000)})
  defp down(0), do: 0
  defp down(n), do: 1 + down(n - 1)

  def sum(conn) do
    n = String.to_integer(Conn.param(conn, "n"))
    Conn.json(conn, 200, %{"sum" => Enum.reduce(1..n, 0, &+/2)})
  end"#,
    ) else {
        return;
    };
    // Smaller budgets than the defaults keep the test quick; the defaults
    // are the same code with other numbers.
    std::fs::write(
        project.join("elixir-workers.json"),
        r#"{"budget": {"reductions": 5000000, "memory_mb": 48}}"#,
    )
    .unwrap();
    run(ew(&project, &rt).args(["build", "--no-install"])).ok();
    let answers = requests_logged(
        &project,
        &[
            "/api/health",
            "/loop",
            "/api/health",
            "/grow",
            "/api/health",
            "/deep",
            "/api/health",
            "/sum/100000",
        ],
    );
    for (i, budget) in [(1, "reductions"), (3, "heap"), (5, "heap")] {
        let (status, body, logs) = &answers[i];
        assert_eq!(*status, 500, "{:?}", answers[i]);
        assert!(body.contains(r#""error":"budget_exceeded""#), "{body}");
        assert!(body.contains("request_id"), "{body}");
        let why = logs.join("\n");
        assert!(why.contains("budget: stopped"), "{why}");
        let named = match budget {
            "reductions" => why.contains("reductions (the budget is 5000000)"),
            _ => why.contains("the budget is 50331648"),
        };
        assert!(named, "no {budget} budget named in {why}");
    }
    // The same isolate answers the next request, and work within the
    // budget is not stopped.
    for i in [0, 2, 4, 6] {
        assert_eq!(answers[i].0, 200, "{:?}", answers[i]);
    }
    assert_eq!(answers[7].1, r#"{"sum":5000050000}"#);
}

#[test]
fn a_budget_the_memory_cannot_hold_is_refused() {
    let Some(rt) = require_runtime("a_budget_the_memory_cannot_hold_is_refused") else {
        return;
    };
    let tmp = tempdir();
    let project = new_project(tmp.path(), "overbudget", &rt);
    std::fs::write(
        project.join("elixir-workers.json"),
        r#"{"budget": {"memory_mb": 8192}}"#,
    )
    .unwrap();
    let err = run(ew(&project, &rt).args(["build", "--no-install"]));
    assert_ne!(err.code, Some(0), "{}", err.stdout);
    assert!(err.stderr.contains("elixir-workers.json"), "{}", err.stderr);
    assert!(
        err.stderr.contains("budget.memory_mb is 8192"),
        "{}",
        err.stderr
    );
}

/// A BIF or NIF the worker's module cut (nothing in the archive names it)
/// and a route calls by a name made at run time raises undef, as a function
/// that does not exist does; one an atom names runs.
#[test]
fn a_cut_native_called_by_a_name_made_at_run_time_is_undefined() {
    let Some((_tmp, project, rt)) = app_with_routes(
        "a_cut_native_called_by_a_name_made_at_run_time_is_undefined",
        "late_name",
        r#"  get "/native/:name", :native
  def native(conn) do
    fun = String.to_atom(conn.params["name"])
    answer =
      try do
        if fun in [:abs], do: inspect(apply(:erlang, fun, [-4])), else: inspect(apply(:erlang, fun, [-4]))
      rescue
        e in UndefinedFunctionError -> "undefined #{e.function}/#{e.arity}"
      end
    Conn.text(conn, 200, answer)
  end"#,
    ) else {
        return;
    };
    run(ew(&project, &rt).args(["build", "--no-install"])).ok();
    // An arity-1 native of `erlang` that this worker's atomvm.wasm cut: no
    // atom of the archive names it.
    let runtime_wasm = std::fs::read(rt.join("atomvm.wasm")).unwrap();
    let avm = std::fs::read(project.join("_build/worker/app.avm")).unwrap();
    let natives = pipeline::boot::natives::named_slots(&runtime_wasm).unwrap();
    let archive = pipeline::boot::archive_use(&avm).unwrap();
    let unused = natives.unused_slots(&archive.imports, &archive.atoms);
    let cut = natives
        .names_in(&unused)
        .into_iter()
        .filter_map(|n| n.strip_prefix("erlang:")?.strip_suffix("/1"))
        .find(|f| f.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        .expect("no arity-1 erlang native was cut")
        .to_string();
    let answers = requests(&project, &["/native/abs", &format!("/native/{cut}")]);
    assert_eq!(answers[0], (200, "4".to_string()));
    // The lookup fails as for a function that does not exist: an error the
    // app rescues, not a trap in the cut code (which answers 500). AtomVM's
    // stack trace has no frame for the native, so the error names the
    // caller, as it does for any undefined function.
    assert_eq!(answers[1], (200, "undefined native/1".to_string()), "{cut}");
}

/// The worker's module has no loader (`build` takes it out: a worker runs
/// the modules it booted): loading one at run time fails as a route's
/// error, with the reason in the log, and the isolate serves on.
#[test]
fn a_module_loaded_at_run_time_is_refused_with_the_reason() {
    let Some((_tmp, project, rt)) = app_with_routes(
        "a_module_loaded_at_run_time_is_refused_with_the_reason",
        "late_load",
        r#"  get "/load", :load
  def load(conn) do
    beam = File.read!("missing") <> conn.method
    Conn.text(conn, 200, inspect(:code.load_binary(:late, ~c"late.beam", beam)))
  end"#,
    ) else {
        return;
    };
    // File.read!/1 cannot run here either, and the build says so; bytes
    // made in the route take its place.
    let refused = run(ew(&project, &rt).args(["build", "--no-install"]));
    assert_eq!(refused.code, Some(1), "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("LateLoad.Router.load/1 (the app) calls File.read!/1, through which File.read/1 calls file.read_file/1"),
        "{}",
        refused.stderr
    );
    edit_router(
        &project,
        "late_load",
        r#"File.read!("missing") <> conn.method"#,
        r#""FOR1" <> conn.method"#,
    );
    run(ew(&project, &rt).args(["build", "--no-install"])).ok();
    let answers = requests_logged(&project, &["/load", "/api/health"]);
    let (status, _, logs) = &answers[0];
    assert_eq!(*status, 500, "{:?}", answers[0]);
    let logs = logs.join("\n");
    assert!(
        logs.contains("cannot load a module (7 bytes) at run time: a worker runs the modules `elixir-workers build` booted"),
        "{logs}"
    );
    assert_eq!(answers[1].0, 200, "{:?}", answers[1]);
}
