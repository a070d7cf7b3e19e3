//! `cargo xtask fuzz-nif`: fuzz the adapter's JSON and HTML NIFs
//! (`crates/runtime/atomvm-wasi/src/json_decode.c`, `json_encode.c`,
//! `html_escape.c`) natively, with libFuzzer,
//! AddressSanitizer and UndefinedBehaviorSanitizer.
//!
//! It builds `~/.cache/elixir-workers/fuzz-nif/json_fuzz` from AtomVM's core (the same
//! sources, per-file renames, defines and generated headers as `cargo xtask
//! runtime`), the adapter files the NIFs need, and the harness and host
//! stand-ins in `crates/runtime/atomvm-wasi/fuzz/`, all with the host's clang-16.
//! Then it either fuzzes (the seed corpus plus a working corpus kept in
//! `~/.cache/elixir-workers/fuzz-nif/corpus/`) or, with `--replay`, runs every regression
//! input and seed once, which is what `xtask/tests/fuzz_nif.rs` does.
//! A sanitizer report or a broken round trip is an error: the command fails
//! and names the input. It never writes outside `~/.cache/elixir-workers/fuzz-nif/`.

use anyhow::{bail, Context, Result};
use ew_runtime::compile::{self, Unit};
use ew_runtime::headers;
use ew_runtime::process::{self, Cmd};
use ew_runtime::settings;
use ew_runtime::source::{self, AtomVmSource};
use sha2::{Digest, Sha256};
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Adapter files the NIFs need on a host: the NIFs themselves, the atom
/// table and literal wrappers the core's renames expect, and the platform
/// atom, and sys_hooks.c's "not here" answers. main.c, sys.c and
/// platform_nifs.c speak WASI; the harness brings host stand-ins for what
/// the core needs of them (fuzz/native_platform.c).
const ADAPTER_SOURCES: &[&str] = &[
    "json_decode",
    "json_encode",
    "html_escape",
    "atom_table_presize",
    "literal_cache",
    "platform_defaultatoms",
    "sys_hooks",
];

/// The harness and its host platform, in `crates/runtime/atomvm-wasi/fuzz/`.
const FUZZ_SOURCES: &[&str] = &["json_fuzz", "native_platform"];

/// Flags of the code under test and of the harness: coverage for libFuzzer,
/// ASan, UBSan, and any UBSan report fatal, so that it fails the run.
///
/// `shift-base` is off because AtomVM's term encoding shifts negative
/// integers left by design (`term_from_int` in term.h, inlined into every
/// file that makes an integer term): it would report on any negative number
/// before the fuzzer got anywhere. The NIFs themselves shift only unsigned or
/// non-negative values.
const SANITIZE_FLAGS: &[&str] = &[
    "-fsanitize=fuzzer-no-link,address,undefined",
    "-fno-sanitize=shift-base",
    "-fno-sanitize-recover=all",
];

/// AtomVM's core: ASan only. Its interpreter is one huge function that takes
/// minutes to build with UBSan (measured: over 2 minutes for context.c alone
/// against 84 s with ASan only), and coverage of it would only distract
/// libFuzzer. ASan still checks every access the core makes for the NIFs:
/// the collector, term comparison, binaries.
const CORE_SANITIZE_FLAGS: &[&str] = &["-fsanitize=address"];

const LINK_FLAGS: &[&str] = &["-fsanitize=fuzzer,address,undefined", "-lm"];

#[derive(Debug, clap::Args)]
pub struct Args {
    /// AtomVM's source at the pinned commit: a directory or a .tar.gz
    /// (without it, the pinned commit is downloaded and verified)
    #[arg(long, value_name = "DIR|ARCHIVE", env = "ATOMVM_SRC")]
    atomvm_src: Option<PathBuf>,
    /// Fuzz for this many seconds (default 60)
    #[arg(long, conflicts_with = "replay")]
    seconds: Option<u64>,
    /// Stop after this many runs instead of after a time
    #[arg(long, conflicts_with_all = ["seconds", "replay"])]
    runs: Option<u64>,
    /// Run every regression input and seed once instead of fuzzing
    #[arg(long)]
    replay: bool,
    /// With --replay: also documents near the 10 MB body limit (written to
    /// ~/.cache/elixir-workers/fuzz-nif/large/; about a minute per word size)
    #[arg(long, requires = "replay")]
    large: bool,
    /// Build for 32-bit x86, the word size of wasm32 where atomvm.wasm runs
    /// (terms, small integers and heap sizes all differ from 64-bit);
    /// needs the Debian packages gcc-multilib and lib32stdc++-12-dev
    #[arg(long)]
    m32: bool,
    /// Parallel compile jobs (default: available cores)
    #[arg(long, short)]
    jobs: Option<usize>,
}

pub fn run(args: Args) -> Result<()> {
    let root = crate::workspace_root();
    let fuzz_dir = root.join("crates/runtime/atomvm-wasi/fuzz");
    // In the user cache, outside the checkout: objects are keyed by their
    // inputs, so a fresh clone (CI) reuses them.
    let build_dir = ew_runtime::cache::root()?.join("fuzz-nif");
    fs::create_dir_all(&build_dir).with_context(|| format!("creating {}", build_dir.display()))?;
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let binary = build(&root, &args.atomvm_src, &build_dir, args.m32, jobs)?;
    if args.replay {
        let large = if args.large {
            large_documents(&build_dir.join("large"))?
        } else {
            Vec::new()
        };
        replay(&binary, &fuzz_dir, &large)
    } else {
        fuzz(&binary, &fuzz_dir, &build_dir, &args)
    }
}

/// Builds (or reuses) `json_fuzz`; returns its path.
fn build(
    root: &Path,
    atomvm_src: &Option<PathBuf>,
    build_dir: &Path,
    m32: bool,
    jobs: usize,
) -> Result<PathBuf> {
    let clang = process::find("CLANG", &["clang-16", "clang"])
        .context("clang not found; install clang-16 (or set CLANG)")?;
    let gperf = process::find("GPERF", &["gperf"]).context("gperf not found; install gperf")?;
    let atomvm = source::obtain(
        atomvm_src.as_deref(),
        false,
        &ew_runtime::cache::build_dir()?,
        &|p| eprintln!("  {p:?}"),
    )?;
    let gen_dir = build_dir.join("gen");
    headers::generate_headers(&gperf, &atomvm, &gen_dir)?;

    let units = units(root, &atomvm, &gen_dir, m32);
    eprintln!(
        "==> compiling {} C files natively ({jobs} jobs)",
        units.len()
    );
    let t = Instant::now();
    let objects = compile::compile_all(&clang, &units, &build_dir.join("obj"), jobs, &|_| {})?;
    eprintln!("  compiled in {:.1?}", t.elapsed());

    // Named by its objects (themselves named by content), so an unchanged
    // build relinks nothing.
    let mut hasher = Sha256::new();
    for o in &objects {
        hasher.update(o.to_string_lossy().as_bytes());
    }
    let stem = if m32 { "json_fuzz-m32" } else { "json_fuzz" };
    let linked = build_dir.join(format!(
        "{stem}-{}",
        ew_runtime::digest::hex(&hasher.finalize()[..8])
    ));
    if !linked.is_file() {
        let tmp = tempfile::Builder::new()
            .prefix(".linking-")
            .tempfile_in(build_dir)
            .with_context(|| format!("creating a temp file in {}", build_dir.display()))?;
        Cmd::new(&clang)
            .args(&objects)
            .args(LINK_FLAGS)
            .args(m32.then_some("-m32"))
            .arg("-o")
            .arg(tmp.path())
            .run()
            .context(
                "linking json_fuzz (libFuzzer and the sanitizer runtimes come with the Debian \
             package libclang-rt-16-dev; --m32 also needs gcc-multilib and lib32stdc++-12-dev)",
            )?;
        let (_, path) = tmp.keep().context("keeping the linked json_fuzz")?;
        fs::rename(&path, &linked)
            .with_context(|| format!("renaming into {}", linked.display()))?;
    }
    // A stable name for running it by hand.
    let stable = build_dir.join(stem);
    let _ = fs::remove_file(&stable);
    fs::copy(&linked, &stable).with_context(|| format!("copying to {}", stable.display()))?;
    Ok(stable)
}

fn units(root: &Path, atomvm: &AtomVmSource, gen_dir: &Path, m32: bool) -> Vec<Unit> {
    let lib = atomvm.lib();
    let adapter = root.join("crates/runtime/atomvm-wasi/src");
    let fuzz = root.join("crates/runtime/atomvm-wasi/fuzz");
    // The runtime's defines, minus its wasm target and size optimisation.
    // _GNU_SOURCE: glibc declares memmem (which nifs.c calls) only with it;
    // wasi-libc declares it by default.
    let mut common: Vec<String> = ["-std=gnu11", "-O1", "-g", "-D_GNU_SOURCE"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    if m32 {
        common.push("-m32".to_string());
    }
    common.extend(
        settings::COMMON_CFLAGS
            .iter()
            .filter(|f| f.starts_with("-D"))
            .map(|f| f.to_string()),
    );

    let mut units = Vec::new();
    for name in settings::CORE_SOURCES {
        let mut flags = common.clone();
        flags.extend(CORE_SANITIZE_FLAGS.iter().map(|s| s.to_string()));
        flags.extend([
            "-w".to_string(),
            format!("-I{}", gen_dir.display()),
            format!("-I{}", lib.display()),
        ]);
        // The runtime's core_prelude.h is for wasi-libc (errno for
        // posix_nifs.c, tzset); glibc has tzset, and a global errno.h would
        // turn port.c's parameter named `errno` into glibc's macro.
        if *name == "posix_nifs" {
            flags.extend(["-include".to_string(), "errno.h".to_string()]);
        }
        flags.extend(
            settings::CORE_FILE_DEFINES
                .iter()
                .filter(|(file, _)| file == name)
                .map(|(_, define)| define.to_string()),
        );
        units.push(Unit {
            source: lib.join(format!("{name}.c")),
            name: format!("core-{name}"),
            flags,
        });
    }
    let ours = ADAPTER_SOURCES
        .iter()
        .map(|n| (adapter.join(format!("{n}.c")), format!("adapter-{n}")))
        .chain(
            FUZZ_SOURCES
                .iter()
                .map(|n| (fuzz.join(format!("{n}.c")), format!("fuzz-{n}"))),
        );
    for (source, name) in ours {
        let mut flags = common.clone();
        flags.extend(SANITIZE_FLAGS.iter().map(|s| s.to_string()));
        flags.extend([
            "-Wall".to_string(),
            "-Wextra".to_string(),
            "-Werror".to_string(),
            // wasi_platform.h declares the wasm import `respond` with
            // wasm-only attributes; nothing calls it on the host.
            "-Wno-unknown-attributes".to_string(),
            format!("-I{}", gen_dir.display()),
            format!("-I{}", adapter.display()),
            "-isystem".to_string(),
            lib.display().to_string(),
        ]);
        units.push(Unit {
            source,
            name,
            flags,
        });
    }
    units
}

/// The files of `dir`, sorted; none when it does not exist.
fn inputs(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.file_name() != Some(OsStr::new("README.md")))
        .collect();
    files.sort();
    Ok(files)
}

/// Runs every regression input and seed once, one process per input, so a
/// finding names its file (libFuzzer stops at the first crash).
fn replay(binary: &Path, fuzz_dir: &Path, large: &[PathBuf]) -> Result<()> {
    let mut files = inputs(&fuzz_dir.join("regressions"))?;
    let n_regressions = files.len();
    files.extend(inputs(&fuzz_dir.join("seeds"))?);
    files.extend(large.iter().cloned());
    if files.is_empty() {
        bail!("no inputs in {}/regressions or seeds", fuzz_dir.display());
    }
    let t = Instant::now();
    let mut failed = Vec::new();
    // libFuzzer runs file arguments once each; batches keep the process
    // count low, and a failing batch is rerun file by file to name the input.
    for batch in files.chunks(64) {
        if run_inputs(binary, batch)?.is_ok() {
            continue;
        }
        for file in batch {
            if let Err(report) = run_inputs(binary, std::slice::from_ref(file))? {
                failed.push(format!("{}:\n{report}", file.display()));
            }
        }
    }
    if !failed.is_empty() {
        bail!(
            "{} of {} inputs failed under json_fuzz:\n\n{}",
            failed.len(),
            files.len(),
            failed.join("\n\n")
        );
    }
    eprintln!(
        "replayed {} regression inputs and {} seeds{} in {:.1?}: no findings",
        n_regressions,
        files.len() - n_regressions - large.len(),
        if large.is_empty() {
            String::new()
        } else {
            format!(" and {} large documents", large.len())
        },
        t.elapsed()
    );
    Ok(())
}

/// Documents the size of the largest body json_decode accepts (10 MB), too
/// big to commit and beyond libFuzzer's input sizes here: a long array of
/// objects with escapes and duplicate keys, one long escaped string, 2.5
/// million nested arrays, 10 million unclosed brackets (with no depth
/// limit the decoder's explicit stack gets one entry per byte), and
/// 200,000 nested objects. Written once, deterministically.
fn large_documents(dir: &Path) -> Result<Vec<PathBuf>> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    const MB: usize = 1_000_000;
    type Make = fn() -> Vec<u8>;
    let docs: [(&str, Make); 5] = [
        ("array-10M.json", || {
            let mut d = b"[".to_vec();
            let mut i = 0u64;
            while d.len() < 10 * MB - 200 {
                if i > 0 {
                    d.push(b',');
                }
                d.extend_from_slice(
                    format!(
                        "{{\"id\":{},\"name\":\"item \\u00e9 \\ud83d\\ude00 <&>\",\
                         \"v\":[1.5e3,-7,true,null,\"\u{e9}\"],\"k\":{{\"a\":1,\"a\":2}}}}",
                        i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 24
                    )
                    .as_bytes(),
                );
                i += 1;
            }
            d.push(b']');
            d
        }),
        ("string-10M.json", || {
            let mut d = b"\"".to_vec();
            while d.len() < 10 * MB - 8 {
                d.extend_from_slice("ab\\n\u{2603}".as_bytes());
            }
            d.push(b'"');
            d
        }),
        ("nested-arrays-5M.json", || {
            let mut d = vec![b'['; 5 * MB / 2];
            d.extend(std::iter::repeat_n(b']', 5 * MB / 2));
            d
        }),
        ("unclosed-10M.json", || vec![b'['; 10 * MB]),
        ("nested-objects-1M.json", || {
            let mut d = b"{\"k\":".repeat(MB / 5);
            d.push(b'1');
            d.extend(std::iter::repeat_n(b'}', MB / 5));
            d
        }),
    ];
    let mut paths = Vec::new();
    for (name, make) in docs {
        let path = dir.join(name);
        if !path.is_file() {
            let mut tmp = tempfile::NamedTempFile::new_in(dir)
                .with_context(|| format!("creating a temp file in {}", dir.display()))?;
            std::io::Write::write_all(&mut tmp, &make())
                .with_context(|| format!("writing {}", tmp.path().display()))?;
            tmp.persist(&path)
                .with_context(|| format!("renaming into {}", path.display()))?;
        }
        paths.push(path);
    }
    Ok(paths)
}

/// Ok(Ok(())) when every input passed, Ok(Err(report)) on a finding.
fn run_inputs(binary: &Path, files: &[PathBuf]) -> Result<std::result::Result<(), String>> {
    let out = Command::new(binary)
        .args(files)
        .output()
        .with_context(|| format!("running {}", binary.display()))?;
    if out.status.success() {
        return Ok(Ok(()));
    }
    // The sanitizer's or the harness's report, without libFuzzer's chatter.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: Vec<&str> = stderr
        .lines()
        .filter(|l| {
            !l.starts_with("INFO:") && !l.starts_with("Running:") && !l.starts_with("Executed ")
        })
        .collect();
    Ok(Err(format!("({})\n{}", out.status, report.join("\n"))))
}

fn fuzz(binary: &Path, fuzz_dir: &Path, build_dir: &Path, args: &Args) -> Result<()> {
    let corpus = build_dir.join("corpus");
    let artifacts = build_dir.join("artifacts");
    for d in [&corpus, &artifacts] {
        fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    let mut cmd = Command::new(binary);
    cmd.arg(format!("-dict={}", fuzz_dir.join("json.dict").display()))
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .arg("-print_final_stats=1")
        // The harness aborts on a broken property: that is a crash to keep.
        .arg("-handle_abrt=1");
    match args.runs {
        Some(runs) => cmd.arg(format!("-runs={runs}")),
        None => cmd.arg(format!("-max_total_time={}", args.seconds.unwrap_or(60))),
    };
    // New inputs go to the first directory; the seeds are only read.
    cmd.arg(&corpus).arg(fuzz_dir.join("seeds"));
    eprintln!("==> fuzzing: {cmd:?}");
    let status = cmd
        .status()
        .with_context(|| format!("running {}", binary.display()))?;
    if !status.success() {
        bail!(
            "json_fuzz found a problem ({status}); the input is in {} — minimise it with \
             `{} -minimize_crash=1 -runs=10000 FILE`, fix the NIF and keep it in {}",
            artifacts.display(),
            binary.display(),
            fuzz_dir.join("regressions").display()
        );
    }
    Ok(())
}
