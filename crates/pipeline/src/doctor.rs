//! `doctor`: which tools and which runtime this machine has.

use crate::process::{self, Cmd, Tool};
use crate::runtime::Runtime;
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    /// Needed for `build` (false: only for dev/deploy).
    pub required_for_build: bool,
    pub path: Option<PathBuf>,
    pub version: Option<String>,
    /// What to do when it is missing or broken.
    pub hint: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    /// Everything `build` needs is there.
    pub fn can_build(&self) -> bool {
        self.checks
            .iter()
            .filter(|c| c.required_for_build)
            .all(|c| c.ok)
    }
    pub fn all_ok(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }
}

const ELIXIR_HINT: &str = "install Erlang/OTP and Elixir (Debian/Ubuntu: apt-get install erlang-nox erlang-dev elixir; macOS: brew install elixir)";
const NODE_HINT: &str = "install Node.js 18 or newer (https://nodejs.org or your package manager)";

fn first_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
        .to_string()
}

fn tool_check(
    tool: Tool,
    cwd: &Path,
    version_args: &[&str],
    pick: fn(&str) -> String,
    required: bool,
    hint: &str,
) -> Check {
    let path = match tool.resolve() {
        Ok(p) => p,
        Err(e) => {
            return Check {
                name: tool.name.into(),
                ok: false,
                required_for_build: required,
                path: None,
                version: None,
                hint: Some(format!("{e:#}; {hint}")),
            }
        }
    };
    let version = Cmd::new(&path, cwd).args(version_args).capture();
    match version {
        Ok(out) => Check {
            name: tool.name.into(),
            ok: true,
            required_for_build: required,
            path: Some(path),
            version: Some(pick(&(out.stdout + &out.stderr))),
            hint: None,
        },
        Err(e) => Check {
            name: tool.name.into(),
            ok: false,
            required_for_build: required,
            path: Some(path),
            version: None,
            hint: Some(format!("it is installed but does not run: {e:#}")),
        },
    }
}

pub fn doctor(cwd: &Path) -> Report {
    let elixir_line = |s: &str| {
        s.lines()
            .find(|l| l.starts_with("Elixir "))
            .map(str::to_string)
            .unwrap_or_else(|| first_line(s))
    };
    let mut checks = vec![
        tool_check(process::ELIXIRC, cwd, &["--version"], elixir_line, true, ELIXIR_HINT),
        tool_check(
            process::ERL,
            cwd,
            &["-noshell", "-eval", "io:format(\"Erlang/OTP ~s (erts ~s)~n\", [erlang:system_info(otp_release), erlang:system_info(version)]), halt()."],
            first_line,
            true,
            ELIXIR_HINT,
        ),
    ];
    // erlc has no version flag; finding it is the check.
    checks.push(match process::ERLC.resolve() {
        Ok(p) => Check {
            name: "erlc".into(),
            ok: true,
            required_for_build: false,
            path: Some(p),
            version: None,
            hint: None,
        },
        Err(e) => Check {
            name: "erlc".into(),
            ok: false,
            required_for_build: false,
            path: None,
            version: None,
            hint: Some(format!("{e:#}; {ELIXIR_HINT}")),
        },
    });
    for tool in [process::NODE, process::NPM, process::NPX] {
        checks.push(tool_check(
            tool,
            cwd,
            &["--version"],
            first_line,
            false,
            NODE_HINT,
        ));
    }
    // wrangler: only the project's own copy (npx --no-install never downloads).
    let wrangler = match process::NPX.resolve() {
        Ok(npx) => match Cmd::new(&npx, cwd).args(["--no-install", "wrangler", "--version"]).capture() {
            Ok(out) => Check {
                name: "wrangler".into(),
                ok: true,
                required_for_build: false,
                path: None,
                version: Some(out.stdout.lines().map(str::trim).rfind(|l| !l.is_empty()).unwrap_or("").to_string()),
                hint: None,
            },
            Err(_) => Check {
                name: "wrangler".into(),
                ok: false,
                required_for_build: false,
                path: None,
                version: None,
                hint: Some("not installed in this project: run `npm install` in the project (elixir-workers build does it when node_modules/ is missing)".into()),
            },
        },
        Err(_) => Check { name: "wrangler".into(), ok: false, required_for_build: false, path: None, version: None, hint: Some(NODE_HINT.into()) },
    };
    checks.push(wrangler);
    checks.push(match Runtime::locate() {
        Ok(rt) => {
            let commit = rt
                .info
                .as_ref()
                .and_then(|i| i.get("atomvm_commit").or_else(|| i.get("atomvm")).cloned())
                .map(|v| {
                    v.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string())
                });
            let size = rt.wasm().metadata().map(|m| m.len()).unwrap_or(0);
            let stdlib = rt.stdlib_beams().map(|b| b.len()).unwrap_or(0);
            Check {
                name: "runtime".into(),
                ok: true,
                required_for_build: true,
                path: Some(rt.dir.clone()),
                version: Some(format!(
                    "atomvm.wasm {size} B, {stdlib} stdlib modules{}",
                    commit.map(|c| format!(", AtomVM {c}")).unwrap_or_default()
                )),
                hint: None,
            }
        }
        Err(e) => Check {
            name: "runtime".into(),
            ok: false,
            required_for_build: true,
            path: None,
            version: None,
            hint: Some(format!("{e:#}")),
        },
    });
    Report { checks }
}
