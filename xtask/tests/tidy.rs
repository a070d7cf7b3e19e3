//! The repository's own rules, checked on its source (rust-analyzer's tidy
//! tests); ARCHITECTURE.md lists them under "Rules the tidy test enforces".
//!
//! - No crate of the workspace has an import cycle between its modules. A
//!   helper that two modules share lives in a leaf module both import, never
//!   in one of them.
//! - Our crates depend on each other only along the arrows ARCHITECTURE.md
//!   draws; the CLI's dependency tree holds no wasmtime, and `avm`'s no
//!   crate of ours and no command-line, terminal, process, file-system or
//!   native-build crate.
//! - In the crates of the binary, only the two `process` modules (pipeline's
//!   and the runtime's) start processes.
//! - Exit codes are chosen in the CLI only: `main.rs` turns errors into
//!   codes, `dev`/`deploy` pass wrangler's through it, `doctor` and
//!   `runtime status` fail a check; nothing calls `std::process::exit`.
//! - No Rust file of the binary's crates is longer than [`LINE_BUDGET`].
//! - Tests skip through `test_support::skip` only (one rule: say so, and
//!   fail instead under `CI`).
//!
//! The module graph: a module is a top-level module of a crate (`src/foo.rs`
//! or `src/foo/`); it depends on another when one of its files names
//! `crate::other`, or an item the crate root re-exports from `other` (`pub
//! use other::Item`). Comments are skipped. The crate root itself is not a
//! node: it declares every module, so every module would otherwise sit on a
//! cycle through it.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is one level below the workspace")
        .to_path_buf()
}

/// `module -> (module it uses -> a file that uses it)`.
type Graph = BTreeMap<String, BTreeMap<String, PathBuf>>;

#[test]
fn no_crate_has_a_module_cycle() {
    let root = workspace();
    let mut crates: Vec<PathBuf> = fs::read_dir(root.join("crates"))
        .unwrap()
        .map(|e| e.unwrap().path().join("src"))
        .filter(|src| src.is_dir())
        .collect();
    crates.push(root.join("xtask/src"));
    crates.sort();
    let mut problems = Vec::new();
    for src in &crates {
        let graph = module_graph(src);
        if let Some(cycle) = find_cycle(&graph) {
            let steps: Vec<String> = cycle
                .windows(2)
                .map(|w| {
                    let file = &graph[&w[0]][&w[1]];
                    let file = file.strip_prefix(&root).unwrap_or(file);
                    format!("  {} -> {} ({})", w[0], w[1], file.display())
                })
                .collect();
            let src = src.strip_prefix(&root).unwrap_or(src);
            problems.push(format!("{}:\n{}", src.display(), steps.join("\n")));
        }
    }
    assert!(
        problems.is_empty(),
        "module cycles (move the shared item into a leaf module):\n{}",
        problems.join("\n")
    );
}

fn module_graph(src: &Path) -> Graph {
    let root_file = ["lib.rs", "main.rs"]
        .iter()
        .map(|f| src.join(f))
        .find(|p| p.is_file())
        .expect("a crate has lib.rs or main.rs");
    let mut files: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for entry in fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path == root_file {
            continue;
        }
        if path.is_dir() {
            files.entry(name).or_default().extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.entry(name).or_default().push(path);
        }
    }
    // What the root re-exports, by name, and from which module.
    let mut reexported: BTreeMap<String, String> = BTreeMap::new();
    let root_text = without_comments(&fs::read_to_string(&root_file).unwrap());
    for line in root_text.lines() {
        let Some(rest) = line.trim().strip_prefix("pub use ") else {
            continue;
        };
        let (module, items) = rest.split_once("::").unwrap_or((rest, ""));
        if files.contains_key(module) {
            for item in exported_names(items) {
                reexported.insert(item, module.to_string());
            }
        }
    }
    let mut graph = Graph::new();
    for (module, paths) in &files {
        let uses = graph.entry(module.clone()).or_default();
        for path in paths {
            let text = without_comments(&fs::read_to_string(path).unwrap());
            for name in crate_paths(&text) {
                let target = if files.contains_key(&name) {
                    Some(name)
                } else {
                    reexported.get(&name).cloned()
                };
                if let Some(target) = target.filter(|t| t != module) {
                    uses.entry(target).or_insert_with(|| path.clone());
                }
            }
        }
    }
    graph
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// The text with `//` comments (doc comments too) cut off; a `//` inside a
/// string literal cuts the rest of its line, which can only hide a
/// reference, never invent one.
fn without_comments(text: &str) -> String {
    text.lines()
        .map(|l| l.split_once("//").map_or(l, |(code, _)| code))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first segment after every `crate::`: `crate::a::b` gives `a`,
/// `crate::{a, b::c}` gives `a` and `b`.
fn crate_paths(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `my_crate::`, not ours
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = matching_brace(group);
            out.extend(first_segments(&group[..end]));
        } else {
            out.push(ident(rest));
        }
    }
    out.retain(|n| !n.is_empty());
    out
}

/// The first path segment of each item of a group's inside (`a, b::c, d as e`).
fn first_segments(inner: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(ident(inner[start..i].trim()));
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(ident(inner[start..].trim()));
    out
}

/// The names a `pub use` makes: `a::B;` gives `B`, `x::{A, b::C, D as E}`
/// gives `A`, `C` and `E`.
fn exported_names(items: &str) -> Vec<String> {
    let items = items.trim().trim_end_matches(';');
    let group = match items.find('{') {
        Some(at) => &items[at + 1..at + 1 + matching_brace(&items[at + 1..])],
        None => items,
    };
    group
        .split(',')
        .map(|item| {
            let item = item.trim();
            let name = item.rsplit_once(" as ").map_or(item, |(_, alias)| alias);
            ident(name.rsplit("::").next().unwrap_or(name).trim())
        })
        .filter(|n| !n.is_empty())
        .collect()
}

fn ident(text: &str) -> String {
    text.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// The index of the `}` that closes a group whose `{` was just before `text`.
fn matching_brace(text: &str) -> usize {
    let mut depth = 0;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return i,
            '}' => depth -= 1,
            _ => {}
        }
    }
    text.len()
}

/// One cycle, as the modules along it with the first repeated at the end.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        graph: &Graph,
        node: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flat_map(|m| m.keys()) {
            if let Some(cycle) = visit(graph, next, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(graph, node, &mut Vec::new(), &mut done))
}

#[test]
fn paths_and_groups_are_read_by_their_first_segment() {
    assert_eq!(
        crate_paths("use crate::a::B;\nlet x = crate::c(); use crate::{d, e::F, g as h};"),
        ["a", "c", "d", "e", "g"]
    );
    assert_eq!(crate_paths("use my_crate::x;"), Vec::<String>::new());
    assert_eq!(
        exported_names("runc::{ImageStore, RuncBackend as Runc};"),
        ["ImageStore", "Runc"]
    );
    assert_eq!(exported_names("ToolFailed;"), ["ToolFailed"]);
}

// ---------------------------------------------------------------------------
// Dependencies between crates

/// The crates of the `elixir-workers` binary, by directory.
const BINARY_CRATES: &[&str] = &[
    "crates/avm",
    "crates/cli",
    "crates/pipeline",
    "crates/runtime",
    "crates/scaffold",
];

/// Every workspace crate and the workspace crates it may depend on (normal
/// and build dependencies; dev-dependencies are the tests' business).
const ARROWS: &[(&str, &[&str])] = &[
    (
        "elixir-workers",
        &[
            "elixir-workers-pipeline",
            "elixir-workers-scaffold",
            "elixir-workers-runtime",
            "elixir-workers-avm",
        ],
    ),
    (
        "elixir-workers-pipeline",
        &[
            "elixir-workers-scaffold",
            "elixir-workers-runtime",
            "elixir-workers-avm",
        ],
    ),
    ("elixir-workers-scaffold", &[]),
    ("elixir-workers-runtime", &[]),
    ("elixir-workers-avm", &[]),
    ("selur", &[]),
    ("selur-nif", &["selur"]),
    (
        "test-support",
        &["elixir-workers-pipeline", "elixir-workers-runtime"],
    ),
    // The end-to-end tests: dev-dependencies only.
    ("e2e", &[]),
    (
        "xtask",
        &[
            "test-support",
            "elixir-workers-runtime",
            "elixir-workers-avm",
        ],
    ),
];

/// Crates `avm` (bytes in, bytes out) must not have in its tree: the
/// command line and the terminal, processes and signals, the file system,
/// application error plumbing, and building native code.
const NOT_FOR_AVM: &[&str] = &[
    "clap",
    "clap_builder",
    "clap_complete",
    "indicatif",
    "console",
    "anstream",
    "termcolor",
    "ctrlc",
    "nix",
    "signal-hook",
    "libc",
    "notify",
    "tempfile",
    "walkdir",
    "anyhow",
    "cc",
    "cmake",
    "pkg-config",
];

fn cargo_metadata(args: &[&str]) -> serde_json::Value {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(workspace())
        .args(["metadata", "--format-version", "1"])
        .args(args)
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo metadata {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON")
}

fn is_normal_or_build(kind: &serde_json::Value) -> bool {
    kind.is_null() || kind == "build"
}

#[test]
fn crates_depend_on_each_other_only_along_the_documented_arrows() {
    let meta = cargo_metadata(&["--no-deps"]);
    let packages = meta["packages"].as_array().unwrap();
    let ours: BTreeSet<&str> = packages
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    let arrows: BTreeMap<&str, &[&str]> = ARROWS.iter().copied().collect();
    let mut problems = Vec::new();
    for package in packages {
        let name = package["name"].as_str().unwrap();
        let Some(allowed) = arrows.get(name) else {
            problems.push(format!(
                "{name} is not in ARROWS: add it with the crates it may depend on, \
                 and say so in ARCHITECTURE.md"
            ));
            continue;
        };
        for dep in package["dependencies"].as_array().unwrap() {
            let dep_name = dep["name"].as_str().unwrap();
            if ours.contains(dep_name)
                && is_normal_or_build(&dep["kind"])
                && !allowed.contains(&dep_name)
            {
                problems.push(format!("{name} -> {dep_name}"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "dependencies between our crates that ARCHITECTURE.md does not allow \
         (a dev-dependency is fine for tests):\n  {}",
        problems.join("\n  ")
    );
}

/// The host's target triple, which `cargo metadata` resolves for: the
/// dependency trees that matter are the ones built here.
fn host_triple() -> String {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(rustc).arg("-vV").output().expect("rustc runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("rustc -vV names the host")
        .to_string()
}

/// Every package `root` builds with (normal and build dependencies, through
/// every level), by name, with the path from `root` that first reached it.
fn dependency_tree(meta: &serde_json::Value, root: &str) -> BTreeMap<String, Vec<String>> {
    let name_of: BTreeMap<&str, &str> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    let nodes: BTreeMap<&str, &serde_json::Value> = meta["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["id"].as_str().unwrap(), n))
        .collect();
    let root_id = name_of
        .iter()
        .find(|(_, name)| **name == root)
        .map(|(id, _)| *id)
        .unwrap_or_else(|| panic!("{root} is not in the workspace"));
    let mut seen: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut queue = vec![(root_id, vec![root.to_string()])];
    while let Some((id, path)) = queue.pop() {
        for dep in nodes[id]["deps"].as_array().unwrap() {
            let kinds = dep["dep_kinds"].as_array().unwrap();
            if !kinds.iter().any(|k| is_normal_or_build(&k["kind"])) {
                continue;
            }
            let dep_id = dep["pkg"].as_str().unwrap();
            let name = name_of[dep_id].to_string();
            if seen.contains_key(&name) {
                continue;
            }
            let mut to = path.clone();
            to.push(name.clone());
            seen.insert(name, to.clone());
            queue.push((dep_id, to));
        }
    }
    seen
}

#[test]
fn the_cli_tree_has_no_wasmtime_and_avm_no_tooling_crates() {
    let meta = cargo_metadata(&["--filter-platform", &host_triple()]);
    let mut problems = Vec::new();
    // wasmtime, or a piece of it, named once: where the tree first reaches it.
    let is_wasmtime = |n: &str| n.starts_with("wasmtime") || n.starts_with("cranelift");
    for (name, path) in dependency_tree(&meta, "elixir-workers") {
        if is_wasmtime(&name) && !path[..path.len() - 1].iter().any(|p| is_wasmtime(p)) {
            problems.push(format!("the CLI builds {name}: {}", path.join(" -> ")));
        }
    }
    let ours: BTreeSet<&str> = ARROWS.iter().map(|(name, _)| *name).collect();
    for (name, path) in dependency_tree(&meta, "elixir-workers-avm") {
        if ours.contains(name.as_str()) || NOT_FOR_AVM.contains(&name.as_str()) {
            problems.push(format!("avm builds {name}: {}", path.join(" -> ")));
        }
    }
    assert!(
        problems.is_empty(),
        "dependency trees ARCHITECTURE.md rules out:\n  {}",
        problems.join("\n  ")
    );
}

// ---------------------------------------------------------------------------
// Source rules for the binary's crates

/// Every Rust file under `dir`, skipping build output and separate
/// workspaces' lock-step copies (`target/`).
fn rust_files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return out;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "target") {
                out.extend(rust_files_under(&path));
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// The `src/` files of the binary's crates, as (path from the workspace,
/// text without comments).
fn binary_sources() -> Vec<(String, String)> {
    let root = workspace();
    BINARY_CRATES
        .iter()
        .flat_map(|c| rust_files_under(&root.join(c).join("src")))
        .map(|path| {
            let rel = path.strip_prefix(&root).unwrap().display().to_string();
            let text = without_comments(&fs::read_to_string(&path).unwrap());
            (rel, text)
        })
        .collect()
}

/// The files allowed to build and start a process.
const SPAWNING_MODULES: &[&str] = &[
    "crates/pipeline/src/process.rs",
    "crates/runtime/src/process.rs",
];

/// What starting a process looks like in source.
fn starts_processes(text: &str) -> Option<&'static str> {
    const SIGNS: &[&str] = &[
        "std::process::Command",
        "process::Command",
        "Command::new(",
        "libc::fork",
        "libc::exec",
        "posix_spawn",
    ];
    if let Some(sign) = SIGNS.iter().find(|s| text.contains(*s)) {
        return Some(sign);
    }
    // `use std::process::{Child, Command};`
    let mut rest = text;
    while let Some(at) = rest.find("std::process::{") {
        rest = &rest[at + "std::process::{".len()..];
        let group = &rest[..matching_brace(rest)];
        if group.split(',').any(|item| ident(item.trim()) == "Command") {
            return Some("std::process::{.., Command, ..}");
        }
    }
    None
}

#[test]
fn only_the_process_modules_start_processes() {
    let problems: Vec<String> = binary_sources()
        .into_iter()
        .filter(|(path, _)| !SPAWNING_MODULES.contains(&path.as_str()))
        .filter_map(|(path, text)| starts_processes(&text).map(|sign| format!("{path}: {sign}")))
        .collect();
    assert!(
        problems.is_empty(),
        "processes started outside {} (go through their `Cmd`):\n  {}",
        SPAWNING_MODULES.join(" and "),
        problems.join("\n  ")
    );
}

/// Where the CLI may make an exit code other than success, and how:
/// `main.rs` for every error, `dev`/`deploy` for wrangler's code, `test` for
/// the tests' code (through
/// `main.rs`'s `exit_code`), `doctor` and `runtime status` for a failed check.
const EXIT_CODE_MAKERS: &[(&str, &[&str])] = &[
    (
        "crates/cli/src/main.rs",
        &["ExitCode::FAILURE", "ExitCode::from(", "exit_code("],
    ),
    ("crates/cli/src/commands/dev.rs", &["exit_code("]),
    ("crates/cli/src/commands/deploy.rs", &["exit_code("]),
    ("crates/cli/src/commands/test.rs", &["exit_code("]),
    ("crates/cli/src/commands/doctor.rs", &["ExitCode::FAILURE"]),
    ("crates/cli/src/commands/runtime.rs", &["ExitCode::FAILURE"]),
];

#[test]
fn exit_codes_are_chosen_in_one_place() {
    let makers: BTreeMap<&str, &[&str]> = EXIT_CODE_MAKERS.iter().copied().collect();
    let mut problems = Vec::new();
    for (path, text) in binary_sources() {
        for call in ["process::exit(", "process::abort("] {
            if text.contains(call) {
                problems.push(format!("{path}: {call}: return the code from main instead"));
            }
        }
        if !path.starts_with("crates/cli/") {
            if text.contains("ExitCode") {
                problems.push(format!(
                    "{path}: ExitCode: a library returns values, the CLI picks the code"
                ));
            }
            continue;
        }
        let allowed = makers.get(path.as_str()).copied().unwrap_or(&[]);
        for token in ["ExitCode::FAILURE", "ExitCode::from(", "exit_code("] {
            if text.contains(token) && !allowed.contains(&token) {
                problems.push(format!("{path}: {token}"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "exit codes chosen outside the places ARCHITECTURE.md names (return an error \
         and let main.rs decide):\n  {}",
        problems.join("\n  ")
    );
}

/// The longest a Rust file of the binary's crates may be. STYLE.md: a file
/// past ~600 lines usually holds two jobs; past this one it must be split.
const LINE_BUDGET: usize = 800;

#[test]
fn no_file_of_the_binary_crates_is_over_the_line_budget() {
    let root = workspace();
    let problems: Vec<String> = BINARY_CRATES
        .iter()
        .flat_map(|c| rust_files_under(&root.join(c)))
        .filter_map(|path| {
            let lines = fs::read_to_string(&path).unwrap().lines().count();
            let rel = path.strip_prefix(&root).unwrap().display().to_string();
            (lines > LINE_BUDGET).then(|| format!("{rel}: {lines} lines"))
        })
        .collect();
    assert!(
        problems.is_empty(),
        "files over {LINE_BUDGET} lines (split them into modules with one job each):\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn process_signs_are_found_in_use_groups_and_calls() {
    assert_eq!(
        starts_processes("use std::process::{Child, Command, Stdio};"),
        Some("std::process::{.., Command, ..}")
    );
    assert_eq!(
        starts_processes("use std::process::{Child, ExitStatus};"),
        None
    );
    assert_eq!(
        starts_processes("let c = Command::new(x);"),
        Some("Command::new(")
    );
    // The CLI's own `enum Command` of subcommands is no process.
    assert_eq!(starts_processes("Command::New(args) => run(args),"), None);
}

// ---------------------------------------------------------------------------
// The skip rule

/// Files that may print a skip notice themselves: the rule's own module;
/// `avm`'s test of Debian's Elixir install, which applies the rule inline
/// (a dev-dependency on test-support would pull the pipeline into the
/// bytes-only crate's tests); `avm`'s bench, which is not a test.
const OWN_SKIPS: &[&str] = &[
    "crates/test-support/src/skip.rs",
    "crates/avm/tests/code.rs",
    "crates/avm/benches/pack.rs",
];

#[test]
fn tests_skip_only_through_test_support() {
    let root = workspace();
    let mut dirs: Vec<PathBuf> = fs::read_dir(root.join("crates"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.extend([root.join("tests"), root.join("xtask")]);
    // Built in two pieces, so that this file does not match itself.
    let notice = ["\"SKIP", "PED"].concat();
    let problems: Vec<String> = dirs
        .iter()
        .flat_map(|dir| rust_files_under(dir))
        .filter_map(|path| {
            let rel = path.strip_prefix(&root).unwrap().display().to_string();
            let text = without_comments(&fs::read_to_string(&path).unwrap());
            (!OWN_SKIPS.contains(&rel.as_str()) && text.contains(&notice)).then_some(rel)
        })
        .collect();
    assert!(
        problems.is_empty(),
        "skip notices printed outside test-support (call test_support::skip, which \
         fails under CI):\n  {}",
        problems.join("\n  ")
    );
}
