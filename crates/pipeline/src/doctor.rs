//! `doctor`: which tools and which runtime this machine has.

use crate::process::{self, Cmd, Tool};
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
const NODE_HINT: &str = "wrangler needs Node.js 20.3 or newer (Debian 12 ships 18): \
     https://nodejs.org, `nvm install 20`, Fedora `dnf install nodejs20`, macOS `brew install node`";

/// The oldest versions this toolchain is tested with or that its tools need:
/// wrangler 4 refuses Node.js before 20.3; the framework and the compile
/// server use Elixir 1.14 and OTP 25 features; the runtime's C is built with
/// clang 16.
pub const MIN_NODE: (u32, u32) = (20, 3);
pub const MIN_ELIXIR: (u32, u32) = (1, 14);
pub const MIN_OTP: (u32, u32) = (25, 0);
pub const MIN_CLANG: (u32, u32) = (16, 0);

/// The first `major.minor` in `text` after `after` (`"v20.3.1"` → (20, 3)).
pub fn parse_version(text: &str, after: &str) -> Option<(u32, u32)> {
    let rest = &text[text.find(after)? + after.len()..];
    let rest = rest.trim_start_matches(|c: char| !c.is_ascii_digit());
    let mut parts = rest.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().and_then(|m| m.parse().ok()).unwrap_or(0);
    Some((major, minor))
}

/// Marks a found tool that is too old as a failed check, with the fix.
fn apply_minimums(checks: &mut [Check]) {
    for c in checks.iter_mut().filter(|c| c.ok) {
        let Some(version) = c.version.clone() else {
            continue;
        };
        let (found, min, what, hint) = match c.name.as_str() {
            "node" => (parse_version(&version, "v"), MIN_NODE, "Node.js", NODE_HINT),
            "elixirc" => (
                parse_version(&version, "Elixir "),
                MIN_ELIXIR,
                "Elixir",
                ELIXIR_HINT,
            ),
            "erl" => (
                parse_version(&version, "Erlang/OTP "),
                MIN_OTP,
                "Erlang/OTP",
                ELIXIR_HINT,
            ),
            "clang" => (parse_version(&version, "version "), MIN_CLANG, "clang", ""),
            _ => continue,
        };
        match found {
            Some(v) if v >= min => {}
            Some((major, minor)) => {
                c.ok = false;
                c.hint = Some(format!(
                    "{what} {major}.{minor} is too old: {}.{} or newer is needed; {}",
                    min.0,
                    min.1,
                    if hint.is_empty() {
                        ew_runtime::toolchain::install_hint()
                    } else {
                        hint.to_string()
                    }
                ));
            }
            None => {
                c.hint = Some(format!("could not read a version from {version:?}"));
            }
        }
    }
}

/// Stops `dev`/`deploy` early when Node.js is missing or too old for wrangler.
pub fn require_node(cwd: &Path) -> anyhow::Result<()> {
    let mut check = [tool_check(
        process::NODE,
        cwd,
        &["--version"],
        first_line,
        false,
        NODE_HINT,
    )];
    apply_minimums(&mut check);
    let [c] = check;
    if c.ok {
        Ok(())
    } else {
        anyhow::bail!(
            "{}: {}",
            c.path
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "node".into()),
            c.hint.unwrap_or_default()
        )
    }
}

/// The C compiler for `runtime build` (only needed when no prebuilt
/// runtime is installed).
fn clang_check(cwd: &Path) -> Check {
    match ew_runtime::process::find("CLANG", ew_runtime::toolchain::CLANG_NAMES) {
        Some(path) => {
            let version = Cmd::new(&path, cwd)
                .args(["--version"])
                .capture()
                .ok()
                .map(|o| first_line(&o.stdout));
            Check {
                name: "clang".into(),
                ok: version.is_some(),
                required_for_build: false,
                path: Some(path),
                version,
                hint: None,
            }
        }
        None => Check {
            name: "clang".into(),
            ok: false,
            required_for_build: false,
            path: None,
            version: None,
            hint: Some(format!(
                "only needed to build the runtime (`elixir-workers runtime build`); install:\n{}",
                ew_runtime::toolchain::install_hint()
            )),
        },
    }
}

/// Which runtime a build would use, and whether it is the binary's.
fn runtime_check() -> Check {
    let status = ew_runtime::locate::status();
    // With the toolchain here, `build` builds a missing runtime itself.
    let env_set = std::env::var_os(ew_runtime::RUNTIME_ENV).is_some_and(|v| !v.is_empty());
    let buildable = status.dir.is_none() && !env_set && ew_runtime::toolchain::available();
    let detail = status.dir.as_ref().map(|dir| {
        let size = dir
            .join("atomvm.wasm")
            .metadata()
            .map(|m| m.len())
            .unwrap_or(0);
        format!(
            "{} ({}; atomvm.wasm {size} B{})",
            status.found_id.as_deref().unwrap_or("no id"),
            match status.origin {
                Some(ew_runtime::Origin::Env) => "from ELIXIR_WORKERS_RUNTIME",
                _ => "user cache",
            },
            if status.modified {
                ", built from modified AtomVM source"
            } else {
                ""
            }
        )
    });
    Check {
        name: "runtime".into(),
        // A runtime named by ELIXIR_WORKERS_RUNTIME is used whatever its id
        // (the hint says when it is not the binary's).
        ok: status.matches || status.origin == Some(ew_runtime::Origin::Env),
        required_for_build: !buildable,
        path: status.dir.clone(),
        version: detail,
        hint: status.problem.clone().map(|p| {
            if buildable {
                format!("{p}\n(`build` will build it on first use: the toolchain is here)")
            } else {
                p
            }
        }),
    }
}

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
    checks.push(clang_check(cwd));
    checks.push(runtime_check());
    apply_minimums(&mut checks);
    Report { checks }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(name: &str, version: &str) -> Check {
        Check {
            name: name.into(),
            ok: true,
            required_for_build: false,
            path: None,
            version: Some(version.into()),
            hint: None,
        }
    }

    #[test]
    fn versions_are_read_from_what_each_tool_prints() {
        assert_eq!(parse_version("v20.3.1", "v"), Some((20, 3)));
        assert_eq!(
            parse_version("Elixir 1.14.0 (compiled with Erlang/OTP 24)", "Elixir "),
            Some((1, 14))
        );
        assert_eq!(
            parse_version("Erlang/OTP 25 (erts 13.1.5)", "Erlang/OTP "),
            Some((25, 0))
        );
        assert_eq!(
            parse_version("Debian clang version 16.0.6 (15~deb12u1)", "version "),
            Some((16, 0))
        );
        assert_eq!(parse_version("no digits here", "v"), None);
    }

    #[test]
    fn a_tool_below_its_minimum_fails_with_the_fix() {
        let mut checks = [
            found("node", "v18.20.4"),
            found("node", "v20.3.0"),
            found("elixirc", "Elixir 1.13.4 (compiled with Erlang/OTP 24)"),
            found("erl", "Erlang/OTP 25 (erts 13.1.5)"),
            found("clang", "Debian clang version 14.0.6"),
        ];
        apply_minimums(&mut checks);
        assert!(!checks[0].ok);
        let hint = checks[0].hint.as_deref().unwrap();
        assert!(
            hint.starts_with("Node.js 18.20 is too old: 20.3 or newer is needed"),
            "{hint}"
        );
        assert!(checks[1].ok && checks[3].ok);
        assert!(!checks[2].ok && checks[2].hint.as_deref().unwrap().contains("1.14 or newer"));
        assert!(!checks[4].ok && checks[4].hint.as_deref().unwrap().contains("clang-16"));
    }
}
