//! The warm compile server never hangs a build (issue #11, item 4).
//!
//! Most tests drive `pipeline::compile_server::compile_with` directly (the
//! call `build` makes), which is ~10x faster than a whole `build` and lets a
//! few hundred compiles run against one server; one test goes through the
//! real `elixir-workers build`. Every compile runs under a watchdog: taking
//! longer than [`BOUND`] fails the test instead of hanging it.

use pipeline::compile_server::{self, Limits, Outcome};
use pipeline::framework;
use pipeline::toolchain::Toolchain;
use pipeline::{Project, ToolFailed};
use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use test_support::cli::{cache_dir, ew, new_project};
use test_support::{require_runtime, runtime_dir, tempdir, wait_for, Run};

/// No compile or build may take longer than this.
const BOUND: Duration = Duration::from_secs(60);

const LIMITS: Limits = Limits {
    idle: Duration::from_secs(60),
    compile: Duration::from_secs(30),
};

fn runtime(test: &str) -> Option<PathBuf> {
    require_runtime(test)
}

/// The in-process compiles find the framework and put the server script in
/// the same cache the `elixir-workers` runs of the tests use. Set once, to
/// the value every `ew` command gets; std serialises it with the other
/// environment reads of this process.
fn use_test_cache() {
    // The runtime is looked up (once per process, by test-support) before
    // the cache moves to the tests' own, where no runtime is.
    runtime_dir();
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| std::env::set_var(framework::CACHE_ENV, cache_dir()));
}

/// Runs `f` on its own thread; a result later than [`BOUND`] fails the test.
fn within_bound<T: Send + 'static>(
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> (T, Duration) {
    let (tx, rx) = mpsc::channel();
    let started = Instant::now();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(BOUND) {
        Ok(value) => (value, started.elapsed()),
        Err(_) => panic!("{what} did not finish within {} s", BOUND.as_secs()),
    }
}

/// What one compile gave.
enum Got {
    /// Compiled through the server: the beams written, by file name.
    Compiled(BTreeMap<String, Vec<u8>>),
    /// A compile error: what the compiler printed.
    Failed(String),
    /// The server was not used (the build would run elixirc): why.
    Fallback(String),
}

impl std::fmt::Debug for Got {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Got::Compiled(beams) => write!(f, "Compiled({:?})", beams.keys().collect::<Vec<_>>()),
            Got::Failed(printed) => write!(f, "Failed({printed})"),
            Got::Fallback(why) => write!(f, "Fallback({why})"),
        }
    }
}

/// A project compiled the way `build` compiles it.
#[derive(Clone)]
struct Warm {
    project: Project,
    fw_ebin: PathBuf,
    key: String,
}

impl Warm {
    fn new(dir: &Path) -> Warm {
        use_test_cache();
        let root = dir.canonicalize().unwrap();
        let toolchain = Toolchain::detect(&root).unwrap();
        let fw = framework::ensure_compiled(&toolchain).unwrap();
        Warm {
            project: Project::at(&root),
            fw_ebin: fw.ebin,
            key: fw.key,
        }
    }

    fn root(&self) -> &Path {
        &self.project.root
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.root().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// `lib/**/*.ex`, relative, as `build` passes them.
    fn lib_files(&self) -> Vec<PathBuf> {
        self.project
            .sources()
            .unwrap()
            .into_iter()
            .map(|p| p.strip_prefix(self.root()).unwrap().to_path_buf())
            .collect()
    }

    fn compile(&self, limits: Limits) -> (Got, Duration) {
        self.compile_files(self.lib_files(), limits)
    }

    fn compile_files(&self, files: Vec<PathBuf>, limits: Limits) -> (Got, Duration) {
        let warm = self.clone();
        within_bound("a compile", move || {
            let build = warm.project.build_dir();
            std::fs::create_dir_all(&build).unwrap();
            let out = tempfile::Builder::new()
                .prefix(".ebin-")
                .tempdir_in(&build)
                .unwrap();
            let result = compile_server::compile_with(
                &warm.project,
                &warm.fw_ebin,
                &warm.key,
                &files,
                out.path(),
                &limits,
            );
            match result {
                Ok(Outcome::Compiled(_)) => Got::Compiled(
                    std::fs::read_dir(out.path())
                        .unwrap()
                        .map(|e| {
                            let e = e.unwrap();
                            let name = e.file_name().to_string_lossy().into_owned();
                            (name, std::fs::read(e.path()).unwrap())
                        })
                        .collect(),
                ),
                Ok(Outcome::Unavailable(why)) => Got::Fallback(why),
                Err(e) => match e.downcast_ref::<ToolFailed>() {
                    Some(failed) => Got::Failed(failed.stdout.clone()),
                    None => panic!("compile_with failed: {e:#}"),
                },
            }
        })
    }

    fn info(&self) -> Option<String> {
        std::fs::read_to_string(self.project.state_dir().join("compiler")).ok()
    }

    fn server_pid(&self) -> Option<u32> {
        self.info()?.lines().nth(3)?.parse().ok()
    }

    fn kill_server(&self) {
        if let Some(pid) = self.server_pid() {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            assert!(
                wait_gone(pid, Duration::from_secs(10)),
                "server {pid} survived SIGKILL"
            );
        }
    }
}

fn alive(pid: u32) -> bool {
    // A zombie (exited, not yet reaped by the thread that started it) has
    // an empty command line.
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| !c.is_empty())
}

fn wait_gone(pid: u32, timeout: Duration) -> bool {
    wait_for(timeout, || (!alive(pid)).then_some(())).is_some()
}

/// The sources every passing compile has besides the template's: `E` uses
/// `C` at compile time, so workers wait on each other.
fn write_passing(w: &Warm, version: usize) {
    w.write(
        "lib/c.ex",
        &format!("defmodule C do\n  def c, do: :v{version}\nend\n"),
    );
    w.write("lib/d.ex", "defmodule D do\n  def d, do: 2\nend\n");
    w.write(
        "lib/e.ex",
        "defmodule E do\n  @c C.c()\n  def e, do: @c\nend\n",
    );
}

/// A failing state: which variant, and (file names, text) the error must show.
fn write_failing(w: &Warm, variant: usize) -> (&'static [&'static str], &'static str) {
    match variant % 3 {
        0 => {
            w.write("lib/d.ex", "defmodule D do\n  def d(, do: 2\nend\n");
            (&["lib/d.ex"], "SyntaxError")
        }
        1 => {
            w.write("lib/c.ex", "defmodule C do\n  def c, do: nope()\nend\n");
            (&["lib/c.ex"], "nope/0")
        }
        // Two files failing at once: the one the compiler reports second
        // left its message behind in the old server (issue #11).
        _ => {
            w.write(
                "lib/c.ex",
                "defmodule C do\n  Process.sleep(20)\n  raise \"boom\"\nend\n",
            );
            w.write(
                "lib/d.ex",
                "defmodule D do\n  Process.sleep(20)\n  raise \"boom\"\nend\n",
            );
            (&["lib/c.ex", "lib/d.ex"], "boom")
        }
    }
}

/// Compiled through the server, `E` against this version of `C` (its atom
/// table holds `:v<version>`, length-prefixed).
#[track_caller]
fn expect_compiled(got: &Got, version: usize) {
    let Got::Compiled(beams) = got else {
        panic!("expected a compile through the server, got {got:?}");
    };
    let names: Vec<&String> = beams.keys().collect();
    for m in ["Elixir.C.beam", "Elixir.D.beam", "Elixir.E.beam"] {
        assert!(beams.contains_key(m), "{m} missing from {names:?}");
    }
    assert!(!beams.contains_key("Elixir.Z.beam"), "{names:?}");
    let atom = format!("v{version}");
    let mut entry = vec![atom.len() as u8];
    entry.extend_from_slice(atom.as_bytes());
    assert!(
        beams["Elixir.E.beam"]
            .windows(entry.len())
            .any(|w| w == entry),
        "E was not compiled against C returning :{atom}"
    );
}

#[track_caller]
fn expect_failed(got: &Got, files: &[&str], text: &str) {
    let Got::Failed(printed) = got else {
        panic!("expected a compile error naming {files:?}, got {got:?}");
    };
    assert!(
        files.iter().any(|f| printed.contains(f)) && printed.contains(text),
        "the error should name {files:?} and say {text:?}:\n{printed}"
    );
}

/// One round: a failing compile, then a passing one; returns their times.
fn round(w: &Warm, i: usize) -> [Duration; 2] {
    let (files, text) = write_failing(w, i);
    let (got, failed_in) = w.compile(LIMITS);
    expect_failed(&got, files, text);
    write_passing(w, i);
    let (got, passed_in) = w.compile(LIMITS);
    expect_compiled(&got, i);
    [failed_in, passed_in]
}

struct Times(Vec<Duration>);

impl Times {
    fn report(&self, what: &str) {
        let mut t = self.0.clone();
        t.sort();
        let total: Duration = t.iter().sum();
        eprintln!(
            "{what}: {} compiles in {:.1} s, median {} ms, max {} ms",
            t.len(),
            total.as_secs_f64(),
            t[t.len() / 2].as_millis(),
            t.last().unwrap().as_millis()
        );
    }
}

/// The reproduction of issue #11: two files failing at once, then the fixed
/// sources. The old server read the failed compile's leftover `:file_error`
/// as the next compile's and waited forever for a worker that was gone.
/// Also: what a failed compile loaded is unloaded before the next one.
#[test]
fn a_failed_compile_leaves_nothing_for_the_next() {
    let Some(rt) = runtime("a_failed_compile_leaves_nothing_for_the_next") else {
        return;
    };
    let tmp = tempdir();
    let w = Warm::new(&new_project(tmp.path(), "stale_app", &rt));
    write_passing(&w, 0);
    let (got, _) = w.compile(LIMITS);
    expect_compiled(&got, 0);
    let pid = w.server_pid().expect("a server was started");

    for i in 0..5 {
        let (files, text) = write_failing(&w, 2);
        let (got, _) = w.compile(LIMITS);
        expect_failed(&got, files, text);
        write_passing(&w, i);
        let (got, _) = w.compile(LIMITS);
        expect_compiled(&got, i);
    }

    // `Extra` compiles, then `Broken` fails: the compile fails, but Extra
    // was loaded. Once extra.ex is gone, Extra must be gone too.
    w.write("lib/extra.ex", "defmodule Extra do\n  def x, do: 1\nend\n");
    w.write(
        "lib/broken.ex",
        "defmodule Broken do\n  Process.sleep(300)\n  raise \"late\"\nend\n",
    );
    let (got, _) = w.compile(LIMITS);
    expect_failed(&got, &["lib/broken.ex"], "late");
    std::fs::remove_file(w.root().join("lib/extra.ex")).unwrap();
    std::fs::remove_file(w.root().join("lib/broken.ex")).unwrap();
    w.write(
        "lib/uses_extra.ex",
        "defmodule UsesExtra do\n  @x Extra.x()\n  def x, do: @x\nend\n",
    );
    let (got, _) = w.compile(LIMITS);
    expect_failed(&got, &["lib/uses_extra.ex"], "Extra");

    assert_eq!(w.server_pid(), Some(pid), "one server served every compile");
    w.kill_server();
}

/// ~200 compiles against one server: alternating failing and passing
/// compiles, concurrent compiles of two projects and two clients of one
/// project, and a server killed between and during compiles.
#[test]
fn warm_compiler_survives_failures_concurrency_and_kills() {
    let Some(rt) = runtime("warm_compiler_survives_failures_concurrency_and_kills") else {
        return;
    };
    let tmp = tempdir();
    let a = Warm::new(&new_project(tmp.path(), "stress_a", &rt));
    let b = Warm::new(&new_project(tmp.path(), "stress_b", &rt));
    let started = Instant::now();

    // 1. Alternating, one project, one server.
    write_passing(&a, 0);
    let (got, first) = a.compile(LIMITS);
    expect_compiled(&got, 0);
    let pid = a.server_pid().expect("a server was started");
    let mut times = Times(vec![first]);
    for i in 1..=60 {
        times.0.extend(round(&a, i));
    }
    assert_eq!(a.server_pid(), Some(pid), "one server served every compile");
    times.report("alternating");

    // 2. Concurrently: project A and project B, each alternating, and a
    // second client of A's server compiling other files (`extra/z.ex`)
    // in between A's own compiles. Each must get its own answer.
    write_passing(&b, 0);
    a.write("extra/z.ex", "defmodule Z do\n  def z, do: 26\nend\n");
    let threads = [
        {
            let a = a.clone();
            std::thread::spawn(move || {
                (1..=15)
                    .flat_map(|i| round(&a, 100 + i))
                    .collect::<Vec<_>>()
            })
        },
        {
            let b = b.clone();
            std::thread::spawn(move || (1..=15).flat_map(|i| round(&b, i)).collect::<Vec<_>>())
        },
        {
            let a = a.clone();
            std::thread::spawn(move || {
                (0..20)
                    .map(|_| {
                        let (got, t) = a.compile_files(vec![PathBuf::from("extra/z.ex")], LIMITS);
                        match got {
                            Got::Compiled(beams) => {
                                assert_eq!(beams.keys().collect::<Vec<_>>(), ["Elixir.Z.beam"])
                            }
                            other => panic!("expected Z alone, got {other:?}"),
                        }
                        t
                    })
                    .collect()
            })
        },
    ];
    let mut times = Times(Vec::new());
    for t in threads {
        times.0.extend(t.join().expect("a compile thread failed"));
    }
    assert_eq!(
        a.server_pid(),
        Some(pid),
        "A's server served both of its clients"
    );
    times.report("concurrent");

    // 3. Killed between compiles: the next compile starts a fresh server.
    a.kill_server();
    write_passing(&a, 1000);
    let (got, t) = a.compile(LIMITS);
    expect_compiled(&got, 1000);
    let fresh = a.server_pid().unwrap();
    assert_ne!(fresh, pid);
    eprintln!("after a kill between compiles: {} ms", t.as_millis());

    // 4. Killed in the middle of a compile: that compile still finishes
    // (on a fresh server, or through the fallback), and so does the next.
    a.write(
        "lib/slow.ex",
        "defmodule Slow do\n  Process.sleep(1500)\n  def s, do: 1\nend\n",
    );
    let during = {
        let a = a.clone();
        std::thread::spawn(move || a.compile(LIMITS))
    };
    std::thread::sleep(Duration::from_millis(700));
    a.kill_server();
    let (got, t) = during.join().unwrap();
    assert!(
        matches!(got, Got::Compiled(_) | Got::Fallback(_)),
        "{got:?}"
    );
    eprintln!(
        "killed during a compile: {got:?} after {} ms",
        t.as_millis()
    );
    std::fs::remove_file(a.root().join("lib/slow.ex")).unwrap();
    for i in 0..3 {
        times.0.extend(round(&a, 2000 + i));
    }
    assert!(a.server_pid().is_some_and(alive));
    eprintln!("whole test: {:.1} s", started.elapsed().as_secs_f64());
    a.kill_server();
    b.kill_server();
}

/// A fake server on the port the info file names, with the info file's pid
/// pointing at a stand-in process (its command line names the info file, as
/// a real server's does, so the client may kill it).
struct Fake {
    stand_in: std::process::Child,
}

impl Fake {
    /// Takes over `w`'s server entry: `answer` gets each request and returns
    /// the framed reply to send (`None`: say nothing, keep the connection).
    fn install(w: &Warm, answer: fn(&str) -> Option<String>) -> Fake {
        let info_path = w.project.state_dir().join("compiler");
        let info = std::fs::read_to_string(&info_path).unwrap();
        let lines: Vec<&str> = info.lines().collect();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                std::thread::spawn(move || {
                    let mut len = [0u8; 4];
                    if stream.read_exact(&mut len).is_err() {
                        return;
                    }
                    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
                    if stream.read_exact(&mut body).is_err() {
                        return;
                    }
                    match answer(&String::from_utf8_lossy(&body)) {
                        Some(reply) => {
                            let _ = stream.write_all(&(reply.len() as u32).to_be_bytes());
                            let _ = stream.write_all(reply.as_bytes());
                        }
                        None => std::thread::sleep(Duration::from_secs(120)),
                    }
                });
            }
        });
        use std::os::unix::process::CommandExt as _;
        let stand_in = Command::new("sh")
            .args(["-c", "sleep 300; :", "compile_server-fake"])
            .arg(&info_path)
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap();
        std::fs::write(
            &info_path,
            format!("{port}\n{}\n{}\n{}\n", lines[1], lines[2], stand_in.id()),
        )
        .unwrap();
        Fake { stand_in }
    }

    /// The client must have killed the stand-in (replaced the server).
    fn assert_killed(mut self) {
        let status = wait_for(Duration::from_secs(10), || {
            self.stand_in.try_wait().unwrap()
        });
        use std::os::unix::process::ExitStatusExt as _;
        assert_eq!(
            status.and_then(|s| s.signal()),
            Some(9),
            "the misbehaving server was not killed"
        );
    }
}

/// An answer without this request's id (what the old protocol sent, and
/// what anything else on a reused port may send), one for another request,
/// a server that never answers, garbage, and a compile that overruns: each is refused quickly,
/// the server is killed and forgotten, the call falls back, and the next
/// compile gets a fresh server.
#[test]
fn a_wrong_late_or_missing_answer_is_never_taken() {
    let Some(rt) = runtime("a_wrong_late_or_missing_answer_is_never_taken") else {
        return;
    };
    let tmp = tempdir();
    let w = Warm::new(&new_project(tmp.path(), "fake_app", &rt));
    write_passing(&w, 0);
    let (got, _) = w.compile(LIMITS);
    expect_compiled(&got, 0);
    let short = Limits {
        compile: Duration::from_secs(2),
        ..LIMITS
    };

    type Case = (&'static str, fn(&str) -> Option<String>, &'static str);
    let cases: [Case; 4] = [
        (
            "an answer without an id",
            |_| Some("ok\n".into()),
            "answered request \"ok\"",
        ),
        (
            "a stale answer",
            |_| Some("00000000deadbeef\nok\n".into()),
            "answered request \"00000000deadbeef\"",
        ),
        (
            "no answer",
            |_| None,
            "no answer from the compile server within 4 s",
        ),
        (
            "garbage",
            |_| Some("HTTP/1.1 400 Bad Request".into()),
            "unexpected reply",
        ),
    ];
    for (what, answer, says) in cases {
        let real = w.server_pid().unwrap();
        let fake = Fake::install(&w, answer);
        let (got, t) = w.compile(short);
        match &got {
            Got::Fallback(why) => assert!(
                why.contains(says)
                    && why.contains("the next build starts a fresh one")
                    && !why.contains('\n'),
                "{what}: {why}"
            ),
            other => panic!("{what}: expected a fallback, got {other:?}"),
        }
        assert!(t < Duration::from_secs(10), "{what}: took {t:?}");
        fake.assert_killed();
        assert!(w.info().is_none(), "{what}: the server was not forgotten");
        // The real server stops once its info file no longer names it.
        assert!(
            wait_gone(real, Duration::from_secs(15)),
            "{what}: {real} lingers"
        );
        let (got, _) = w.compile(LIMITS);
        expect_compiled(&got, 0);
        eprintln!("{what}: fell back in {} ms", t.as_millis());
    }

    // A compile that overruns: the server gives up, says so, and exits.
    let pid = w.server_pid().unwrap();
    w.write(
        "lib/slow.ex",
        "defmodule Slow do\n  Process.sleep(30_000)\nend\n",
    );
    let (got, t) = w.compile(short);
    match &got {
        Got::Fallback(why) => assert!(why.contains("the compile took longer than 2 s"), "{why}"),
        other => panic!("expected a fallback, got {other:?}"),
    }
    assert!(t < Duration::from_secs(6), "took {t:?}");
    assert!(
        wait_gone(pid, Duration::from_secs(5)),
        "the overrun server lingers"
    );
    std::fs::remove_file(w.root().join("lib/slow.ex")).unwrap();
    let (got, _) = w.compile(LIMITS);
    expect_compiled(&got, 0);
    assert_ne!(w.server_pid(), Some(pid));
    w.kill_server();
}

/// Runs an `elixir-workers` command, failing the test past [`BOUND`].
fn run_within(cmd: &mut Command) -> Run {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(BOUND) {
        Ok(out) => {
            let out = out.unwrap();
            Run {
                command: format!("{cmd:?}"),
                code: out.status.code(),
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            }
        }
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("{cmd:?} did not finish within {} s", BOUND.as_secs());
        }
    }
}

/// Through `elixir-workers build`: a failed build, then the fix (same
/// server); a killed server is replaced without a word; a compile over
/// `ELIXIR_WORKERS_COMPILER_TIMEOUT_SECS` falls back to elixirc with one
/// line saying so; an idle server exits.
#[test]
fn build_never_waits_on_a_stuck_compiler() {
    let Some(rt) = runtime("build_never_waits_on_a_stuck_compiler") else {
        return;
    };
    let tmp = tempdir();
    let dir = new_project(tmp.path(), "build_app", &rt);
    let w = Warm::new(&dir);
    let build = |env: &[(&str, &str)]| {
        let mut cmd = ew(&dir, &rt);
        cmd.args(["build", "--no-install"]);
        for (k, v) in env {
            cmd.env(k, v);
        }
        run_within(&mut cmd)
    };
    write_passing(&w, 0);
    build(&[]).ok();
    let pid = w.server_pid().expect("the build started a compile server");

    let (files, text) = write_failing(&w, 2);
    let failed = build(&[]);
    assert_eq!(failed.code, Some(1), "{}", failed.stderr);
    assert!(
        files.iter().any(|f| failed.stderr.contains(f)) && failed.stderr.contains(text),
        "{}",
        failed.stderr
    );
    write_passing(&w, 1);
    let fixed = build(&[]).ok();
    assert!(!fixed.stderr.contains("compile server"), "{}", fixed.stderr);
    assert_eq!(w.server_pid(), Some(pid));

    w.kill_server();
    write_passing(&w, 2);
    let replaced = build(&[]).ok();
    assert!(
        !replaced.stderr.contains("compile server"),
        "{}",
        replaced.stderr
    );
    let pid = w.server_pid().unwrap();

    w.write(
        "lib/slow.ex",
        "defmodule Slow do\n  Process.sleep(4_000)\n  def s, do: 1\nend\n",
    );
    let slow = build(&[("ELIXIR_WORKERS_COMPILER_TIMEOUT_SECS", "1")]).ok();
    let said: Vec<&str> = slow
        .stderr
        .lines()
        .filter(|l| l.contains("compile server"))
        .collect();
    assert_eq!(said.len(), 1, "{}", slow.stderr);
    assert!(
        said[0].contains("the compile took longer than 1 s")
            && said[0].contains("using elixirc")
            && said[0].contains("the next build starts a fresh one"),
        "{}",
        said[0]
    );
    assert!(dir.join("_build/ebin/Elixir.Slow.beam").is_file());
    assert!(
        wait_gone(pid, Duration::from_secs(5)),
        "the overrun server lingers"
    );

    // Idle exit, shortened.
    std::fs::remove_file(dir.join("lib/slow.ex")).unwrap();
    build(&[("ELIXIR_WORKERS_COMPILER_IDLE_SECS", "4")]).ok();
    let pid = w.server_pid().expect("a fresh server");
    assert!(
        wait_gone(pid, Duration::from_secs(20)),
        "the idle server did not exit"
    );
    assert!(w.info().is_none(), "the idle server left its info file");
}
