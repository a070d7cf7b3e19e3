//! `elixir-workers pack -o OUT.avm --start STARTUP.beam INPUT...`

use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;

use anyhow::{bail, Context};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The archive to write (replaced atomically; nothing is left on error)
    #[arg(short = 'o', long = "output", value_name = "OUT.avm")]
    pub output: PathBuf,

    /// The startup module: placed first with the start flag; must export start/0
    #[arg(long, value_name = "STARTUP.beam")]
    pub start: PathBuf,

    /// Directories (their *.beam files, not recursive) or .beam files
    #[arg(value_name = "INPUT", required = true)]
    pub inputs: Vec<PathBuf>,

    /// Largest uncompressed literal table accepted, in bytes
    #[arg(long, value_name = "BYTES", default_value_t = avm::DEFAULT_INFLATE_CAP)]
    pub inflate_cap: usize,

    /// Print nothing on success (warnings are still printed)
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let files = collect_inputs(&args.start, &args.inputs)?;
    let check = pack_to(&args.output, &args.start, files, args.inflate_cap)?;
    for w in check.warnings() {
        eprintln!("warning: {w}");
    }
    if !args.quiet {
        eprintln!(
            "packed {} modules into {} ({} bytes)",
            check.sections(),
            args.output.display(),
            check.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads, prepares and writes every module as a stream. Each thread (this
/// one among them) reads a file into its own reused buffer and writes the
/// module's whole section into a buffer from a shared pool; this thread
/// writes the sections to the temp file in archive order as they are ready
/// and gives the buffers back. So a file's bytes are dropped as soon as its
/// section is made and the archive is never whole in memory: the memory
/// touched stays at a few buffers rather than the whole archive, and every
/// fresh page is a page fault (about 1.5 us each on the 2-core VM
/// `cargo xtask bench pack` was tuned on).
///
/// The first module in archive order that fails to prepare is the error,
/// whatever the scheduling; a module named twice is reported only if none
/// fails (as `avm::pack` does). On any error nothing is left behind.
fn pack_to(
    output: &Path,
    start: &Path,
    files: Vec<PathBuf>,
    cap: usize,
) -> anyhow::Result<avm::SectionCheck> {
    let mut all = Vec::with_capacity(files.len() + 1);
    all.push((start.to_path_buf(), true));
    all.extend(files.into_iter().map(|f| (f, false)));
    let order = avm::archive_order_of(all)?;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(order.len().div_ceil(32))
        .max(1);
    let pool = Mutex::new(Vec::<Vec<u8>>::new());
    let prepare = |(path, is_start): &(PathBuf, bool), read: &mut Vec<u8>| {
        let what = if *is_start { "startup module " } else { "" };
        let bytes = read_file(path, read)
            .with_context(|| format!("cannot read {what}{}", path.display()))?;
        let mut section = pool.lock().expect("no panics").pop().unwrap_or_default();
        section.clear();
        let info = avm::prepare_section(path, bytes, *is_start, cap, &mut section)?;
        Ok::<_, anyhow::Error>((section, info))
    };

    let mut check = avm::SectionCheck::default();
    // `write_with` wants an `io::Result`; a packing error is kept here and
    // reported as it is, not as a failure to write.
    let mut failed = None;
    let written = pipeline::atomic::write_with(output, |w| {
        w.write_all(avm::archive::HEADER)?;
        let mut duplicate = None;
        let streamed = avm::for_each_in_order(&order, threads, prepare, |r| {
            let (section, info) = r.map_err(Stop::Pack)?;
            if duplicate.is_none() {
                match check.add(&info) {
                    Ok(()) => w.write_all(&section).map_err(Stop::Write)?,
                    // Later modules may still fail to prepare: that error
                    // comes first.
                    Err(e) => duplicate = Some(e),
                }
            }
            pool.lock().expect("no panics").push(section);
            Ok(())
        });
        let stopped = match (streamed, duplicate) {
            (Err(Stop::Write(e)), _) => return Err(e),
            (Err(Stop::Pack(e)), _) => e,
            (Ok(()), Some(e)) => e.into(),
            (Ok(()), None) => return w.write_all(avm::archive::END),
        };
        failed = Some(stopped);
        Err(std::io::Error::other("packing failed"))
    });
    if let Some(e) = failed {
        return Err(e);
    }
    written?;
    Ok(check)
}

/// Why streaming the archive stopped.
enum Stop {
    Pack(anyhow::Error),
    Write(std::io::Error),
}

/// Reads a whole file into `buf`, which keeps its length between calls (so
/// it is zeroed only when it grows): one `read` for the file and one to see
/// its end. `read_to_end` would first `statx` and `lseek` to size its
/// buffer, two more system calls per module (`strace -c`).
fn read_file<'b>(path: &Path, buf: &'b mut Vec<u8>) -> std::io::Result<&'b [u8]> {
    let mut file = std::fs::File::open(path)?;
    let mut n = 0;
    loop {
        if n == buf.len() {
            buf.resize(buf.len() + buf.len().max(256 << 10), 0);
        }
        match file.read(&mut buf[n..]) {
            Ok(0) => return Ok(&buf[..n]),
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Whether a `*.beam` entry of an input directory is a module to pack: a
/// regular file, or a symlink to one. A directory is not (inputs are not
/// recursive); anything else is refused rather than skipped, since a module
/// silently left out of the archive only shows up when the worker runs:
/// a dangling or looping symlink fails as an unreadable input, with the
/// system's reason, and a FIFO, socket or device as not a regular file.
fn is_beam_file(entry: &std::fs::DirEntry) -> anyhow::Result<bool> {
    let path = entry.path();
    let unreadable = || format!("cannot read input {}", path.display());
    let mut ft = entry.file_type().with_context(unreadable)?;
    if ft.is_symlink() {
        ft = std::fs::metadata(&path)
            .with_context(unreadable)?
            .file_type();
    }
    if ft.is_dir() {
        return Ok(false);
    }
    if !ft.is_file() {
        bail!("{}: not a regular file", unreadable());
    }
    Ok(true)
}

/// Expands directories to their `*.beam` files and drops the startup file
/// wherever it reappears, so a `--start` inside an input directory is packed
/// once. Order does not matter here: `avm::pack` sorts by file name.
fn collect_inputs(start: &Path, inputs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let start_name = start
        .file_name()
        .context("--start must name a .beam file")?;
    let mut start_id = None;
    let mut is_start = |p: &Path| -> anyhow::Result<bool> {
        // Only a file with the same name can be the same file; compare
        // identities only then, so the common case costs no extra syscall.
        if p.file_name() != Some(start_name) {
            return Ok(false);
        }
        if start_id.is_none() {
            start_id = Some(
                std::fs::canonicalize(start)
                    .with_context(|| format!("cannot read startup module {}", start.display()))?,
            );
        }
        Ok(std::fs::canonicalize(p).ok() == start_id)
    };
    let mut files = Vec::new();
    for input in inputs {
        let meta = std::fs::metadata(input)
            .with_context(|| format!("cannot read input {}", input.display()))?;
        if meta.is_dir() {
            let mut found = 0usize;
            let entries = std::fs::read_dir(input)
                .with_context(|| format!("cannot list directory {}", input.display()))?;
            for entry in entries {
                let entry =
                    entry.with_context(|| format!("cannot list directory {}", input.display()))?;
                let path = entry.path();
                if path.extension() != Some(OsStr::new("beam")) {
                    continue;
                }
                if !is_beam_file(&entry)? {
                    continue;
                }
                found += 1;
                if !is_start(&path)? {
                    files.push(path);
                }
            }
            if found == 0 {
                bail!("{}: no .beam files in this directory", input.display());
            }
        } else if !is_start(input)? {
            files.push(input.clone());
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn beam_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.beam"), b"").unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"").unwrap();
        std::fs::create_dir(dir.path().join("sub.beam")).unwrap();
        dir
    }

    #[test]
    fn lists_beam_files_and_skips_the_rest() {
        let dir = beam_dir();
        let start = dir.path().join("a.beam");
        let files = collect_inputs(&start, &[dir.path().to_path_buf()]).unwrap();
        assert!(files.is_empty(), "{files:?}");
        let other = tempfile::tempdir().unwrap();
        let files = collect_inputs(&other.path().join("s.beam"), &[dir.path().to_path_buf()]);
        assert_eq!(files.unwrap(), [dir.path().join("a.beam")]);
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_are_followed_and_a_dangling_one_is_refused() {
        use std::os::unix::fs::symlink;
        let dir = beam_dir();
        let start = dir.path().join("a.beam");
        symlink(&start, dir.path().join("b.beam")).unwrap();
        symlink(dir.path().join("sub.beam"), dir.path().join("c.beam")).unwrap();
        let files = collect_inputs(&start, &[dir.path().to_path_buf()]).unwrap();
        assert_eq!(files, [dir.path().join("b.beam")]);

        let gone = dir.path().join("gone.beam");
        symlink(dir.path().join("missing"), &gone).unwrap();
        let e = collect_inputs(&start, &[dir.path().to_path_buf()]).unwrap_err();
        let msg = format!("{e:#}");
        assert!(
            msg.starts_with(&format!("cannot read input {}: ", gone.display())),
            "{msg}"
        );
    }
}
