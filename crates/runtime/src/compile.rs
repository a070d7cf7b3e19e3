//! Compiling C for wasm32-wasi: AtomVM's core and our adapter as units with
//! their flags, each object named by the hash of everything that goes into
//! it (compiler version, flags, headers, source) and cached under that name,
//! `jobs` compiles at a time.

use crate::identity::ATOMVM_PIN;
use crate::process::{self, Cmd};
use crate::settings::{
    ADAPTER_SOURCES, COMMON_CFLAGS, CORE_FILE_DEFINES, CORE_HEADER_PATCHES, CORE_SOURCES,
    CORE_SOURCE_EDITS,
};
use crate::source::AtomVmSource;
use crate::{Progress, Reporter};
use anyhow::{bail, Context as _, Result};
use sha2::{Digest as _, Sha256};
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

/// One C file to compile: its source, the object's base name and its flags.
#[derive(Debug, Clone)]
pub struct Unit {
    pub source: PathBuf,
    pub name: String,
    pub flags: Vec<String>,
}

pub(crate) fn units(
    atomvm: &AtomVmSource,
    adapter_dir: &Path,
    gen_dir: &Path,
    extra: &[String],
) -> Result<Vec<Unit>> {
    // Every core file and every header of AtomVM's is compiled from the
    // edited copy, so no object sees an unedited header.
    let lib = edited_core(&atomvm.lib(), gen_dir)?;
    let prelude = adapter_dir.join("core_prelude.h");
    let mut common: Vec<String> = COMMON_CFLAGS.iter().map(|s| s.to_string()).collect();
    common.extend(extra.iter().cloned());
    let mut units = Vec::new();
    for name in CORE_SOURCES {
        let mut source = lib.join(format!("{name}.c"));
        if !source.is_file() {
            bail!(
                "{name}.c is missing from {}: is {} AtomVM at {ATOMVM_PIN}?",
                atomvm.lib().display(),
                atomvm.root.display()
            );
        }
        if CORE_HEADER_PATCHES.iter().any(|(file, ..)| file == name) {
            source = patched_core(&lib, adapter_dir, gen_dir, name)?;
        }
        let mut flags = common.clone();
        // Upstream code, built unchanged: its warnings are upstream's business.
        flags.extend([
            "-w".to_string(),
            format!("-I{}", gen_dir.display()),
            format!("-I{}", lib.display()),
            "-include".to_string(),
            prelude.display().to_string(),
        ]);
        flags.extend(
            CORE_FILE_DEFINES
                .iter()
                .filter(|(file, _)| file == name)
                .map(|(_, define)| define.to_string()),
        );
        units.push(Unit {
            source,
            name: format!("core-{name}"),
            flags,
        });
    }
    for name in ADAPTER_SOURCES {
        let mut flags = common.clone();
        // Our code: strict. AtomVM's headers come in as system headers so
        // their own warnings do not fail our build.
        flags.extend([
            "-Wall".to_string(),
            "-Wextra".to_string(),
            "-Werror".to_string(),
            format!("-I{}", gen_dir.display()),
            "-isystem".to_string(),
            lib.display().to_string(),
        ]);
        units.push(Unit {
            source: adapter_dir.join(format!("{name}.c")),
            name: format!("adapter-{name}"),
            flags,
        });
    }
    Ok(units)
}

/// `gen_dir/core/`: a copy of AtomVM's `lib` directory (its `.c`, `.h` and
/// `.def` files) with [`CORE_SOURCE_EDITS`] made, each text found exactly
/// as many times as the edit says or the build stops. Files are rewritten
/// only when their bytes change, and any other file there is removed.
fn edited_core(lib: &Path, gen_dir: &Path) -> Result<PathBuf> {
    let dir = gen_dir.join("core");
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let entries = fs::read_dir(lib).with_context(|| format!("listing {}", lib.display()))?;
    let mut copied = std::collections::HashSet::new();
    for entry in entries {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(OsStr::to_str) else {
            continue;
        };
        if !matches!(
            path.extension().and_then(OsStr::to_str),
            Some("c" | "h" | "def")
        ) {
            continue;
        }
        let mut bytes = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let edits: Vec<_> = CORE_SOURCE_EDITS
            .iter()
            .filter(|(file, ..)| *file == name)
            .collect();
        if !edits.is_empty() {
            let mut text = String::from_utf8(bytes)
                .with_context(|| format!("{} is not UTF-8", path.display()))?;
            for (_, from, to, times) in edits {
                let found = text.matches(from).count();
                if found != *times {
                    bail!(
                        "AtomVM's {name} has `{from}` {found} times, not {times}: \
                         is this AtomVM at {ATOMVM_PIN}?"
                    );
                }
                text = text.replace(from, to);
            }
            bytes = text.into_bytes();
        }
        let copy = dir.join(name);
        if fs::read(&copy).ok().as_deref() != Some(&bytes[..]) {
            crate::atomic::write(&copy, &bytes)?;
        }
        copied.insert(name.to_owned());
    }
    // A file of an earlier source that this one does not have must not be
    // included in its place.
    for entry in fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry?.path();
        let stale = path
            .file_name()
            .and_then(OsStr::to_str)
            .is_none_or(|n| !copied.contains(n));
        if stale {
            fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
        }
    }
    Ok(dir)
}

/// A copy of core file `name` in `gen_dir/patched-<name>/`, beside copies
/// of the upstream headers [`CORE_HEADER_PATCHES`] names for it, each with
/// `#include "<ours>"` before its anchor line, and of our headers: a quoted
/// `#include` looks in the including file's directory first, so the copy
/// gets the patched headers and every other header from `lib`. Files are
/// rewritten only when their bytes change.
fn patched_core(lib: &Path, adapter_dir: &Path, gen_dir: &Path, name: &str) -> Result<PathBuf> {
    let dir = gen_dir.join(format!("patched-{name}"));
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let write = |file: &str, bytes: &[u8]| -> Result<()> {
        let path = dir.join(file);
        if fs::read(&path).ok().as_deref() != Some(bytes) {
            crate::atomic::write(&path, bytes)?;
        }
        Ok(())
    };
    let source = format!("{name}.c");
    let read =
        |path: PathBuf| fs::read(&path).with_context(|| format!("reading {}", path.display()));
    write(&source, &read(lib.join(&source))?)?;
    for (_, header, anchor, ours) in CORE_HEADER_PATCHES.iter().filter(|(f, ..)| *f == name) {
        let upstream = String::from_utf8(read(lib.join(header))?)
            .with_context(|| format!("{header} is not UTF-8"))?;
        let patched = insert_before_line(&upstream, anchor, &format!("#include \"{ours}\""))
            .with_context(|| format!("patching AtomVM's {header} for {source}"))?;
        write(header, patched.as_bytes())?;
        write(ours, &read(adapter_dir.join(ours))?)?;
    }
    Ok(dir.join(source))
}

/// `text` with `line` inserted before the one line that is `anchor`.
fn insert_before_line(text: &str, anchor: &str, line: &str) -> Result<String> {
    let at: Vec<usize> = text
        .match_indices('\n')
        .map(|(i, _)| i + 1)
        .chain(std::iter::once(0))
        .filter(|&start| text[start..].split('\n').next() == Some(anchor))
        .collect();
    match at.as_slice() {
        [start] => Ok(format!("{}{line}\n{}", &text[..*start], &text[*start..])),
        found => bail!(
            "the line `{anchor}` is there {} times, not once: is this AtomVM at {ATOMVM_PIN}?",
            found.len()
        ),
    }
}

/// Digest of every header a unit could include (the `.h`/`.def` files of
/// its source's directory and of its `-I` directories). Part of each
/// object's cache key, so editing any header rebuilds everything (simple
/// and never stale). Paths are not part of it: only contents and names.
fn headers_digest(units: &[Unit]) -> Result<Vec<u8>> {
    let mut dirs: Vec<PathBuf> = units
        .iter()
        .filter_map(|u| u.source.parent().map(Path::to_path_buf))
        .chain(units.iter().flat_map(|u| {
            u.flags
                .iter()
                .filter_map(|f| f.strip_prefix("-I").map(PathBuf::from))
        }))
        .collect();
    dirs.sort();
    dirs.dedup();
    let mut hasher = Sha256::new();
    for dir in &dirs {
        let mut headers: Vec<PathBuf> = fs::read_dir(dir)
            .with_context(|| format!("listing {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| matches!(p.extension().and_then(OsStr::to_str), Some("h" | "def")))
            .collect();
        headers.sort();
        for h in headers {
            hasher.update(h.file_name().unwrap_or_default().as_encoded_bytes());
            hasher.update(fs::read(&h).with_context(|| format!("reading {}", h.display()))?);
        }
    }
    Ok(hasher.finalize().to_vec())
}

/// Each unit with the object it compiles to, named by the hash of compiler
/// version, flags, headers and source.
pub fn plan<'u>(
    clang: &Path,
    units: &'u [Unit],
    obj_dir: &Path,
) -> Result<Vec<(&'u Unit, PathBuf)>> {
    let headers = headers_digest(units)?;
    let clang_version = process::first_line(clang, &["--version"]);
    units
        .iter()
        .map(|unit| {
            let mut hasher = Sha256::new();
            hasher.update(clang_version.as_bytes());
            hasher.update(&headers);
            for f in &unit.flags {
                hasher.update(f.as_bytes());
                hasher.update([0]);
            }
            hasher.update(
                fs::read(&unit.source)
                    .with_context(|| format!("reading {}", unit.source.display()))?,
            );
            let key = crate::digest::hex(&hasher.finalize()[..8]);
            Ok((unit, obj_dir.join(format!("{}-{key}.o", unit.name))))
        })
        .collect()
}

/// Compiles every unit not already in the cache, `jobs` at a time.
pub fn compile_all(
    clang: &Path,
    units: &[Unit],
    obj_dir: &Path,
    jobs: usize,
    progress: Reporter<'_>,
) -> Result<Vec<PathBuf>> {
    let plan = plan(clang, units, obj_dir)?;
    compile_planned(clang, &plan, jobs, progress)
}

pub(crate) fn compile_planned(
    clang: &Path,
    plan: &[(&Unit, PathBuf)],
    jobs: usize,
    progress: Reporter<'_>,
) -> Result<Vec<PathBuf>> {
    if let Some((_, first)) = plan.first() {
        let dir = first.parent().context("object path has no parent")?;
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    progress(Progress::Start {
        what: "C files",
        total: Some(plan.len() as u64),
        bytes: false,
    });
    let next = AtomicUsize::new(0);
    let done = AtomicU64::new(0);
    let errors = Mutex::new(Vec::<String>::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(plan.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((unit, object)) = plan.get(i) else {
                    break;
                };
                if !object.is_file() {
                    if let Err(e) = compile_one(clang, unit, object) {
                        errors
                            .lock()
                            .expect("no panics while holding the lock")
                            .push(format!("{e:#}"));
                    }
                }
                progress(Progress::Advance(done.fetch_add(1, Ordering::Relaxed) + 1));
            });
        }
    });
    progress(Progress::Finish);
    let errors = errors
        .into_inner()
        .expect("no panics while holding the lock");
    if !errors.is_empty() {
        bail!("{}", errors.join("\n\n"));
    }
    Ok(plan.iter().map(|(_, o)| o.clone()).collect())
}

fn compile_one(clang: &Path, unit: &Unit, object: &Path) -> Result<()> {
    // Compile to a temp name and rename, so an interrupted build never
    // leaves a truncated object that a later run would take from the cache.
    let dir = object.parent().context("object path has no parent")?;
    let tmp = tempfile::Builder::new()
        .prefix(".compiling-")
        .suffix(".o")
        .tempfile_in(dir)
        .with_context(|| format!("creating a temp file in {}", dir.display()))?;
    Cmd::new(clang)
        .current_dir(dir)
        .args(&unit.flags)
        .arg("-c")
        .arg(&unit.source)
        .arg("-o")
        .arg(tmp.path())
        .run()
        .with_context(|| format!("compiling {}", unit.source.display()))?;
    tmp.persist(object)
        .with_context(|| format!("renaming into {}", object.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserts_before_the_one_anchor_line() {
        let text = "a\n#define X \\\n  1\nb\n";
        assert_eq!(
            insert_before_line(text, "#define X \\", "#include \"o.h\"").unwrap(),
            "a\n#include \"o.h\"\n#define X \\\n  1\nb\n"
        );
        assert_eq!(insert_before_line("x\ny\n", "x", "w").unwrap(), "w\nx\ny\n");
        // A line that merely contains the anchor is not it.
        let err = insert_before_line("  x\nx y\n", "x", "w").unwrap_err();
        assert!(err.to_string().contains("0 times"), "{err}");
        let err = insert_before_line("x\nx\n", "x", "w").unwrap_err();
        assert!(err.to_string().contains("2 times"), "{err}");
    }
}
