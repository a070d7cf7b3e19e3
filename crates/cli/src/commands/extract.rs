//! `elixir-workers extract FILE.avm -o DIR`

use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The archive to read
    #[arg(value_name = "FILE.avm")]
    pub file: PathBuf,

    /// Directory to write the sections into (created if missing)
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub output: PathBuf,

    /// Print nothing on success
    #[arg(short, long)]
    pub quiet: bool,
}

/// A section name as a relative path that stays inside the output directory.
fn safe_relative(name: &str) -> Option<&Path> {
    let p = Path::new(name);
    let ok = !name.is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)));
    ok.then_some(p)
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    // Read and check the whole archive before writing anything.
    let archive = avm::Archive::parse(&bytes).map_err(|e| e.with_file(&args.file))?;
    // Names must also be unique, and none may be a directory of another
    // (`a` beside `a/b`): otherwise a later write would overwrite or fail
    // after earlier files were written.
    let mut seen: std::collections::BTreeMap<&Path, u64> = std::collections::BTreeMap::new();
    for s in &archive.sections {
        let Some(rel) = safe_relative(&s.name) else {
            bail!(
                "{}: at byte {}: section name `{}` is not a plain relative path",
                args.file.display(),
                s.offset,
                s.name
            );
        };
        if let Some(first) = seen.insert(rel, s.offset) {
            bail!(
                "{}: at byte {}: section name `{}` repeats the section at byte {first}",
                args.file.display(),
                s.offset,
                s.name
            );
        }
    }
    for (rel, offset) in &seen {
        if let Some(dir) = rel.ancestors().skip(1).find(|a| seen.contains_key(a)) {
            bail!(
                "{}: at byte {offset}: section `{}` would need `{}`, also a section, to be a directory",
                args.file.display(),
                rel.display(),
                dir.display()
            );
        }
    }
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("cannot create {}", args.output.display()))?;
    for s in &archive.sections {
        let rel = safe_relative(&s.name).expect("checked above");
        let dest = args.output.join(rel);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        pipeline::atomic::write_with(&dest, |w| w.write_all(s.contents()))?;
    }
    if !args.quiet {
        eprintln!(
            "extracted {} sections into {}",
            archive.sections.len(),
            args.output.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
