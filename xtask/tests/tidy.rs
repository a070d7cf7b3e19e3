//! The repository's own rules, checked on its source (rust-analyzer's tidy
//! tests): no crate of the workspace has an import cycle between its
//! modules. A helper that two modules share lives in a leaf module both
//! import, never in one of them (see ARCHITECTURE.md).
//!
//! A module is a top-level module of a crate (`src/foo.rs` or `src/foo/`);
//! it depends on another when one of its files names `crate::other`, or an
//! item the crate root re-exports from `other` (`pub use other::Item`).
//! Comments are skipped. The crate root itself is not a node: it declares
//! every module, so every module would otherwise sit on a cycle through it.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

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
