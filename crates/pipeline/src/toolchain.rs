//! The Elixir/OTP installation that compiles code, identified cheaply.
//!
//! The framework cache is keyed by the Elixir and OTP versions. Starting the
//! VM to ask (`elixir --version`) costs hundreds of milliseconds, which a
//! no-change build cannot afford, so the versions are read from the
//! installation's files (`elixir.app`, `releases/*/OTP_VERSION`) and the VM is
//! asked only when those are not where a standard install puts them.

use crate::process::{self, Cmd};
use anyhow::Result;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toolchain {
    pub elixirc: PathBuf,
    /// Elixir's own compiled stdlib (`lib/elixir/ebin` of the installation
    /// whose elixirc compiles the app), when it is where an install puts it.
    pub elixir_ebin: Option<PathBuf>,
    /// OTP's `stdlib` application of the same installation, for the modules
    /// AtomVM's stdlib does not have (`unicode_util`, `io_lib_format`, ...).
    pub otp_stdlib_ebin: Option<PathBuf>,
    /// OTP's `kernel` application, for the one module taken from it
    /// (`inet_parse`, which parses IP addresses).
    pub otp_kernel_ebin: Option<PathBuf>,
    pub elixir_version: String,
    pub otp_version: String,
}

impl Toolchain {
    pub fn detect(cwd: &Path) -> Result<Toolchain> {
        let elixirc = process::ELIXIRC.resolve()?;
        let real = elixirc.canonicalize().unwrap_or_else(|_| elixirc.clone());
        let elixir_ebin = real
            .parent()
            .and_then(Path::parent)
            .map(|root| root.join("lib/elixir/ebin"))
            .filter(|ebin| ebin.join("elixir.app").is_file());
        let from_files = elixir_ebin
            .as_ref()
            .and_then(|ebin| elixir_version_from_app(&ebin.join("elixir.app")))
            .zip(otp_version_from_files());
        let (elixir_version, otp_version) = match from_files {
            Some(v) => v,
            None => versions_from_vm(&elixirc, cwd)?,
        };
        Ok(Toolchain {
            elixirc,
            elixir_ebin,
            otp_stdlib_ebin: otp_app_ebin("stdlib"),
            otp_kernel_ebin: otp_app_ebin("kernel"),
            elixir_version,
            otp_version,
        })
    }

    /// A short identifier of this toolchain for cache keys.
    pub fn key(&self) -> String {
        format!("elixir-{}-otp-{}", self.elixir_version, self.otp_version)
    }
}

fn elixir_version_from_app(app: &Path) -> Option<String> {
    let text = std::fs::read_to_string(app).ok()?;
    let rest = &text[text.find("{vsn,")? + 5..];
    let start = rest.find('"')? + 1;
    let len = rest[start..].find('"')?;
    Some(rest[start..start + len].to_string())
}

fn otp_version_from_files() -> Option<String> {
    let erl = process::ERL.resolve().ok()?.canonicalize().ok()?;
    // <root>/bin/erl or <root>/erts-*/bin/erl
    let root = erl.ancestors().find(|dir| dir.join("releases").is_dir())?;
    let mut releases: Vec<_> = std::fs::read_dir(root.join("releases"))
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("OTP_VERSION"))
        .filter(|p| p.is_file())
        .collect();
    releases.sort();
    let text = std::fs::read_to_string(releases.last()?).ok()?;
    Some(text.trim().to_string())
}

/// `<OTP root>/lib/<app>-<vsn>/ebin` of the `erl` on PATH (the newest when
/// there are several).
fn otp_app_ebin(app: &str) -> Option<PathBuf> {
    let prefix = format!("{app}-");
    let erl = process::ERL.resolve().ok()?.canonicalize().ok()?;
    let root = erl
        .ancestors()
        .find(|dir| dir.join("lib").is_dir() && dir.join("releases").is_dir())?;
    let mut found: Vec<PathBuf> = std::fs::read_dir(root.join("lib"))
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix))
        })
        .map(|p| p.join("ebin"))
        .filter(|p| p.is_dir())
        .collect();
    found.sort();
    found.pop()
}

fn versions_from_vm(elixirc: &Path, cwd: &Path) -> Result<(String, String)> {
    let out = Cmd::new(elixirc, cwd).arg("--version").capture()?;
    let otp = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Erlang/OTP "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or("unknown")
        .to_string();
    let elixir = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Elixir "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or("unknown")
        .to_string();
    Ok((elixir, otp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_file_version() {
        let tmp = tempfile::tempdir().unwrap();
        let app = tmp.path().join("elixir.app");
        std::fs::write(
            &app,
            "{application,elixir,\n [{description,\"elixir\"},\n  {vsn,\"1.14.0\"},\n",
        )
        .unwrap();
        assert_eq!(elixir_version_from_app(&app).as_deref(), Some("1.14.0"));
    }
}
