//! The one place that runs external tools (elixirc, erlc, npm, npx, node).
//!
//! Every command gets an explicit working directory; a tool is found through
//! its environment override (`ELIXIRC=/path/to/elixirc`) and then `PATH`; a
//! failure names the full command line and keeps what the tool wrote on
//! stderr; a child's exit code is carried in [`ToolFailed`] so the CLI can
//! pass it through.

use anyhow::{Context as _, Result};
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};

/// An external tool: its file name and the variable that overrides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tool {
    pub name: &'static str,
    pub env: &'static str,
}

pub const ELIXIRC: Tool = Tool::new("elixirc", "ELIXIRC");
pub const ELIXIR: Tool = Tool::new("elixir", "ELIXIR");
pub const ERLC: Tool = Tool::new("erlc", "ERLC");
pub const ERL: Tool = Tool::new("erl", "ERL");
pub const NODE: Tool = Tool::new("node", "NODE");
pub const NPM: Tool = Tool::new("npm", "NPM");
pub const NPX: Tool = Tool::new("npx", "NPX");

impl Tool {
    const fn new(name: &'static str, env: &'static str) -> Tool {
        Tool { name, env }
    }

    /// Finds the tool: `$ENV` when set and non-empty (a path, or a name looked
    /// up on `PATH`), else the tool's own name on `PATH`.
    pub fn resolve(&self) -> Result<PathBuf> {
        if let Some(value) = std::env::var_os(self.env).filter(|v| !v.is_empty()) {
            let candidate = PathBuf::from(&value);
            if candidate.components().count() > 1 {
                anyhow::ensure!(
                    candidate.is_file(),
                    "{}={} does not name a file",
                    self.env,
                    candidate.display()
                );
                // Children run with the project root as their directory, so
                // a path relative to the user's directory must be made
                // absolute before it is handed on.
                return std::path::absolute(&candidate).with_context(|| {
                    format!("{}={} cannot be resolved", self.env, candidate.display())
                });
            }
            return find_on_path(&value).with_context(|| {
                format!(
                    "{}={} was not found on PATH",
                    self.env,
                    value.to_string_lossy()
                )
            });
        }
        find_on_path(OsStr::new(self.name)).with_context(|| {
            format!(
                "`{}` was not found on PATH (install it, or set {} to its path)",
                self.name, self.env
            )
        })
    }
}

use ew_runtime::process::find_on_path;

/// A tool exited unsuccessfully. Its exit code is passed through by the CLI.
#[derive(Debug)]
pub struct ToolFailed {
    /// The command line, shell-quoted.
    pub command: String,
    pub cwd: PathBuf,
    /// `None` when the tool was killed by a signal.
    pub code: Option<i32>,
    /// The code to exit with on its behalf: its own, or 128 + the signal
    /// ([`exit_code`]), the same convention `dev`'s passthrough uses.
    pub exit: i32,
    /// What the tool wrote on stdout (empty when it was streamed); some
    /// tools (elixirc) print their errors there.
    pub stdout: String,
    /// What the tool wrote on stderr (empty when it was streamed).
    pub stderr: String,
}

impl fmt::Display for ToolFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.code {
            Some(code) => write!(f, "command failed with exit code {code}")?,
            None => write!(f, "command was killed by a signal")?,
        }
        write!(f, ": {} (in {})", self.command, self.cwd.display())?;
        for text in [&self.stdout, &self.stderr] {
            let text = text.trim_matches('\n').trim_end();
            if !text.is_empty() {
                write!(f, "\n{text}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ToolFailed {}

/// A command about to run: program, arguments, working directory.
#[derive(Debug, Clone)]
pub struct Cmd {
    program: PathBuf,
    args: Vec<OsString>,
    cwd: PathBuf,
    env: Vec<(OsString, OsString)>,
}

/// What a captured command printed.
#[derive(Debug, Clone, Default)]
pub struct Captured {
    pub stdout: String,
    pub stderr: String,
}

impl Cmd {
    pub fn new(program: impl Into<PathBuf>, cwd: impl Into<PathBuf>) -> Self {
        Cmd {
            program: program.into(),
            args: Vec::new(),
            cwd: cwd.into(),
            env: Vec::new(),
        }
    }

    /// Resolves `tool` (see [`Tool::resolve`]) and starts a command for it.
    pub fn tool(tool: Tool, cwd: impl Into<PathBuf>) -> Result<Self> {
        Ok(Cmd::new(tool.resolve()?, cwd))
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    pub fn program(&self) -> &Path {
        &self.program
    }

    /// The command line as a user could paste it into a shell.
    pub fn display(&self) -> String {
        std::iter::once(self.program.as_os_str())
            .chain(self.args.iter().map(OsString::as_os_str))
            .map(|a| shell_quote(&a.to_string_lossy()))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args(&self.args).current_dir(&self.cwd);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    fn failed(&self, status: ExitStatus, stdout: String, stderr: String) -> ToolFailed {
        ToolFailed {
            command: self.display(),
            cwd: self.cwd.clone(),
            code: status.code(),
            exit: exit_code(status),
            stdout,
            stderr,
        }
    }

    /// Runs to completion with stdout and stderr captured (stderr drained on
    /// its own thread so a chatty tool never blocks on a full pipe). A
    /// non-zero exit is a [`ToolFailed`] holding the stderr text.
    pub fn capture(&self) -> Result<Captured> {
        let mut child = self
            .command()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("could not start {}", self.display()))?;
        let mut stderr_pipe = child.stderr.take().expect("stderr is piped");
        let drain = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stderr_pipe.read_to_end(&mut buf);
            buf
        });
        let mut stdout = Vec::new();
        let read = child
            .stdout
            .take()
            .expect("stdout is piped")
            .read_to_end(&mut stdout);
        if let Err(err) = read {
            // Leave nothing behind: no running child, no drain thread.
            let _ = child.kill();
            let _ = child.wait();
            let _ = drain.join();
            return Err(anyhow::Error::new(err)
                .context(format!("could not read the output of {}", self.display())));
        }
        let status = child
            .wait()
            .with_context(|| format!("could not wait for {}", self.display()))?;
        let stderr = String::from_utf8_lossy(&drain.join().unwrap_or_default()).into_owned();
        let stdout = String::from_utf8_lossy(&stdout).into_owned();
        if !status.success() {
            return Err(self.failed(status, stdout, stderr).into());
        }
        Ok(Captured { stdout, stderr })
    }

    /// Runs with the terminal's stdin/stdout/stderr (output streams straight
    /// to the user) and returns the exit status without judging it.
    pub fn status(&self) -> Result<ExitStatus> {
        self.command()
            .status()
            .with_context(|| format!("could not start {}", self.display()))
    }

    /// Starts with inherited stdio; the caller waits.
    pub fn spawn(&self) -> Result<Child> {
        self.command()
            .spawn()
            .with_context(|| format!("could not start {}", self.display()))
    }

    /// Starts in a process group of its own (so a signal can reach the
    /// whole tree: npx, a shell, node, workerd), stdout/stderr inherited,
    /// stdin closed: a background group must not read the terminal.
    pub fn spawn_group(&self) -> Result<Child> {
        use std::os::unix::process::CommandExt as _;
        self.command()
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()
            .with_context(|| format!("could not start {}", self.display()))
    }

    /// Starts a background server: its own process group (a Ctrl-C meant
    /// for us does not reach it) and no stdio.
    pub fn spawn_detached(&self) -> Result<Child> {
        use std::os::unix::process::CommandExt as _;
        self.command()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .with_context(|| format!("could not start {}", self.display()))
    }

    /// Like [`Cmd::status`], but a non-zero exit is a [`ToolFailed`].
    pub fn run_streaming(&self) -> Result<()> {
        let status = self.status()?;
        if !status.success() {
            return Err(self.failed(status, String::new(), String::new()).into());
        }
        Ok(())
    }
}

/// Sends `signal` to the process group `group` (a child started in its own
/// group: [`Cmd::spawn_detached`], `spawn_group`); 0 or less does nothing.
pub(crate) fn signal_group(group: i32, signal: i32) {
    if group > 0 {
        // SAFETY: kill(2) on a process group we created, with a valid signal
        // number, has no memory-safety preconditions.
        unsafe {
            libc::kill(-group, signal);
        }
    }
}

/// The exit code to report for a finished child: its own code, or 128 + the
/// signal number when a signal ended it (the shell convention).
pub fn exit_code(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt as _;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

fn shell_quote(arg: &str) -> String {
    if !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:@+,%".contains(c))
    {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("a/b.ex"), "a/b.ex");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn failure_keeps_command_code_and_stderr() {
        let cmd = Cmd::new("/bin/sh", "/").args(["-c", "echo oops >&2; exit 3"]);
        let err = cmd.capture().unwrap_err();
        let failed = err.downcast_ref::<ToolFailed>().unwrap();
        assert_eq!(failed.code, Some(3));
        assert_eq!(failed.stderr.trim(), "oops");
        assert!(failed.to_string().contains("/bin/sh -c"), "{failed}");
    }

    #[test]
    fn env_override_must_exist() {
        let tool = Tool {
            name: "sh",
            env: "ELIXIR_WORKERS_TEST_NO_SUCH_TOOL",
        };
        assert!(tool.resolve().is_ok());
        // This variable is private to this test, so no other thread reads it.
        let var = "ELIXIR_WORKERS_TEST_MISSING_TOOL";
        let tool = Tool {
            name: "sh",
            env: var,
        };
        std::env::set_var(var, "/nonexistent/dir/tool");
        let err = tool.resolve().unwrap_err().to_string();
        assert!(err.contains("does not name a file"), "{err}");
    }
}
