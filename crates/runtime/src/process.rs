//! Running the build's tools, the one place in this crate that starts a
//! process: every command line is shown in full when it fails, with the
//! tool's own error output.

use anyhow::{bail, Context as _, Result};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `$env_var` when set (a path naming a file, or a name looked up on
/// `PATH`), else the first of `names` found on `PATH`.
pub fn find(env_var: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(value) = std::env::var_os(env_var).filter(|v| !v.is_empty()) {
        let path = PathBuf::from(&value);
        if path.components().count() > 1 {
            return path.is_file().then_some(path);
        }
        return find_on_path(&value);
    }
    names.iter().find_map(|name| find_on_path(name.as_ref()))
}

/// The first executable file called `name` in a directory of `PATH`.
pub fn find_on_path(name: &std::ffi::OsStr) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// A tool to run. Every process this crate starts is built and started
/// here, so that a failure always names the command line in full.
#[derive(Debug)]
pub struct Cmd(Command);

impl Cmd {
    pub fn new(program: impl AsRef<OsStr>) -> Cmd {
        Cmd(Command::new(program))
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Cmd {
        self.0.arg(arg);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.0.args(args);
        self
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Cmd {
        self.0.current_dir(dir);
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Cmd {
        self.0.env(key, value);
        self
    }

    /// The command line as a user would type it (arguments with spaces quoted).
    pub fn display(&self) -> String {
        std::iter::once(self.0.get_program())
            .chain(self.0.get_args())
            .map(|a| {
                let a = a.to_string_lossy();
                if a.is_empty() || a.contains(|c: char| c.is_whitespace() || c == '"') {
                    format!("{a:?}")
                } else {
                    a.into_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Runs the command to completion; fails with its command line and
    /// output unless it exits 0.
    pub fn run(mut self) -> Result<Output> {
        let out = self.wait()?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let stdout = String::from_utf8_lossy(&out.stdout);
            bail!(
                "`{}` failed ({})\n{}{}",
                self.display(),
                out.status,
                stderr.trim(),
                if stdout.trim().is_empty() {
                    String::new()
                } else {
                    format!("\n{}", stdout.trim())
                }
            );
        }
        Ok(out)
    }

    /// Runs the command to completion whatever its exit status, for a
    /// caller that explains a failure in its own words; fails only when the
    /// tool cannot be started.
    pub fn output(mut self) -> Result<Output> {
        self.wait()
    }

    fn wait(&mut self) -> Result<Output> {
        match self.0.output() {
            Ok(out) => Ok(out),
            Err(e) => Err(e).with_context(|| format!("could not start `{}`", self.display())),
        }
    }
}

/// The first line `tool args` prints on stdout, or `"unknown"`.
pub fn first_line(tool: &Path, args: &[&str]) -> String {
    Cmd::new(tool)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .map(str::to_string)
        })
        .unwrap_or_else(|| "unknown".to_string())
}
