//! The tools a runtime build needs, found on `PATH` (or through an
//! environment variable each), and what to install when they are missing.

use crate::process;
use anyhow::{bail, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every package a runtime build needs, per platform.
pub const INSTALL_HINTS: &[(&str, &str)] = &[
    (
        "Debian/Ubuntu",
        "sudo apt-get install clang-16 lld-16 llvm-16 wasi-libc libclang-rt-16-dev-wasm32 gperf binaryen erlang-nox erlang-dev elixir",
    ),
    (
        "Fedora",
        "sudo dnf install clang lld llvm wasi-libc-devel compiler-rt gperf binaryen erlang elixir",
    ),
    (
        "macOS",
        "brew install llvm lld wasi-libc wasi-runtimes gperf binaryen elixir, then \
         export CLANG=\"$(brew --prefix llvm)/bin/clang\" WASI_SYSROOT=\"$(brew --prefix wasi-libc)/share/wasi-sysroot\"",
    ),
];

/// The install lines of [`INSTALL_HINTS`], one per platform, indented.
pub fn install_hint() -> String {
    INSTALL_HINTS
        .iter()
        .map(|(os, line)| format!("  {os}: {line}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The clang names tried, newest first after the version the runtime is
/// released with.
pub const CLANG_NAMES: &[&str] = &["clang-16", "clang-17", "clang-18", "clang-19", "clang"];

#[derive(Debug, Clone)]
pub struct Tools {
    pub clang: PathBuf,
    pub gperf: PathBuf,
    pub erlc: PathBuf,
    pub erl: PathBuf,
    pub elixirc: PathBuf,
    pub elixir: PathBuf,
    pub wasm_opt: Option<PathBuf>,
    /// `$WASI_SYSROOT`: where wasi-libc is when clang does not know.
    pub sysroot: Option<PathBuf>,
}

impl Tools {
    /// Finds every tool, or fails naming all that are missing and the
    /// packages that bring them.
    pub fn find(wasm_opt: bool) -> Result<Tools> {
        let mut missing = Vec::new();
        let mut need = |var: &str, names: &[&str]| {
            process::find(var, names).unwrap_or_else(|| {
                missing.push(format!("{} (or set {var})", names[0]));
                PathBuf::new()
            })
        };
        let tools = Tools {
            clang: need("CLANG", CLANG_NAMES),
            gperf: need("GPERF", &["gperf"]),
            erlc: need("ERLC", &["erlc"]),
            erl: need("ERL", &["erl"]),
            elixirc: need("ELIXIRC", &["elixirc"]),
            elixir: need("ELIXIR", &["elixir"]),
            wasm_opt: wasm_opt
                .then(|| process::find("WASM_OPT", &["wasm-opt"]))
                .flatten(),
            sysroot: std::env::var_os("WASI_SYSROOT")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from),
        };
        if !missing.is_empty() {
            bail!(
                "the runtime build needs {}, which {} not on PATH; install:\n{}",
                missing.join(", "),
                if missing.len() == 1 { "is" } else { "are" },
                install_hint()
            );
        }
        Ok(tools)
    }

    /// `--sysroot=...` when `$WASI_SYSROOT` is set.
    pub fn sysroot_flags(&self) -> Vec<String> {
        self.sysroot
            .iter()
            .map(|s| format!("--sysroot={}", s.display()))
            .collect()
    }

    /// Compiles and links an empty program, so that a missing wasi-libc,
    /// builtins library or wasm-ld is reported as such before the long build.
    pub fn check_wasi(&self, scratch: &Path) -> Result<()> {
        std::fs::create_dir_all(scratch)?;
        std::fs::write(
            scratch.join("probe.c"),
            "#include <stdio.h>\nint main(void) { return puts(\"\") < 0; }\n",
        )?;
        let out = process::Cmd::new(&self.clang)
            .current_dir(scratch)
            .args(["--target=wasm32-wasi", "-O0", "probe.c", "-o", "probe.wasm"])
            .args(self.sysroot_flags())
            .output()?;
        if !out.status.success() {
            bail!(
                "{} cannot build a wasm32-wasi program (wasi-libc, the wasm32 builtins or \
                 wasm-ld missing?); install:\n{}\n{}",
                self.clang.display(),
                install_hint(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }

    /// The versions recorded in `runtime.json`.
    pub fn versions(&self) -> BTreeMap<&'static str, String> {
        let mut v = BTreeMap::new();
        v.insert("clang", process::first_line(&self.clang, &["--version"]));
        v.insert(
            "erlc",
            process::first_line(
                &self.erl,
                &[
                    "-noshell",
                    "-eval",
                    "io:put_chars([\"OTP \", erlang:system_info(otp_release), \" erts \", erlang:system_info(version), \"\\n\"]), halt().",
                ],
            ),
        );
        let elixir = process::Cmd::new(&self.elixir)
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        v.insert(
            "elixirc",
            elixir
                .lines()
                .find(|l| l.starts_with("Elixir"))
                .unwrap_or("unknown")
                .trim()
                .to_string(),
        );
        v.insert("gperf", process::first_line(&self.gperf, &["--version"]));
        if let Some(wasm_opt) = &self.wasm_opt {
            v.insert("wasm-opt", process::first_line(wasm_opt, &["--version"]));
        }
        v
    }
}

/// Whether a runtime build could start here: every tool is on `PATH`.
/// (`build`/`dev` build a missing runtime on their own only then.)
pub fn available() -> bool {
    Tools::find(false).is_ok()
}
