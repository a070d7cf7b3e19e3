//! Compiling the application: the warm compile server when it can be used,
//! else elixirc, into a staging directory that becomes `_build/ebin` only
//! when the compile succeeds; and the framework's beams copied where the
//! project's own tests find them.

use crate::atomic::write_dir;
use crate::compile_server;
use crate::framework;
use crate::process::Cmd;
use crate::project::Project;
use crate::toolchain::Toolchain;
use crate::{Event, Reporter};
use anyhow::{Context as _, Result};
use std::path::{Path, PathBuf};

/// Runs elixirc on every source into a fresh directory that replaces
/// `_build/ebin` only when the compile succeeds.
pub(crate) fn compile_app(
    project: &Project,
    toolchain: &Toolchain,
    fw: &framework::Compiled,
    sources: &[PathBuf],
    report: Reporter<'_>,
) -> Result<()> {
    let relative: Vec<PathBuf> = sources
        .iter()
        .map(|s| {
            s.strip_prefix(&project.root)
                .map(Path::to_path_buf)
                .unwrap_or_else(|_| s.clone())
        })
        .collect();
    let printed = write_dir(&project.ebin_dir(), |staging| {
        // The warm compile server when it can be used, else elixirc.
        if compile_server::enabled() {
            match compile_server::compile(project, &fw.ebin, &fw.key, &relative, staging)
                .context("the application did not compile")?
            {
                compile_server::Outcome::Compiled(text) => return Ok(text),
                compile_server::Outcome::Unavailable(why) => report(Event::Warning(format!(
                    "compile server unavailable, using elixirc: {why}"
                ))),
            }
        }
        Ok(Cmd::new(&toolchain.elixirc, &project.root)
            .arg("-pa")
            .arg(&fw.ebin)
            .arg("-o")
            .arg(staging)
            .args(&relative)
            .capture()
            .context("the application did not compile")?
            .stderr)
    })?;
    let warnings = printed.trim_end();
    if !warnings.is_empty() {
        report(Event::Output(warnings.to_string()));
    }
    Ok(())
}

/// Copies the framework beams to `_build/framework/` (so the project's tests
/// can run on the BEAM with `-pa _build/framework`) when the key changed.
pub(crate) fn copy_framework_for_tests(project: &Project, fw: &framework::Compiled) -> Result<()> {
    let dir = project.framework_dir();
    let key_file = dir.join(".key");
    if std::fs::read_to_string(&key_file).is_ok_and(|k| k == fw.key) {
        return Ok(());
    }
    write_dir(&dir, |staging| {
        for beam in framework::beams_in(&fw.ebin)? {
            let to = staging.join(beam.file_name().expect("a beam has a name"));
            std::fs::copy(&beam, &to).with_context(|| {
                format!("could not copy {} to {}", beam.display(), to.display())
            })?;
        }
        std::fs::write(staging.join(".key"), &fw.key)
            .with_context(|| format!("could not write in {}", staging.display()))
    })
}
