//! Running a built conformance project's tests on the runtime: `run.mjs`
//! under `node`, supervised so that a test that hangs or kills the runner
//! costs only itself.

use anyhow::{bail, Context as _, Result};
use serde::Deserialize;
use std::io::{BufRead as _, BufReader, Read as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Runs without an answer in a row after which the runner counts as broken
/// (every remaining test of the module fails with its error).
const MAX_SILENT_RUNS: usize = 3;

/// One line of `run.mjs`: the answer to `GET /run/<id>` and what the worker
/// logged meanwhile. `status` 0 means no answer (see `logs`).
#[derive(Debug, Deserialize)]
pub struct Answer {
    pub id: u32,
    pub status: u16,
    pub body: String,
    pub logs: Vec<String>,
}

impl Answer {
    fn lost(id: u32, why: String) -> Answer {
        Answer {
            id,
            status: 0,
            body: String::new(),
            logs: vec![why],
        }
    }
}

/// Runs the tests `ids` of a built project, one request each, and returns an
/// answer per id in order.
pub fn run(root: &Path, project: &Path, ids: &[u32], timeout: Duration) -> Result<Vec<Answer>> {
    let script = root.join("xtask/conformance/run.mjs");
    run_script(&script, project, ids, timeout)
}

/// Runs `node SCRIPT _build/worker IDS...` in `project`, reading one answer
/// line per id. A test that does not answer within `timeout` has the runner
/// killed, and one that makes it exit is answered for; either way the run
/// goes on from the next test in a new runner.
fn run_script(
    script: &Path,
    project: &Path,
    ids: &[u32],
    timeout: Duration,
) -> Result<Vec<Answer>> {
    let worker = project.join("_build/worker");
    let mut answers = Vec::with_capacity(ids.len());
    let mut silent_runs = 0;
    while answers.len() < ids.len() {
        let pending = &ids[answers.len()..];
        let mut child = Command::new("node")
            .arg("--no-warnings")
            .arg(script)
            .arg(&worker)
            .args(pending.iter().map(u32::to_string))
            .current_dir(project)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("running node {}", script.display()))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let (lines_tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let errors = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });

        let before = answers.len();
        let lost = loop {
            match lines.recv_timeout(timeout) {
                Ok(line) => match parse_answer(line, ids[answers.len()]) {
                    Ok(answer) => {
                        answers.push(answer);
                        if answers.len() == ids.len() {
                            break None;
                        }
                    }
                    Err(e) => {
                        // Ours to end: this child was started above.
                        let _ = child.kill();
                        let _ = child.wait();
                        return Err(e);
                    }
                },
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    // Ours to end: this child was started above.
                    let _ = child.kill();
                    break Some(format!("timeout: no answer within {} s", timeout.as_secs()));
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    break Some("the runner exited without answering".to_string());
                }
            }
        };
        let status = child.wait().context("waiting for node")?;
        let stderr = errors.join().unwrap_or_default();
        let Some(why) = lost else { break };
        let why = format!("{why} ({status}): {}", last_lines(&stderr, 5));
        silent_runs = if answers.len() == before {
            silent_runs + 1
        } else {
            0
        };
        if silent_runs >= MAX_SILENT_RUNS {
            // The runner itself is broken: the rest cannot run either.
            for &id in &ids[answers.len()..] {
                answers.push(Answer::lost(id, format!("runner broken: {why}")));
            }
        } else {
            answers.push(Answer::lost(ids[answers.len()], why));
        }
    }
    Ok(answers)
}

/// One line of the runner, which must answer test `want`.
fn parse_answer(line: std::io::Result<String>, want: u32) -> Result<Answer> {
    let line = line.context("reading the runner's output")?;
    let answer: Answer =
        serde_json::from_str(&line).with_context(|| format!("the runner printed {line:?}"))?;
    if answer.id != want {
        bail!(
            "the runner answered test {} where {want} was due",
            answer.id
        );
    }
    Ok(answer)
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The runner's supervision, with a stand-in for run.mjs: test 2 hangs,
    /// test 4 kills the runner; every other test still gets its answer.
    #[test]
    fn a_hung_or_dying_test_costs_only_itself() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("fake.mjs");
        std::fs::write(
            &script,
            r#"import { writeSync } from "node:fs";
for (const id of process.argv.slice(3)) {
  if (id === "2") { setInterval(() => {}, 1000); await new Promise(() => {}); }
  if (id === "4") process.exit(3);
  writeSync(1, JSON.stringify({ id: Number(id), status: 200, body: "ok", logs: [] }) + "\n");
}
"#,
        )
        .unwrap();
        let answers = run_script(
            &script,
            dir.path(),
            &[1, 2, 3, 4, 5],
            Duration::from_secs(2),
        )
        .expect("node runs");
        let got: Vec<(u32, u16)> = answers.iter().map(|a| (a.id, a.status)).collect();
        assert_eq!(got, [(1, 200), (2, 0), (3, 200), (4, 0), (5, 200)]);
        assert!(
            answers[1].logs[0].starts_with("timeout"),
            "{:?}",
            answers[1].logs
        );
        assert!(
            answers[3].logs[0].contains("exited"),
            "{:?}",
            answers[3].logs
        );
    }
}
