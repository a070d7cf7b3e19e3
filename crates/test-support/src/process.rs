//! Running a command to completion with its output captured, and finding
//! the tools to run.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What a finished command printed, and how it ended.
#[derive(Debug)]
pub struct Run {
    /// The command line, for messages.
    pub command: String,
    /// The exit code; `None` when a signal ended it.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// The run, or a panic naming the command with both streams when it
    /// did not exit 0.
    #[track_caller]
    pub fn ok(self) -> Run {
        if !self.success() {
            panic!("{}", self.failure());
        }
        self
    }

    /// The run, or an error naming the command with both streams when it
    /// did not exit 0.
    pub fn check(self) -> Result<Run> {
        if !self.success() {
            bail!("{}", self.failure());
        }
        Ok(self)
    }

    /// Prints what the command printed, so that `cargo test -- --nocapture`
    /// shows it.
    pub fn echo(&self) {
        print!("{}", self.stdout);
        eprint!("{}", self.stderr);
    }

    fn failure(&self) -> String {
        let how = match self.code {
            Some(code) => format!("exit code {code}"),
            None => "a signal".to_string(),
        };
        format!(
            "{} failed ({how})\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command, self.stdout, self.stderr
        )
    }
}

/// Runs `cmd` to completion (stdin closed), its output captured; an error
/// only when it cannot start. The status is the caller's to judge.
pub fn output(cmd: &mut Command) -> Result<Run> {
    let command = format!("{cmd:?}");
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot start {command}"))?;
    Ok(Run {
        command,
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// [`output`] for a test: a command that cannot start is a panic.
#[track_caller]
pub fn run(cmd: &mut Command) -> Run {
    output(cmd).unwrap_or_else(|e| panic!("{e:#}"))
}

/// [`output`], and an error unless the command exited 0.
pub fn checked(cmd: &mut Command) -> Result<Run> {
    output(cmd)?.check()
}

/// A tool to hand to `Command::new`: `$VAR` when set, else `name`, which
/// the command looks up on `PATH`.
pub fn tool(var: &str, name: &str) -> PathBuf {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(name))
}

/// A tool that must be here before a test starts it: `$VAR` when set, else
/// the first of `names` found (a bare name on `PATH`, a path as it is), else
/// `None`.
pub fn find_tool(var: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(var).filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    names.iter().find_map(|name| {
        let name = Path::new(name);
        if name.components().count() > 1 {
            return name.is_file().then(|| name.to_path_buf());
        }
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}
