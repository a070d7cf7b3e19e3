//! `elixir-workers pack -o OUT.avm --start STARTUP.beam INPUT...`

use std::ffi::OsStr;
use std::io::{IoSlice, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::OnceLock;

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

/// Reads, prepares and writes every module. Up to [`MAX_THREADS`] threads (this one
/// among them) take the modules in turn, read each file into a buffer of
/// their own, plan its section (`avm::SectionPlan`: its length is known
/// before anything is inflated) and write it (the kept chunks copied, the
/// literal table inflated in place) into room of exactly that length taken
/// from an arena of their own; then this thread writes the sections from
/// the arenas, in archive order, with as few `writev` calls as it takes. A
/// file that does not fit the read buffer is memory-mapped instead
/// (Elixir's `elixir_parser.beam`, 1 MB).
///
/// The first module in archive order that fails is the error, whatever the
/// scheduling, as `avm::pack` reports it (a module named twice is reported
/// only if none fails): each module's result is kept by its index, and
/// `avm::SectionPlan` reports a module's faults in `pack`'s order. On any
/// error nothing is left behind.
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
        .clamp(1, MAX_THREADS);

    let prepared: Vec<OnceLock<anyhow::Result<Prepared>>> =
        order.iter().map(|_| OnceLock::new()).collect();
    let scratch = avm::parallel::in_turn(order.len(), threads, |k, t, scratch: &mut Scratch| {
        let (path, is_start) = &order[k];
        let what = if *is_start { "startup module " } else { "" };
        let section = read_input(path, &mut scratch.read)
            .with_context(|| format!("cannot read {what}{}", path.display()))
            .and_then(|bytes| {
                let plan = avm::SectionPlan::new(path, bytes.as_ref(), *is_start, cap)?;
                let (chunk, range) = scratch
                    .arena
                    .alloc(plan.len())
                    .with_context(|| format!("no memory for {}", path.display()))?;
                plan.write_into(path, &mut scratch.arena.chunks[chunk][range.clone()])?;
                Ok(Prepared {
                    module: plan.module().to_owned(),
                    thread: t,
                    chunk,
                    range,
                })
            });
        let _ = prepared[k].set(section);
    });
    let prepared: Vec<Prepared> = prepared
        .into_iter()
        .map(|p| p.into_inner().expect("every module prepared"))
        .collect::<anyhow::Result<_>>()?;

    let mut check = avm::SectionCheck::default();
    let mut slices = Vec::with_capacity(order.len() + 2);
    slices.push(IoSlice::new(avm::archive::HEADER));
    for ((path, _), p) in order.iter().zip(&prepared) {
        check.add_section(&p.module, path, p.range.len())?;
        slices.push(IoSlice::new(
            &scratch[p.thread].arena.chunks[p.chunk][p.range.clone()],
        ));
    }
    slices.push(IoSlice::new(avm::archive::END));

    pipeline::atomic::write_file_with(output, |mut file| {
        write_all_vectored(&mut file, &mut slices)
            .with_context(|| format!("could not write {}", output.display()))
    })?;
    Ok(check)
}

/// More threads than this do not pay: the work per module is a few
/// microseconds of system calls and copying.
const MAX_THREADS: usize = 4;

/// A thread's buffers: files are read into `read`, sections written into
/// `arena`.
#[derive(Default)]
struct Scratch {
    read: Vec<u8>,
    arena: Arena,
}

/// One module's section, in its thread's arena.
struct Prepared {
    module: String,
    thread: usize,
    chunk: usize,
    range: std::ops::Range<usize>,
}

/// Room for sections: anonymous memory in chunks of a few huge pages,
/// handed out in order. Huge pages (where the system has them for the
/// asking, as Linux's default `madvise` mode does) make the 2 MB of
/// Elixir's ebin cost a page fault or two rather than 500: 1.3 ms less
/// wall time and 0.8 ms less CPU time for the whole `pack` (on the 2-core
/// VM `cargo xtask bench pack` was tuned on).
#[derive(Default)]
struct Arena {
    chunks: Vec<memmap2::MmapMut>,
    /// Bytes handed out of the last chunk.
    used: usize,
}

/// Size of an arena chunk (at least): two huge pages.
const ARENA_CHUNK: usize = 4 << 20;

impl Arena {
    /// `len` bytes of room: the chunk and the range in it.
    fn alloc(&mut self, len: usize) -> std::io::Result<(usize, std::ops::Range<usize>)> {
        let fits = self
            .chunks
            .last()
            .is_some_and(|c| c.len() - self.used >= len);
        if !fits {
            let size = len.max(ARENA_CHUNK).next_multiple_of(2 << 20);
            let chunk = memmap2::MmapMut::map_anon(size)?;
            // Only advice: without huge pages, 4 KiB ones do.
            #[cfg(target_os = "linux")]
            let _ = chunk.advise(memmap2::Advice::HugePage);
            self.chunks.push(chunk);
            self.used = 0;
        }
        let range = self.used..self.used + len;
        self.used += len;
        Ok((self.chunks.len() - 1, range))
    }
}

/// The bytes of a file: read into the caller's buffer, or mapped when they
/// do not fit.
enum Bytes<'b> {
    Read(&'b [u8]),
    Mapped(memmap2::Mmap),
}

impl AsRef<[u8]> for Bytes<'_> {
    fn as_ref(&self) -> &[u8] {
        match self {
            Bytes::Read(b) => b,
            Bytes::Mapped(m) => m,
        }
    }
}

/// Size of each thread's read buffer: every module of Elixir's ebin but
/// one fits.
const READ_BUFFER: usize = 256 << 10;

/// Reads a whole file into `buf` (which keeps its length between calls, so
/// it is zeroed once) with one `read` for the file and one to see its end;
/// a file that does not fit is mapped instead. (`read_to_end` would first
/// `statx` and `lseek` to size its buffer: two more system calls a file.)
fn read_input<'b>(path: &Path, buf: &'b mut Vec<u8>) -> std::io::Result<Bytes<'b>> {
    if buf.is_empty() {
        // Zeroed by the system, page by page as reads first reach it (most
        // files are far smaller than the buffer), not by a memset of all.
        *buf = vec![0; READ_BUFFER];
    }
    let mut file = std::fs::File::open(path)?;
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => return Ok(Bytes::Read(&buf[..n])),
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    // SAFETY: the map is only read. A file changed while it is mapped shows
    // its new bytes (the archive is then garbage, as it would be with
    // `read`); one cut short raises SIGBUS on the bytes past its new end.
    match unsafe { memmap2::Mmap::map(&file) } {
        Ok(map) => Ok(Bytes::Mapped(map)),
        Err(_) => {
            // Not mappable (a pipe named as an input, say): read on.
            let mut rest = Vec::new();
            file.read_to_end(&mut rest)?;
            buf.truncate(n);
            buf.extend_from_slice(&rest);
            Ok(Bytes::Read(buf))
        }
    }
}

/// Writes every byte of `slices` with as few `writev` calls as it takes.
fn write_all_vectored(
    file: &mut impl Write,
    mut slices: &mut [IoSlice<'_>],
) -> std::io::Result<()> {
    while !slices.is_empty() {
        match file.write_vectored(slices) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
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

    /// A module `name` (exporting start/0 when `start`) with a code chunk
    /// of `code` bytes and a chunk AtomVM drops.
    fn beam(name: &str, start: bool, code: usize) -> Vec<u8> {
        let mut atoms = 2u32.to_be_bytes().to_vec();
        for a in [name, "start"] {
            atoms.push(a.len() as u8);
            atoms.extend_from_slice(a.as_bytes());
        }
        let exports: &[u8] = if start {
            &[0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1]
        } else {
            &[0, 0, 0, 0]
        };
        let code: Vec<u8> = (0..code).map(|i| i as u8).collect();
        let mut body = Vec::new();
        for (id, data) in [
            (b"AtU8", &atoms[..]),
            (b"Code", &code),
            (b"ExpT", exports),
            (b"Dbgi", b"dropped"),
        ] {
            body.extend_from_slice(id);
            body.extend_from_slice(&(data.len() as u32).to_be_bytes());
            body.extend_from_slice(data);
            body.resize(body.len().next_multiple_of(4), 0);
        }
        let mut form = b"FOR1".to_vec();
        form.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
        form.extend_from_slice(b"BEAM");
        form.extend_from_slice(&body);
        form
    }

    #[test]
    fn packs_as_the_library_does_on_two_threads_and_with_a_large_module() {
        let dir = tempfile::tempdir().unwrap();
        let mut inputs = Vec::new();
        // Enough modules for two threads; one larger than a read buffer.
        for i in 0..80 {
            let name = format!("m{i:02}");
            let code = if i == 41 { READ_BUFFER + 5 } else { 1 + i * 7 };
            let bytes = beam(&name, i == 7, code);
            let path = dir.path().join(format!("{name}.beam"));
            std::fs::write(&path, &bytes).unwrap();
            inputs.push(avm::PackInput {
                path,
                bytes,
                start: i == 7,
            });
        }
        let expected = avm::pack(&inputs, &avm::PackOptions::default()).unwrap();
        let out = dir.path().join("out.avm");
        let start = dir.path().join("m07.beam");
        let files = collect_inputs(&start, &[dir.path().to_path_buf()]).unwrap();
        let check = pack_to(&out, &start, files, avm::DEFAULT_INFLATE_CAP).unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), expected.bytes);
        assert_eq!((check.sections(), check.len()), (80, expected.bytes.len()));
    }

    #[test]
    fn the_first_bad_module_in_archive_order_is_the_error() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..80 {
            let mut bytes = beam(&format!("m{i:02}"), i == 0, 3);
            if i == 50 || i == 60 {
                bytes.truncate(20);
            }
            std::fs::write(dir.path().join(format!("m{i:02}.beam")), bytes).unwrap();
        }
        let out = dir.path().join("out.avm");
        let start = dir.path().join("m00.beam");
        let files = collect_inputs(&start, &[dir.path().to_path_buf()]).unwrap();
        let e = pack_to(&out, &start, files, avm::DEFAULT_INFLATE_CAP).unwrap_err();
        let e = e.downcast::<avm::Error>().unwrap();
        assert_eq!(e.file(), Some(dir.path().join("m50.beam").as_path()));
        assert!(!out.exists());
    }

    #[test]
    fn a_module_named_twice_is_the_error_unless_a_module_fails() {
        let dir = tempfile::tempdir().unwrap();
        let (one, two) = (dir.path().join("one"), dir.path().join("two"));
        std::fs::create_dir(&one).unwrap();
        std::fs::create_dir(&two).unwrap();
        for i in 0..80 {
            let m = format!("m{i:02}");
            std::fs::write(one.join(format!("{m}.beam")), beam(&m, i == 0, 3)).unwrap();
        }
        std::fs::write(two.join("m05.beam"), beam("m05", false, 9)).unwrap();
        let out = dir.path().join("out.avm");
        let start = one.join("m00.beam");
        let pack = || {
            let files = collect_inputs(&start, &[one.clone(), two.clone()]).unwrap();
            let e = pack_to(&out, &start, files, avm::DEFAULT_INFLATE_CAP).unwrap_err();
            assert!(!out.exists());
            e.downcast::<avm::Error>().unwrap()
        };
        let e = pack();
        assert!(
            matches!(e.kind(), avm::ErrorKind::DuplicateModule { module, first } if module == "m05" && *first == one.join("m05.beam")),
            "{e}"
        );
        assert_eq!(e.file(), Some(two.join("m05.beam").as_path()));
        // A module that fails, even one after both, comes first.
        std::fs::write(one.join("m70.beam"), b"FOR1").unwrap();
        assert_eq!(pack().file(), Some(one.join("m70.beam").as_path()));
    }

    #[test]
    fn arena_room_comes_in_order_and_in_new_chunks_when_full() {
        let mut arena = Arena::default();
        assert_eq!(arena.alloc(10).unwrap(), (0, 0..10));
        assert_eq!(arena.alloc(6).unwrap(), (0, 10..16));
        assert_eq!(arena.alloc(ARENA_CHUNK).unwrap(), (1, 0..ARENA_CHUNK));
        let big = ARENA_CHUNK * 2 + 1;
        assert_eq!(arena.alloc(big).unwrap(), (2, 0..big));
        assert_eq!(arena.alloc(1).unwrap(), (2, big..big + 1));
        arena.chunks[2][big] = 7;
    }

    #[test]
    fn a_file_is_read_into_the_buffer_unless_it_does_not_fit() {
        let dir = tempfile::tempdir().unwrap();
        let mut buf = Vec::new();
        for len in [0, 1, 5000, READ_BUFFER - 1, READ_BUFFER, READ_BUFFER + 1] {
            let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let path = dir.path().join(format!("{len}.beam"));
            std::fs::write(&path, &bytes).unwrap();
            let got = read_input(&path, &mut buf).unwrap();
            assert_eq!(got.as_ref(), &bytes[..], "{len} bytes");
            assert_eq!(matches!(got, Bytes::Mapped(_)), len >= READ_BUFFER);
        }
        let e = read_input(&dir.path().join("missing.beam"), &mut buf);
        assert_eq!(
            e.err().map(|e| e.kind()),
            Some(std::io::ErrorKind::NotFound)
        );
    }

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
