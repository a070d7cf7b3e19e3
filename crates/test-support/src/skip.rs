//! The one rule for a test that cannot run here.

use crate::process::find_tool;
use std::path::PathBuf;

/// Says on stderr that `test` cannot run here and why, so the caller can
/// return; under `CI` (set and not empty) it panics instead, since there
/// every prerequisite is installed and a missing one is a failure.
#[track_caller]
pub fn skip(test: &str, why: &str) {
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("{test} cannot run: {why} (CI is set, so this fails instead of skipping)");
    }
    // Straight to stderr, not eprintln!: libtest hides what the print
    // macros write in a passing test, and a skip must be seen.
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "SKIPPED: {test} ({why})");
}

/// [`find_tool`], or the [`skip`] notice naming what to install.
#[track_caller]
pub fn require_tool(test: &str, var: &str, names: &[&str], install: &str) -> Option<PathBuf> {
    let found = find_tool(var, names);
    if found.is_none() {
        skip(
            test,
            &format!(
                "no {} on PATH and {var} unset ({install})",
                names.join(" or ")
            ),
        );
    }
    found
}
