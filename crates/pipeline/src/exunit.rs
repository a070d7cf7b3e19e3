//! `test`: the project's ExUnit tests (`test/**/*_test.exs`) on the
//! machine's Elixir, with the app's beams and the framework's on the code
//! path: what a user would otherwise assemble by hand with
//! `elixir -pa _build/ebin -pa _build/framework ...`.

use crate::build::compile;
use crate::process::{exit_code, Cmd, ELIXIR};
use crate::project::Project;
use crate::{Event, Reporter};
use anyhow::{Context as _, Result};
use std::path::Path;

/// Loads the test files and runs them with ExUnit (see the script).
const RUNNER: &str = include_str!("exunit_runner.exs");

/// Where the runner is written, under the project's state directory.
const RUNNER_FILE: &str = "test_runner.exs";

/// Compiles the project (no packing: the tests need no runtime), then runs
/// its tests; `args` (files, directories, `file:LINE`, `--only TAG`,
/// `--exclude TAG`, `--seed N`, `--trace`, ...) go to the runner. Returns
/// the runner's exit code: 0 when every test passed, 1 when one failed, 2
/// when a test file could not be loaded.
pub fn run(project: &Project, args: &[String], report: Reporter<'_>) -> Result<i32> {
    let tests = project.root.join("test");
    anyhow::ensure!(
        tests.is_dir(),
        "{} does not exist: put the app's ExUnit tests there, as test/<name>_test.exs",
        tests.display()
    );
    anyhow::ensure!(
        has_test_files(&tests),
        "no *_test.exs files under {}: a test file's name must end in _test.exs",
        tests.display()
    );
    compile(project, report)?;

    let state = project.state_dir();
    std::fs::create_dir_all(&state)
        .with_context(|| format!("could not create {}", state.display()))?;
    let runner = state.join(RUNNER_FILE);
    crate::atomic::write(&runner, RUNNER.as_bytes())?;

    let cmd = Cmd::tool(ELIXIR, &project.root)?
        .arg("-pa")
        .arg(project.ebin_dir())
        .arg("-pa")
        .arg(project.framework_dir())
        .arg(&runner)
        .args(args);
    report(Event::Step {
        action: "Testing",
        detail: project.name.clone(),
    });
    let status = cmd.status()?;
    Ok(exit_code(status))
}

fn has_test_files(dir: &Path) -> bool {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .any(|e| e.file_type().is_file() && e.file_name().to_string_lossy().ends_with("_test.exs"))
}
