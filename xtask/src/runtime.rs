//! `cargo xtask runtime`: build the AtomVM runtime the toolchain ships —
//! `atomvm.wasm` (AtomVM's core plus our WASI adapter in
//! `runtime/atomvm-wasi/`), `stdlib/*.beam` (AtomVM's estdlib and exavmlib)
//! and `runtime.json` (what was built from what, with hashes) — into `priv/`.
//!
//! It drives clang directly (no cmake): it generates the headers AtomVM's
//! CMake would (version, gperf hash tables), compiles every C file in
//! parallel with objects cached by content, links with LTO, runs
//! `wasm-opt -Oz` when binaryen is installed, and checks that the module
//! imports nothing but WASI preview1 and `elixir_workers.respond`.
//! It must never write a partial runtime: every artifact is built first and
//! then moved into place, `runtime.json` last.

use anyhow::{anyhow, bail, Context, Result};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// The AtomVM commit the adapter is written against.
pub const ATOMVM_PIN: &str = "aa7ac0f8c590e7f45c897620313ffee2a30cbc0c";
const ATOMVM_URL: &str = "https://github.com/atomvm/AtomVM";

/// AtomVM's core: `SOURCE_FILES` of `src/libAtomVM/CMakeLists.txt` at the pin,
/// minus `jit.c` (this build interprets). The socket, net, crypto and ssl
/// sources live in the platform libraries upstream and are left out here.
pub(crate) const CORE_SOURCES: &[&str] = &[
    "atom",
    "atom_table",
    "avmpack",
    "bif",
    "bitstring",
    "context",
    "debug",
    "defaultatoms",
    "dictionary",
    "dist_nifs",
    "ets",
    "ets_hashtable",
    "externalterm",
    "globalcontext",
    "iff",
    "interop",
    "intn",
    "mailbox",
    "memory",
    "module",
    "nifs",
    "port",
    "posix_nifs",
    "refc_binary",
    "resources",
    "scheduler",
    "stacktrace",
    "term",
    "timer_list",
    "unicode",
    "utils",
    "valueshashtable",
];

/// Our adapter, in `runtime/atomvm-wasi/src/`.
const ADAPTER_SOURCES: &[&str] = &[
    "main",
    "sys",
    "platform_nifs",
    "platform_defaultatoms",
    "tz",
    "atom_table_presize",
    "literal_cache",
    "heap_mark",
    "json_nif",
    "sys_hooks",
];

/// Per-file defines for the core. `atom_table.c`'s constructor is renamed so
/// that `atom_table_presize.c` can wrap it and load the default atoms in one
/// batch (that file says why; it halves the boot of a one-module app).
/// `module.c`'s literal loader is renamed so that `literal_cache.c` can decode
/// each literal once per instance instead of into a heap fragment on every
/// use, which forced a full GC per literal (that file says why).
pub(crate) const CORE_FILE_DEFINES: &[(&str, &str)] = &[
    ("atom_table", "-Datom_table_new=avm_upstream_atom_table_new"),
    (
        "module",
        "-Dmodule_load_literal=avm_upstream_module_load_literal",
    ),
];

/// exavmlib modules left out of the stdlib: they drive hardware (GPIO, I2C,
/// LEDC) or talk to port drivers (AVMPort), none of which exist under WASI.
const EXAVMLIB_EXCLUDED: &[&str] = &["GPIO", "I2C", "LEDC", "AVMPort"];

/// Flags for every C file. The defines are AtomVM's CMake options for this
/// platform: no SMP and no task driver (one thread, so no atomics needed), no
/// JIT, stack traces and crash dumps on (upstream's defaults). Deliberately
/// absent: HAVE_OPEN & co. (no POSIX file NIFs: apps read nothing from disk),
/// WITH_ZLIB (the packer stores literals uncompressed), MINIMUM_OTP_COMPILER_VERSION
/// (upstream's default accepts OTP 21+, which OTP 25 beams need).
pub(crate) const COMMON_CFLAGS: &[&str] = &[
    "--target=wasm32-wasi",
    "-std=gnu11",
    "-Oz",
    "-flto=thin",
    "-g0",
    "-DNDEBUG",
    "-DAVM_NO_SMP",
    "-DAVM_NO_JIT",
    "-DAVM_CREATE_STACKTRACES",
    "-DAVM_PRINT_PROCESS_CRASH_DUMPS",
];

/// 512 KiB of stack, placed first so an overflow traps instead of silently
/// overwriting data. Pages cost nothing until touched.
///
/// A reactor (`_initialize`, then the adapter's `ew_boot` and `ew_run`) whose
/// memory is imported as `elixir_workers.memory` and exported again: the
/// worker boots once, snapshots the memory, and hands each request's fresh
/// instance a memory reset to that snapshot (main.c and the worker's
/// runtime.js say why).
///
/// ThinLTO rather than full LTO: measured here, both spend minutes on the
/// interpreter's one huge function and end within 1 KB of each other after
/// wasm-opt (600,536 vs 601,455 bytes), but ThinLTO keeps a per-module cache,
/// so a change to the adapter relinks in seconds instead of minutes.
const LDFLAGS: &[&str] = &[
    "--target=wasm32-wasi",
    "-mexec-model=reactor",
    "-Oz",
    "-flto=thin",
    // -Xlinker: -Wl would split the argument at its comma.
    "-Xlinker",
    "--import-memory=elixir_workers,memory",
    "-Wl,--export-memory",
    // heap_mark.c sees every allocation (it exports the heap's high-water
    // mark, which bounds what a run can have written above the snapshot).
    "-Wl,--wrap=malloc",
    "-Wl,--wrap=calloc",
    "-Wl,--wrap=realloc",
    "-Wl,--wrap=aligned_alloc",
    "-Wl,--wrap=posix_memalign",
    "-Wl,--gc-sections",
    "-Wl,--strip-debug",
    "-Wl,-z,stack-size=524288",
    "-Wl,--stack-first",
];

#[derive(Debug, clap::Args)]
pub struct Args {
    /// AtomVM checkout to build from (should be at the pinned commit);
    /// without it the pinned commit is fetched from GitHub into target/
    #[arg(long, value_name = "DIR")]
    atomvm_src: Option<PathBuf>,
    /// Where to put atomvm.wasm, stdlib/ and runtime.json
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Parallel compile jobs (default: available cores)
    #[arg(long, short)]
    jobs: Option<usize>,
    /// Skip wasm-opt even when it is installed
    #[arg(long)]
    no_wasm_opt: bool,
}

pub fn run(args: Args) -> Result<()> {
    let started = Instant::now();
    let root = crate::workspace_root();
    let out = args.out.clone().unwrap_or_else(|| root.join("priv"));
    let build_dir = root.join("target/atomvm-wasi");
    fs::create_dir_all(&build_dir).with_context(|| format!("creating {}", build_dir.display()))?;

    let tools = Tools::find(args.no_wasm_opt)?;
    let src = match &args.atomvm_src {
        Some(dir) => dir.clone(),
        None => fetch_atomvm(&tools, &build_dir)?,
    };
    let atomvm = AtomVmSource::open(&src, tools.git.as_deref())?;
    if atomvm.commit.as_deref() != Some(ATOMVM_PIN) {
        eprintln!(
            "warning: {} is at {}, not the pinned {ATOMVM_PIN}; the adapter is written for the pin",
            src.display(),
            atomvm.commit.as_deref().unwrap_or("an unknown commit")
        );
    }

    step("checking the wasm32-wasi toolchain");
    tools.check_wasi_toolchain(&build_dir)?;

    step("generating AtomVM's headers");
    let gen_dir = build_dir.join("gen");
    generate_headers(&tools.gperf, &atomvm, &gen_dir)?;

    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let adapter_dir = root.join("runtime/atomvm-wasi/src");
    let units = compile_units(&atomvm, &adapter_dir, &gen_dir)?;
    step(&format!("compiling {} C files ({jobs} jobs)", units.len()));
    let t = Instant::now();
    let objects = compile_all(&tools.clang, &units, &build_dir.join("obj"), jobs)?;
    eprintln!("  compiled in {:.1?}", t.elapsed());

    step("linking atomvm.wasm (ThinLTO)");
    let t = Instant::now();
    let linked = link(&tools, &objects, &build_dir, jobs)?;
    eprintln!("  linked in {:.1?}", t.elapsed());

    let wasm = match &tools.wasm_opt {
        Some(wasm_opt) => {
            step("optimizing with wasm-opt -Oz");
            let t = Instant::now();
            let optimized = optimize(wasm_opt, &linked)?;
            eprintln!("  optimized in {:.1?}", t.elapsed());
            optimized
        }
        None => {
            eprintln!("note: wasm-opt not found (Debian package: binaryen); atomvm.wasm is left unoptimized");
            linked
        }
    };
    let wasm_bytes = fs::read(&wasm).with_context(|| format!("reading {}", wasm.display()))?;
    check_imports(&wasm_bytes).with_context(|| format!("checking {}", wasm.display()))?;

    step("compiling estdlib (erlc) and exavmlib (elixirc)");
    let t = Instant::now();
    let staging = tempfile::Builder::new()
        .prefix(".runtime-staging-")
        .tempdir_in(out_parent(&out)?)
        .context("creating a staging directory next to the output")?;
    let stdlib = staging.path().join("stdlib");
    compile_stdlib(&tools, &atomvm, &stdlib)?;
    eprintln!("  compiled in {:.1?}", t.elapsed());

    step(&format!("writing {}", out.display()));
    publish(&out, &wasm_bytes, &stdlib, &tools, &atomvm)?;
    eprintln!(
        "done in {:.1?}: atomvm.wasm {} bytes",
        started.elapsed(),
        wasm_bytes.len()
    );
    Ok(())
}

fn step(what: &str) {
    eprintln!("==> {what}");
}

// ---------------------------------------------------------------------------
// Tools

struct Tools {
    clang: PathBuf,
    gperf: PathBuf,
    erlc: PathBuf,
    erl: PathBuf,
    elixirc: PathBuf,
    elixir: PathBuf,
    git: Option<PathBuf>,
    wasm_opt: Option<PathBuf>,
}

impl Tools {
    fn find(no_wasm_opt: bool) -> Result<Tools> {
        Ok(Tools {
            clang: require("CLANG", &["clang-16"], "clang-16")?,
            gperf: require("GPERF", &["gperf"], "gperf")?,
            erlc: require("ERLC", &["erlc"], "erlang-nox")?,
            erl: require("ERL", &["erl"], "erlang-nox")?,
            elixirc: require("ELIXIRC", &["elixirc"], "elixir")?,
            elixir: require("ELIXIR", &["elixir"], "elixir")?,
            git: optional("GIT", &["git"]),
            wasm_opt: if no_wasm_opt {
                None
            } else {
                optional("WASM_OPT", &["wasm-opt"])
            },
        })
    }

    /// Compiles and links an empty program, so a missing wasi-libc, builtins
    /// library or wasm-ld is reported as such before the long build.
    fn check_wasi_toolchain(&self, build_dir: &Path) -> Result<()> {
        let dir = build_dir.join("probe");
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let src = dir.join("probe.c");
        fs::write(
            &src,
            "#include <stdio.h>\nint main(void) { return puts(\"\") < 0; }\n",
        )
        .with_context(|| format!("writing {}", src.display()))?;
        let out = run_tool(Command::new(&self.clang).current_dir(&dir).args([
            "--target=wasm32-wasi",
            "-O0",
            "probe.c",
            "-o",
            "probe.wasm",
        ]))?;
        if !out.status.success() {
            bail!(
                "{} cannot build a wasm32-wasi program; install the Debian packages \
                 wasi-libc, lld-16 and libclang-rt-16-dev-wasm32\n{}",
                self.clang.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }

    fn versions(&self) -> BTreeMap<&'static str, String> {
        let mut v = BTreeMap::new();
        v.insert("clang", first_line(&self.clang, &["--version"]));
        v.insert(
            "erlc",
            first_line(
                &self.erl,
                &[
                    "-noshell",
                    "-eval",
                    "io:put_chars([\"OTP \", erlang:system_info(otp_release), \" erts \", erlang:system_info(version)]), halt().",
                ],
            ),
        );
        let elixir = capture(&self.elixir, &["--version"]).unwrap_or_default();
        v.insert(
            "elixirc",
            elixir
                .lines()
                .find(|l| l.starts_with("Elixir"))
                .unwrap_or("unknown")
                .trim()
                .to_string(),
        );
        v.insert("gperf", first_line(&self.gperf, &["--version"]));
        if let Some(wasm_opt) = &self.wasm_opt {
            v.insert("wasm-opt", first_line(wasm_opt, &["--version"]));
        }
        v
    }
}

/// Resolves a tool: `$ENV_VAR` if set, else the first of `names` on PATH.
pub(crate) fn require(env_var: &str, names: &[&str], package: &str) -> Result<PathBuf> {
    optional(env_var, names).ok_or_else(|| {
        anyhow!(
            "{} not found on PATH; install the Debian package {package} (or set {env_var})",
            names[0]
        )
    })
}

pub(crate) fn optional(env_var: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env_var).filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

fn run_tool(cmd: &mut Command) -> Result<Output> {
    cmd.output()
        .with_context(|| format!("running {}", display_command(cmd)))
}

fn display_command(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        s.push(' ');
        s.push_str(&arg.to_string_lossy());
    }
    s
}

/// Runs `cmd` and fails with its command line and stderr unless it succeeds.
pub(crate) fn run_checked(cmd: &mut Command) -> Result<Output> {
    let out = run_tool(cmd)?;
    if !out.status.success() {
        bail!(
            "`{}` failed ({})\n{}",
            display_command(cmd),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out)
}

fn capture(tool: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new(tool).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

pub(crate) fn first_line(tool: &Path, args: &[&str]) -> String {
    capture(tool, args)
        .and_then(|s| s.lines().next().map(|l| l.trim().to_string()))
        .unwrap_or_else(|| "unknown".to_string())
}

// ---------------------------------------------------------------------------
// AtomVM source

pub(crate) struct AtomVmSource {
    pub(crate) root: PathBuf,
    pub(crate) commit: Option<String>,
    pub(crate) version: String,
}

impl AtomVmSource {
    pub(crate) fn open(root: &Path, git: Option<&Path>) -> Result<AtomVmSource> {
        let marker = root.join("src/libAtomVM/globalcontext.c");
        if !marker.is_file() {
            bail!(
                "{} is not an AtomVM checkout (no src/libAtomVM/globalcontext.c)",
                root.display()
            );
        }
        let commit = git.and_then(|git| {
            let out = Command::new(git)
                .arg("-C")
                .arg(root)
                .args(["rev-parse", "HEAD"])
                .output()
                .ok()?;
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        });
        let version_file = root.join("version.cmake");
        let cmake = fs::read_to_string(&version_file)
            .with_context(|| format!("reading {}", version_file.display()))?;
        let base = cmake
            .lines()
            .find_map(|l| {
                let rest = l.trim().strip_prefix("set(ATOMVM_BASE_VERSION")?;
                Some(
                    rest.trim()
                        .trim_end_matches(')')
                        .trim()
                        .trim_matches('"')
                        .to_string(),
                )
            })
            .ok_or_else(|| anyhow!("{}: no ATOMVM_BASE_VERSION", version_file.display()))?;
        // Upstream marks development builds with the short commit, as its
        // CMake does when ATOMVM_DEV is set.
        let dev = cmake.contains("set(ATOMVM_DEV TRUE)");
        let version = match (&commit, dev) {
            (Some(c), true) => format!("{base}+git.{}", &c[..c.len().min(7)]),
            _ => base,
        };
        Ok(AtomVmSource {
            root: root.to_path_buf(),
            commit,
            version,
        })
    }

    pub(crate) fn lib(&self) -> PathBuf {
        self.root.join("src/libAtomVM")
    }
}

/// Fetches exactly the pinned commit (shallow) into `target/atomvm-wasi/`.
fn fetch_atomvm(tools: &Tools, build_dir: &Path) -> Result<PathBuf> {
    let git = tools.git.as_ref().ok_or_else(|| {
        anyhow!("git not found; install the Debian package git or pass --atomvm-src DIR")
    })?;
    let dir = build_dir.join(format!("AtomVM-{}", &ATOMVM_PIN[..12]));
    if dir.join("src/libAtomVM/globalcontext.c").is_file() {
        return Ok(dir);
    }
    step(&format!("fetching AtomVM {ATOMVM_PIN} from {ATOMVM_URL}"));
    let partial = build_dir.join(".AtomVM-fetching");
    if partial.exists() {
        fs::remove_dir_all(&partial).with_context(|| format!("removing {}", partial.display()))?;
    }
    fs::create_dir_all(&partial).with_context(|| format!("creating {}", partial.display()))?;
    let git_in = |args: &[&str]| -> Result<()> {
        run_checked(Command::new(git).current_dir(&partial).args(args)).map(drop)
    };
    git_in(&["init", "-q"])?;
    git_in(&["remote", "add", "origin", ATOMVM_URL])?;
    git_in(&["fetch", "-q", "--depth", "1", "origin", ATOMVM_PIN]).context(
        "fetching AtomVM (no network? pass --atomvm-src DIR with a checkout of the pin)",
    )?;
    git_in(&["checkout", "-q", "FETCH_HEAD"])?;
    fs::rename(&partial, &dir)
        .with_context(|| format!("renaming {} to {}", partial.display(), dir.display()))?;
    Ok(dir)
}

// ---------------------------------------------------------------------------
// Generated headers

/// The headers AtomVM's CMake writes into its build tree: `avm_version.h`
/// (from `version.h.in`) and the gperf perfect-hash tables of BIFs and NIFs.
pub(crate) fn generate_headers(gperf: &Path, atomvm: &AtomVmSource, gen_dir: &Path) -> Result<()> {
    fs::create_dir_all(gen_dir).with_context(|| format!("creating {}", gen_dir.display()))?;
    let version = format!(
        "/* Generated by cargo xtask runtime. */\n\
         #define SYSTEM_NAME \"WASI\"\n\
         #define SYSTEM_VERSION \"preview1\"\n\
         #define SYSTEM_ARCHITECTURE \"wasm32\"\n\
         #define ATOMVM_VERSION \"{}\"\n",
        atomvm.version
    );
    write_if_changed(&gen_dir.join("avm_version.h"), version.as_bytes())?;
    for table in ["bifs", "nifs"] {
        let input = atomvm.lib().join(format!("{table}.gperf"));
        let out = run_checked(Command::new(gperf).arg("-t").arg(&input))
            .with_context(|| format!("hashing {}", input.display()))?;
        write_if_changed(&gen_dir.join(format!("{table}_hash.h")), &out.stdout)?;
    }
    Ok(())
}

/// Writes through a temp file, and not at all when the bytes are unchanged.
fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<()> {
    if fs::read(path).ok().as_deref() == Some(bytes) {
        return Ok(());
    }
    write_atomic(path, bytes)
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().context("output path has no parent")?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a temp file in {}", dir.display()))?;
    tmp.write_all(bytes)
        .with_context(|| format!("writing {}", tmp.path().display()))?;
    tmp.persist(path)
        .with_context(|| format!("renaming into {}", path.display()))?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Compiling and linking

/// One C file to compile: its source, the object's base name and its flags.
pub(crate) struct Unit {
    pub(crate) source: PathBuf,
    pub(crate) name: String,
    pub(crate) flags: Vec<String>,
}

fn compile_units(atomvm: &AtomVmSource, adapter_dir: &Path, gen_dir: &Path) -> Result<Vec<Unit>> {
    let lib = atomvm.lib();
    let prelude = adapter_dir.join("core_prelude.h");
    let common: Vec<String> = COMMON_CFLAGS.iter().map(|s| s.to_string()).collect();
    let mut units = Vec::new();
    for name in CORE_SOURCES {
        let source = lib.join(format!("{name}.c"));
        if !source.is_file() {
            bail!(
                "{} is missing: is {} an AtomVM checkout at {ATOMVM_PIN}?",
                source.display(),
                atomvm.root.display()
            );
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
        let source = adapter_dir.join(format!("{name}.c"));
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
            source,
            name: format!("adapter-{name}"),
            flags,
        });
    }
    Ok(units)
}

/// Digest of every header a unit could include (the `.h`/`.def` files of its
/// source's directory and of its `-I` directories: ours, AtomVM's and the
/// generated ones). Part of each object's cache key, so editing any header
/// rebuilds everything (simple and never stale).
pub(crate) fn headers_digest(units: &[Unit]) -> Result<Vec<u8>> {
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
            hasher.update(h.to_string_lossy().as_bytes());
            hasher.update(fs::read(&h).with_context(|| format!("reading {}", h.display()))?);
        }
    }
    Ok(hasher.finalize().to_vec())
}

/// Compiles every unit not already in the cache with `clang`, `jobs` at a
/// time. Objects are named by the hash of compiler version, flags, headers
/// and source. Also used by `fuzz-nif` for its native build.
pub(crate) fn compile_all(
    clang: &Path,
    units: &[Unit],
    obj_dir: &Path,
    jobs: usize,
) -> Result<Vec<PathBuf>> {
    fs::create_dir_all(obj_dir).with_context(|| format!("creating {}", obj_dir.display()))?;
    let headers = headers_digest(units)?;
    let clang_version = first_line(clang, &["--version"]);

    let mut planned = Vec::new();
    for unit in units {
        let mut hasher = Sha256::new();
        hasher.update(clang_version.as_bytes());
        hasher.update(&headers);
        for f in &unit.flags {
            hasher.update(f.as_bytes());
            hasher.update([0]);
        }
        hasher.update(
            fs::read(&unit.source).with_context(|| format!("reading {}", unit.source.display()))?,
        );
        let key = hex(&hasher.finalize()[..8]);
        planned.push((unit, obj_dir.join(format!("{}-{key}.o", unit.name))));
    }

    let next = AtomicUsize::new(0);
    let errors = Mutex::new(Vec::<String>::new());
    let cached = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(planned.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((unit, object)) = planned.get(i) else {
                    break;
                };
                if object.is_file() {
                    cached.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                if let Err(e) = compile_one(clang, unit, object) {
                    errors
                        .lock()
                        .expect("no panics while holding the lock")
                        .push(format!("{e:#}"));
                }
            });
        }
    });
    let errors = errors
        .into_inner()
        .expect("no panics while holding the lock");
    if !errors.is_empty() {
        bail!("{}", errors.join("\n\n"));
    }
    let cached = cached.into_inner();
    if cached > 0 {
        eprintln!(
            "  {cached} of {} objects reused from the cache",
            planned.len()
        );
    }
    Ok(planned.into_iter().map(|(_, o)| o).collect())
}

fn compile_one(clang: &Path, unit: &Unit, object: &Path) -> Result<()> {
    // Compile to a temp name and rename, so an interrupted build never leaves
    // a truncated object that a later run would take from the cache.
    let dir = object.parent().context("object path has no parent")?;
    let tmp = tempfile::Builder::new()
        .prefix(".compiling-")
        .suffix(".o")
        .tempfile_in(dir)
        .with_context(|| format!("creating a temp file in {}", dir.display()))?;
    run_checked(
        Command::new(clang)
            .current_dir(dir)
            .args(&unit.flags)
            .arg("-c")
            .arg(&unit.source)
            .arg("-o")
            .arg(tmp.path()),
    )
    .with_context(|| format!("compiling {}", unit.source.display()))?;
    tmp.persist(object)
        .with_context(|| format!("renaming into {}", object.display()))?;
    Ok(())
}

/// Links the objects; the result is cached under the hash of its inputs
/// because LTO code generation is the slow step of the whole build.
fn link(tools: &Tools, objects: &[PathBuf], build_dir: &Path, jobs: usize) -> Result<PathBuf> {
    let mut hasher = Sha256::new();
    for o in objects {
        hasher.update(
            o.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
    }
    for f in LDFLAGS {
        hasher.update(f.as_bytes());
    }
    let out = build_dir.join(format!("atomvm-{}.wasm", hex(&hasher.finalize()[..8])));
    if out.is_file() {
        eprintln!("  reused {}", out.display());
        return Ok(out);
    }
    let tmp = tempfile::Builder::new()
        .prefix(".linking-")
        .suffix(".wasm")
        .tempfile_in(build_dir)
        .with_context(|| format!("creating a temp file in {}", build_dir.display()))?;
    // Ask the driver for its plan and run only the linker: when it links for
    // wasm and finds a wasm-opt (beside itself or on PATH) the driver also
    // runs `wasm-opt -Oz` on the output, silently. We run wasm-opt ourselves,
    // so that the result does not depend on what else is installed and the
    // version recorded in runtime.json is the one that ran.
    let cache = build_dir.join("thinlto-cache");
    let plan = run_checked(
        Command::new(&tools.clang)
            .current_dir(build_dir)
            .arg("-###")
            .args(LDFLAGS)
            .arg(format!("-Wl,--thinlto-cache-dir={}", cache.display()))
            .arg(format!("-Wl,--thinlto-jobs={jobs}"))
            .args(objects)
            .arg("-o")
            .arg(tmp.path()),
    )
    .context("asking clang how to link atomvm.wasm")?;
    let linker = driver_commands(&String::from_utf8_lossy(&plan.stderr))
        .into_iter()
        .find(|argv| {
            Path::new(&argv[0])
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("wasm-ld"))
        })
        .ok_or_else(|| {
            anyhow!(
                "clang planned no wasm-ld step; install the Debian package lld-16\n{}",
                String::from_utf8_lossy(&plan.stderr).trim()
            )
        })?;
    run_checked(
        Command::new(&linker[0])
            .current_dir(build_dir)
            .args(&linker[1..]),
    )
    .context("linking atomvm.wasm")?;
    tmp.persist(&out)
        .with_context(|| format!("renaming into {}", out.display()))?;
    Ok(out)
}

/// The commands in clang's `-###` output: one per line, each argument in
/// double quotes with `\\` and `\"` escaped.
fn driver_commands(plan: &str) -> Vec<Vec<String>> {
    plan.lines()
        .filter(|l| l.starts_with(" \""))
        .map(|line| {
            let mut args = Vec::new();
            let mut chars = line.chars();
            while let Some(c) = chars.next() {
                if c != '"' {
                    continue;
                }
                let mut arg = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => arg.extend(chars.next()),
                        '"' => break,
                        c => arg.push(c),
                    }
                }
                args.push(arg);
            }
            args
        })
        .filter(|args: &Vec<String>| !args.is_empty())
        .collect()
}

/// `wasm-opt -Oz` on the unstripped module (binaryen 108 rejects a module
/// that wasm-strip has touched).
fn optimize(wasm_opt: &Path, linked: &Path) -> Result<PathBuf> {
    let out = linked.with_extension("opt.wasm");
    if out.is_file() {
        return Ok(out);
    }
    let dir = linked.parent().context("linked module has no parent")?;
    let tmp = tempfile::Builder::new()
        .prefix(".optimizing-")
        .suffix(".wasm")
        .tempfile_in(dir)
        .with_context(|| format!("creating a temp file in {}", dir.display()))?;
    run_checked(
        Command::new(wasm_opt)
            .arg("-Oz")
            .arg("--strip-producers")
            .arg(linked)
            .arg("-o")
            .arg(tmp.path()),
    )
    .context("optimizing atomvm.wasm")?;
    tmp.persist(&out)
        .with_context(|| format!("renaming into {}", out.display()))?;
    Ok(out)
}

/// The runtime ABI allows imports from WASI preview1, the function
/// `elixir_workers.respond` and the memory `elixir_workers.memory`; anything
/// else (an `env.*` import left by an undefined symbol) would fail in every
/// host but the one that happens to stub it. It also needs the reactor's
/// exports: `_initialize`, `ew_boot`, `ew_run` and `memory`.
fn check_imports(wasm: &[u8]) -> Result<()> {
    let mut bad = Vec::new();
    let mut exports = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        match payload.context("parsing the module")? {
            wasmparser::Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.context("parsing an import")?;
                    let is_memory = matches!(import.ty, wasmparser::TypeRef::Memory(_));
                    if let wasmparser::TypeRef::Memory(m) = import.ty {
                        if m.initial > BOOT_MEMORY_PAGES {
                            bail!(
                                "atomvm.wasm needs {} pages of memory at instantiation; the worker \
                                 boots it in {BOOT_MEMORY_PAGES} (BOOT_MEMORY_PAGES in runtime.js)",
                                m.initial
                            );
                        }
                    }
                    let allowed = (import.module == "wasi_snapshot_preview1" && !is_memory)
                        || (import.module == "elixir_workers"
                            && ((import.name == "respond" && !is_memory)
                                || (import.name == "memory" && is_memory)));
                    if !allowed {
                        bad.push(format!("{}.{}", import.module, import.name));
                    }
                }
            }
            wasmparser::Payload::ExportSection(reader) => {
                for export in reader {
                    exports.push(export.context("parsing an export")?.name.to_string());
                }
            }
            _ => {}
        }
    }
    if !bad.is_empty() {
        bail!(
            "atomvm.wasm imports {}; only wasi_snapshot_preview1.*, elixir_workers.respond and \
             elixir_workers.memory are allowed",
            bad.join(", ")
        );
    }
    check_exports(&exports)
}

fn check_exports(exports: &[String]) -> Result<()> {
    let missing: Vec<&str> = REQUIRED_EXPORTS
        .iter()
        .copied()
        .filter(|e| !exports.iter().any(|x| x == e))
        .collect();
    if !missing.is_empty() {
        bail!("atomvm.wasm does not export {}", missing.join(", "));
    }
    Ok(())
}

/// The memory the worker boots the VM in (`BOOT_MEMORY_PAGES` in
/// templates/worker/src/runtime.js): the module's minimum must fit.
const BOOT_MEMORY_PAGES: u64 = 160;

/// What the worker calls: the reactor's constructor, boot (snapshotted once),
/// run (once per request), and the memory it snapshots.
const REQUIRED_EXPORTS: &[&str] = &[
    "_initialize",
    "ew_boot",
    "ew_run",
    "ew_heap_high_water",
    "memory",
];

// ---------------------------------------------------------------------------
// stdlib

fn compile_stdlib(tools: &Tools, atomvm: &AtomVmSource, out: &Path) -> Result<()> {
    let libs = atomvm.root.join("libs");
    let erl_dir = out.with_extension("erl");
    let ex_dir = out.with_extension("ex");
    for d in [out, &erl_dir, &ex_dir] {
        fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    // Both compilers run in an empty directory: Erlang puts the current
    // directory on its code path, and AtomVM's own lists.beam or maps.beam
    // found there would replace OTP's inside the compiler itself.
    let scratch = tempfile::tempdir().context("creating a scratch directory")?;

    let estdlib = sorted_files(&libs.join("estdlib/src"), "erl")?;
    run_checked(
        Command::new(&tools.erlc)
            .current_dir(scratch.path())
            .arg("-I")
            .arg(libs.join("include"))
            .arg("-o")
            .arg(&erl_dir)
            .args(&estdlib),
    )
    .context("compiling AtomVM's estdlib")?;

    let exavmlib: Vec<PathBuf> = sorted_files(&libs.join("exavmlib/lib"), "ex")?
        .into_iter()
        .filter(|p| {
            let stem = p.file_stem().and_then(OsStr::to_str).unwrap_or_default();
            !EXAVMLIB_EXCLUDED.contains(&stem)
        })
        .collect();
    // exavmlib redefines modules of Elixir's own stdlib (Enum, Kernel, ...)
    // with AtomVM-sized versions; the conflict is the point.
    run_checked(
        Command::new(&tools.elixirc)
            .current_dir(scratch.path())
            .arg("--ignore-module-conflict")
            .arg("-o")
            .arg(&ex_dir)
            .args(&exavmlib),
    )
    .context("compiling AtomVM's exavmlib")?;

    let mut seen = BTreeMap::new();
    for dir in [&erl_dir, &ex_dir] {
        for beam in sorted_files(dir, "beam")? {
            let name = beam
                .file_name()
                .expect("listed files have names")
                .to_owned();
            if let Some(first) = seen.insert(name.clone(), beam.clone()) {
                bail!(
                    "{} is built twice ({} and {})",
                    name.to_string_lossy(),
                    first.display(),
                    beam.display()
                );
            }
            fs::rename(&beam, out.join(&name))
                .with_context(|| format!("moving {} into {}", beam.display(), out.display()))?;
        }
    }
    if seen.len() < estdlib.len() + exavmlib.len() {
        bail!(
            "expected at least {} beams from {} sources, got {}",
            estdlib.len() + exavmlib.len(),
            estdlib.len() + exavmlib.len(),
            seen.len()
        );
    }
    for d in [&erl_dir, &ex_dir] {
        fs::remove_dir_all(d).with_context(|| format!("removing {}", d.display()))?;
    }
    Ok(())
}

fn sorted_files(dir: &Path, ext: &str) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension() == Some(OsStr::new(ext)))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("no .{ext} files in {}", dir.display());
    }
    Ok(files)
}

// ---------------------------------------------------------------------------
// Publishing

fn out_parent(out: &Path) -> Result<PathBuf> {
    fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    Ok(out.to_path_buf())
}

/// Moves the finished artifacts into `out`: stdlib/ by directory swap,
/// atomvm.wasm by rename, runtime.json last, so a reader that sees the new
/// runtime.json sees the artifacts it describes.
fn publish(
    out: &Path,
    wasm: &[u8],
    staged_stdlib: &Path,
    tools: &Tools,
    atomvm: &AtomVmSource,
) -> Result<()> {
    let mut artifacts = Vec::new();
    artifacts.push(artifact("atomvm.wasm", wasm));
    for beam in sorted_files(staged_stdlib, "beam")? {
        let bytes = fs::read(&beam).with_context(|| format!("reading {}", beam.display()))?;
        let name = beam
            .file_name()
            .expect("listed files have names")
            .to_string_lossy();
        artifacts.push(artifact(&format!("stdlib/{name}"), &bytes));
    }

    let stdlib = out.join("stdlib");
    if stdlib.exists() {
        let old = tempfile::Builder::new()
            .prefix(".stdlib-old-")
            .tempdir_in(out)
            .with_context(|| format!("creating a temp dir in {}", out.display()))?;
        let parked = old.path().join("stdlib");
        fs::rename(&stdlib, &parked)
            .with_context(|| format!("moving the old {} aside", stdlib.display()))?;
        fs::rename(staged_stdlib, &stdlib)
            .with_context(|| format!("renaming the new stdlib into {}", stdlib.display()))?;
        // `old` removes the previous stdlib when dropped.
    } else {
        fs::rename(staged_stdlib, &stdlib)
            .with_context(|| format!("renaming the new stdlib into {}", stdlib.display()))?;
    }
    write_atomic(&out.join("atomvm.wasm"), wasm)?;

    let manifest = serde_json::json!({
        "atomvm": {
            "commit": atomvm.commit,
            "pinned_commit": ATOMVM_PIN,
            "version": atomvm.version,
        },
        "tools": tools.versions(),
        "build": {
            "cflags": COMMON_CFLAGS,
            "ldflags": LDFLAGS,
            "wasm_opt": tools.wasm_opt.as_ref().map(|_| "-Oz --strip-producers"),
            "exavmlib_excluded": EXAVMLIB_EXCLUDED,
        },
        "artifacts": artifacts,
    });
    let mut json = serde_json::to_vec_pretty(&manifest).context("serializing runtime.json")?;
    json.push(b'\n');
    write_atomic(&out.join("runtime.json"), &json)?;
    Ok(())
}

fn artifact(path: &str, bytes: &[u8]) -> serde_json::Value {
    serde_json::json!({
        "path": path,
        "size": bytes.len(),
        "sha256": hex(&Sha256::digest(bytes)),
    })
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal module importing `module.name` as a function of type () -> ().
    fn module_importing(module: &str, name: &str) -> Vec<u8> {
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        wasm.extend([1, 4, 1, 0x60, 0, 0]); // type section: one func type () -> ()
        let mut body = vec![1]; // one import
        body.push(module.len() as u8);
        body.extend(module.as_bytes());
        body.push(name.len() as u8);
        body.extend(name.as_bytes());
        body.extend([0, 0]); // kind func, type index 0
        wasm.push(2);
        wasm.push(body.len() as u8);
        wasm.extend(body);
        wasm
    }

    #[test]
    fn driver_plan_is_split_into_commands() {
        let plan = "clang version 16\nInstalledDir: /usr/bin\n \"/usr/bin/wasm-ld-16\" \"-o\" \"a \\\"b\\\".wasm\"\n \"/usr/bin/wasm-opt\" \"x\"\n";
        let cmds = driver_commands(plan);
        assert_eq!(cmds.len(), 2);
        assert_eq!(cmds[0], ["/usr/bin/wasm-ld-16", "-o", "a \"b\".wasm"]);
        assert_eq!(cmds[1], ["/usr/bin/wasm-opt", "x"]);
    }

    #[test]
    fn wasi_and_respond_imports_are_allowed() {
        for (module, name) in [
            ("wasi_snapshot_preview1", "fd_write"),
            ("elixir_workers", "respond"),
        ] {
            let err = check_imports(&module_importing(module, name)).unwrap_err();
            // Allowed: the only complaint is the missing reactor exports.
            assert!(
                format!("{err:#}").starts_with("atomvm.wasm does not export _initialize"),
                "{err:#}"
            );
        }
    }

    #[test]
    fn reactor_exports_are_required() {
        let all: Vec<String> = REQUIRED_EXPORTS.iter().map(|s| s.to_string()).collect();
        check_exports(&all).unwrap();
        let err = check_exports(&all[1..]).unwrap_err();
        assert_eq!(format!("{err}"), "atomvm.wasm does not export _initialize");
    }

    #[test]
    fn env_imports_are_rejected() {
        let err = check_imports(&module_importing("env", "tzset")).unwrap_err();
        assert!(format!("{err:#}").contains("env.tzset"), "{err:#}");
        let err = check_imports(&module_importing("elixir_workers", "other")).unwrap_err();
        assert!(
            format!("{err:#}").contains("elixir_workers.other"),
            "{err:#}"
        );
    }
}
