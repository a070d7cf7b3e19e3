//! `cargo xtask bench pack --reference PATH/pack_avm.py [--python PATH]`: the
//! whole `elixir-workers pack` process against the reference packer on
//! Elixir's stdlib ebin, in one run, and the ratio. Target: at least 10x.
//! Also checks the two outputs are identical, so the comparison is between
//! equal work, and then times, in the same run, what the I/O alone costs on
//! this machine (reading every input, writing the archive and renaming it,
//! each by a process that does only that): the ratio that floor leaves room
//! for.
//!
//! The timing loop is our own rather than hyperfine's: one tool less to
//! install, and it can alternate the two commands run by run (so a change in
//! the machine's load during the run hits both alike) and take each child's
//! user and system time from `wait4`, which is what tells start-up cost,
//! system calls and page faults apart from computing. Each sample is one
//! process from spawn to reaped, stdout and stderr to /dev/null, as
//! hyperfine's `-N` measures it.
//!
//! The reference runs under `--python`, or by default under the system's
//! interpreter, `/usr/bin/python3` (on Debian 12, Python 3.11 as Debian
//! builds it), and only where there is none under the one `python3` on PATH
//! resolves to (`sys.executable`, so that a version manager's shim, whose
//! own start-up takes tens of ms, is not timed). Not simply `python3` on
//! PATH: a version manager's own build of CPython can be slower than the
//! distribution's (pyenv's 3.11.7 on the machine this was written on), which
//! would flatter the ratio. Issue #13's figures are against Debian's
//! `/usr/bin/python3.11`: pass `--python /usr/bin/python3.11` to compare
//! with them. The report names the interpreter, its version and how it was
//! chosen.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::parity::{release_binary, ReferenceArgs};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    input: ReferenceArgs,

    /// Timed runs of each command
    #[arg(long, default_value_t = 40)]
    runs: u32,

    /// Untimed runs of each command first (page cache, CPU frequency)
    #[arg(long, default_value_t = 3)]
    warmup: u32,

    /// The Python interpreter for the reference (default: the system's
    /// /usr/bin/python3, or else the one `python3` on PATH resolves to)
    #[arg(long, value_name = "PATH")]
    python: Option<PathBuf>,
}

/// One finished run: wall time, and the child's CPU time from `wait4`.
#[derive(Debug, Clone, Copy)]
struct Sample {
    wall: Duration,
    user: Duration,
    sys: Duration,
}

/// Runs `cmd` once with no output and reaps it with `wait4`, so its own
/// user and system time come back with the wall time.
fn run_once(cmd: &mut Command) -> Result<Sample> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let start = Instant::now();
    let child = cmd.spawn().with_context(|| format!("running {cmd:?}"))?;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: all-zero bytes are a valid `rusage`.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = loop {
        // SAFETY: `pid` is our own unreaped child; the pointers are valid
        // for the duration of the call.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == -1 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        break r;
    };
    let wall = start.elapsed();
    if reaped != pid {
        bail!("wait4 on {cmd:?}: {}", std::io::Error::last_os_error());
    }
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        // Once more, to show what it said.
        let out = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).output();
        let said = out.map_or_else(
            |e| e.to_string(),
            |o| String::from_utf8_lossy(&o.stderr).into_owned(),
        );
        bail!("{cmd:?} failed (wait status {status:#x}):\n{said}");
    }
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    Ok(Sample {
        wall,
        user: tv(usage.ru_utime),
        sys: tv(usage.ru_stime),
    })
}

/// Median, minimum, mean and standard deviation of one measure, in ms.
struct Summary {
    median: f64,
    min: f64,
    mean: f64,
    sd: f64,
}

fn summarize(samples: &[Sample], measure: impl Fn(&Sample) -> Duration) -> Summary {
    let mut ms: Vec<f64> = samples
        .iter()
        .map(|s| measure(s).as_secs_f64() * 1e3)
        .collect();
    ms.sort_by(f64::total_cmp);
    let n = ms.len() as f64;
    let mean = ms.iter().sum::<f64>() / n;
    let var = ms.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    let mid = ms.len() / 2;
    let median = if ms.len() % 2 == 0 {
        (ms[mid - 1] + ms[mid]) / 2.0
    } else {
        ms[mid]
    };
    Summary {
        median,
        min: ms[0],
        mean,
        sd: var.sqrt(),
    }
}

/// The system's Python interpreter, the default reference interpreter.
const SYSTEM_PYTHON: &str = "/usr/bin/python3";

/// The interpreter the reference runs under: its path, its version and how
/// it was chosen (see the module's documentation).
fn resolve_python(explicit: Option<&Path>) -> Result<(PathBuf, String, &'static str)> {
    let (asked, how) = match explicit {
        Some(p) => (p.to_path_buf(), "given with --python"),
        None if Path::new(SYSTEM_PYTHON).is_file() => {
            (PathBuf::from(SYSTEM_PYTHON), "the system's, by default")
        }
        None => (
            PathBuf::from("python3"),
            "python3 on PATH, by default: there is no /usr/bin/python3",
        ),
    };
    let out = Command::new(&asked)
        .args([
            "-c",
            "import sys; print(sys.executable); print(sys.version.split()[0])",
        ])
        .output()
        .with_context(|| format!("running {}", asked.display()))?;
    if !out.status.success() {
        bail!(
            "{} failed: {}",
            asked.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8(out.stdout).context("python printed non-UTF-8")?;
    let mut lines = text.lines();
    let (Some(exe), Some(version)) = (lines.next(), lines.next()) else {
        bail!("{} did not print its executable", asked.display());
    };
    // A path given (or the system's) is timed as it is; `python3` on PATH
    // as what its shim, if any, would have exec'd.
    let exe = if asked.is_absolute() || explicit.is_some() {
        asked
    } else if exe.is_empty() {
        bail!("python3 does not know its own executable")
    } else {
        PathBuf::from(exe)
    };
    Ok((exe, version.to_owned(), how))
}

pub fn run(args: Args) -> Result<()> {
    args.input.check()?;
    if args.runs < 2 {
        bail!("--runs must be at least 2");
    }
    let bin = release_binary()?;
    let (python, py_version, py_how) = resolve_python(args.python.as_deref())?;
    let tmp = tempfile::tempdir().context("creating a temp dir")?;
    let ours_out = tmp.path().join("ours.avm");
    let ref_out = tmp.path().join("ref.avm");
    let ebin = &args.input.ebin;
    let ours = || {
        let mut c = Command::new(&bin);
        c.args(["pack", "-q", "-o"])
            .arg(&ours_out)
            .arg("--start")
            .arg(ebin.join(&args.input.ebin_start))
            .arg(ebin);
        c
    };
    let reference = || {
        let mut c = Command::new(&python);
        c.arg(&args.input.reference)
            .arg(&ref_out)
            .arg(&args.input.ebin_start)
            .arg(ebin);
        c
    };

    for _ in 0..args.warmup {
        run_once(&mut ours())?;
        run_once(&mut reference())?;
    }
    let mut ours_s = Vec::new();
    let mut ref_s = Vec::new();
    for i in 0..args.runs {
        // Alternate which goes first, so neither always runs right after
        // the other's writes.
        if i % 2 == 0 {
            ours_s.push(run_once(&mut ours())?);
            ref_s.push(run_once(&mut reference())?);
        } else {
            ref_s.push(run_once(&mut reference())?);
            ours_s.push(run_once(&mut ours())?);
        }
    }

    let same = std::fs::read(&ours_out)? == std::fs::read(&ref_out)?;
    let n = std::fs::read_dir(ebin)
        .with_context(|| format!("listing {}", ebin.display()))?
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "beam"))
        })
        .count();
    println!(
        "pack {} ({n} modules), {} runs each, alternating, after {} warm-up runs:",
        ebin.display(),
        args.runs,
        args.warmup
    );
    println!(
        "  reference: {} {} (Python {py_version}, {py_how})",
        python.display(),
        args.input.reference.display()
    );
    println!("  ours:      {}", bin.display());
    println!();
    println!(
        "  {:<22} {:>9} {:>9} {:>13} {:>9} {:>9}",
        "wall ms", "median", "min", "mean ± sd", "user", "sys"
    );
    let wall = |s: &Sample| s.wall;
    for (name, samples) in [("elixir-workers pack", &ours_s), ("pack_avm.py", &ref_s)] {
        let w = summarize(samples, wall);
        let u = summarize(samples, |s| s.user);
        let y = summarize(samples, |s| s.sys);
        println!(
            "  {:<22} {:>9.2} {:>9.2} {:>7.2} ± {:<4.2} {:>9.2} {:>9.2}",
            name, w.median, w.min, w.mean, w.sd, u.mean, y.mean
        );
    }
    let (o, r) = (summarize(&ours_s, wall), summarize(&ref_s, wall));
    let cpu = |v: &[Sample]| summarize(v, |s| s.user + s.sys).mean;
    println!();
    println!(
        "  ratio (wall, medians)  {:8.1}x  (target >= 10x); of the minima {:.1}x",
        r.median / o.median,
        r.min / o.min
    );
    println!(
        "  ratio (user+sys, means) {:7.1}x  ({:.2} ms vs {:.2} ms)",
        cpu(&ref_s) / cpu(&ours_s),
        cpu(&ours_s),
        cpu(&ref_s)
    );
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        println!(
            "  load average           {}",
            load.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    println!("  outputs identical:     {same}");
    if !same {
        bail!("the two archives differ; run cargo xtask parity");
    }
    floor(ebin, &ours_out, tmp.path(), args.runs, r.median)
}

/// `bench io-floor`: the I/O of a packer and nothing else, as a process of
/// its own. `none` does nothing; `read FILE...` reads every file to its end
/// into one reused buffer; `write LEN DEST` writes LEN bytes to a temporary
/// file beside DEST and renames it over DEST, as the toolchain writes every
/// output.
#[derive(Debug, clap::Args)]
pub struct FloorArgs {
    #[arg(value_parser = ["none", "read", "write"])]
    what: String,
    args: Vec<String>,
}

pub fn io_floor(a: FloorArgs) -> Result<()> {
    use std::io::{Read, Write};
    match a.what.as_str() {
        "read" => {
            let mut buf = vec![0u8; 1 << 20];
            for path in &a.args {
                let mut file = std::fs::File::open(path)?;
                while file.read(&mut buf)? > 0 {}
            }
        }
        "write" => {
            let [len, dest] = &a.args[..] else {
                bail!("usage: write LEN DEST");
            };
            let dest = Path::new(dest);
            let bytes = vec![0x5au8; len.parse()?];
            let mut tmp =
                tempfile::NamedTempFile::new_in(dest.parent().context("DEST's directory")?)?;
            tmp.write_all(&bytes)?;
            tmp.persist(dest)?;
        }
        _ => {}
    }
    Ok(())
}

/// What this machine charges for the I/O any packer does, in the same run,
/// each part a process of its own that does only that (`bench io-floor`):
/// reading every input, and writing the archive's length to a temporary
/// file renamed over the output. Less the start of that process, plus the
/// start of one that does nothing (`true`), it is a floor no packer that
/// reads the inputs and writes the archive in one process gets under; set
/// against the reference's median, it bounds the ratio this machine allows.
fn floor(ebin: &Path, archive: &Path, tmp: &Path, runs: u32, reference_ms: f64) -> Result<()> {
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(ebin)
        .with_context(|| format!("listing {}", ebin.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "beam"))
        .collect();
    inputs.sort();
    let len = std::fs::metadata(archive)?.len().to_string();
    let dest = tmp.join("floor.avm");
    let xtask = std::env::current_exe().context("the running xtask")?;
    let floor = |what: &str| {
        let mut c = Command::new(&xtask);
        c.args(["bench", "io-floor", what]);
        c
    };
    let (mut start, mut nothing, mut read, mut write) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        start.push(run_once(&mut Command::new("true"))?);
        nothing.push(run_once(&mut floor("none"))?);
        read.push(run_once(floor("read").args(&inputs))?);
        write.push(run_once(floor("write").arg(&len).arg(&dest))?);
    }
    let wall = |v: &[Sample]| summarize(v, |s: &Sample| s.wall).median;
    let (t, n, r, w) = (wall(&start), wall(&nothing), wall(&read), wall(&write));
    let (r, w) = (r - n, w - n);
    let bound = t + r + w;
    println!();
    println!(
        "  floor, same run (wall medians, each less its process's start): reading the {} inputs \
         {r:.2} ms; writing {len} bytes and renaming {w:.2} ms; a process start (true) {t:.2} ms",
        inputs.len()
    );
    println!(
        "  together {bound:.2} ms: at most {:.1}x the reference's {reference_ms:.2} ms on this machine",
        reference_ms / bound
    );
    Ok(())
}
