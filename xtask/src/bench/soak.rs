//! `cargo xtask bench soak`: the worker under sustained load in `wrangler
//! dev`, every response checked.
//!
//! The app is made as a user makes one: `elixir-workers new soak_app`, its
//! router replaced by `xtask/soak/router.ex`, a KV namespace added to its
//! `wrangler.jsonc`, `elixir-workers build`, then `npx wrangler dev` on
//! 127.0.0.1 (local mode: wrangler's own KV simulator, persisted to a fresh
//! directory). N clients, each on its own keep-alive connection and its own
//! key space, send a weighted mix of KV reads (hits and misses), KV writes,
//! large echoes, crashes and bodies over the 1 MB limit for a fixed time (or
//! a fixed number of requests). Every key written is read back at the end.
//! The RSS of the workerd processes under wrangler is sampled every second.
//!
//! `--control` serves the same routes from a plain JavaScript worker
//! (`xtask/soak/control.js`) under the same load: what wrangler and workerd
//! cost without the VM. `--chunked-413` adds bodies over 1 MB sent without a
//! Content-Length.

use anyhow::{bail, Context as _, Result};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::workerd::{
    agent, elixir_workers, link_node_modules, work_dir, wrangler_version, Wrangler,
};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Concurrent clients, each on its own keep-alive connection
    #[arg(long, default_value_t = 8)]
    clients: usize,

    /// Seconds of load
    #[arg(long, default_value_t = 30)]
    seconds: u64,

    /// Stop once this many requests have been sent, even with time left
    #[arg(long, default_value_t = 200_000)]
    max_requests: u64,

    /// Seconds of load after which memory growth is measured
    #[arg(long, default_value_t = 5)]
    warmup_seconds: u64,

    /// How long after a write's response a read may still see the value
    /// before it: the write runs after the response (`ctx.waitUntil`)
    #[arg(long, default_value_t = 1000)]
    stale_window_ms: u64,

    /// Seed of the request mix, the keys and the bodies
    #[arg(long, default_value_t = 1)]
    seed: u64,

    /// Only these routes, in their usual proportions (to tell which one
    /// memory grows with): health, kv_read, kv_miss, kv_write, echo, crash,
    /// too_large, too_large_chunked
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,

    /// Also send bodies over 1 MB without a Content-Length (chunked)
    #[arg(long)]
    chunked_413: bool,

    /// Serve `xtask/soak/control.js` instead of the Elixir app: the same
    /// routes in plain JavaScript, no VM (a baseline for wrangler and workerd)
    #[arg(long)]
    control: bool,

    /// Use this elixir-workers binary instead of building target/debug's
    #[arg(long)]
    bin: Option<PathBuf>,
}

/// What one request exercises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Route {
    Health,
    KvRead,
    KvMiss,
    KvWrite,
    Echo,
    Crash,
    TooLarge,
    TooLargeChunked,
}

impl Route {
    const ALL: [Route; 8] = [
        Route::Health,
        Route::KvRead,
        Route::KvMiss,
        Route::KvWrite,
        Route::Echo,
        Route::Crash,
        Route::TooLarge,
        Route::TooLargeChunked,
    ];

    fn name(self) -> &'static str {
        match self {
            Route::Health => "health",
            Route::KvRead => "kv_read",
            Route::KvMiss => "kv_miss",
            Route::KvWrite => "kv_write",
            Route::Echo => "echo",
            Route::Crash => "crash",
            Route::TooLarge => "too_large",
            Route::TooLargeChunked => "too_large_chunked",
        }
    }

    fn request(self) -> &'static str {
        match self {
            Route::Health => "GET /health",
            Route::KvRead => "GET /kv/:key (a key this client wrote)",
            Route::KvMiss => "GET /kv/:key (a key nobody wrote)",
            Route::KvWrite => "PUT /kv/:key, 20 B-4 KB",
            Route::Echo => "POST /echo, 200-900 KB",
            Route::Crash => "GET /crash (raises)",
            Route::TooLarge => "POST /echo, 1-1.15 MB",
            Route::TooLargeChunked => "POST /echo, 1-1.15 MB, chunked (no Content-Length)",
        }
    }
}

/// The mix, in percent.
const MIX: &[(Route, u32)] = &[
    (Route::Health, 15),
    (Route::KvRead, 27),
    (Route::KvMiss, 3),
    (Route::KvWrite, 25),
    (Route::Echo, 10),
    (Route::Crash, 12),
    (Route::TooLarge, 8),
];

/// Routes only in the mix when asked for (`--chunked-413`, `--only`).
const OPT_IN: &[(Route, u32)] = &[(Route::TooLargeChunked, 4)];

/// The mix, restricted to `only` when given.
fn mix(only: &[String], chunked_413: bool) -> Result<Vec<(Route, u32)>> {
    for name in only {
        if !Route::ALL.iter().any(|r| r.name() == name) {
            bail!(
                "--only: no route {name:?} (routes: {})",
                Route::ALL.map(Route::name).join(", ")
            );
        }
    }
    let named = |r: Route| only.iter().any(|n| n == r.name());
    let mix: Vec<(Route, u32)> = MIX
        .iter()
        .copied()
        .filter(|&(r, _)| only.is_empty() || named(r))
        .chain(
            OPT_IN
                .iter()
                .copied()
                .filter(|&(r, _)| named(r) || (chunked_413 && r == Route::TooLargeChunked)),
        )
        .collect();
    Ok(mix)
}

const MAX_BODY: usize = 1024 * 1024;
const ECHO_SIZES: std::ops::RangeInclusive<usize> = 200_000..=900_000;
const TOO_LARGE_SIZES: std::ops::RangeInclusive<usize> = MAX_BODY + 1..=MAX_BODY + 150_000;
/// A client's keys; past this many, writes only overwrite.
const MAX_KEYS_PER_CLIENT: usize = 4096;
/// Writes remembered per key, to tell a stale read from a foreign value.
const HISTORY: usize = 16;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const STARTUP_TIMEOUT: Duration = Duration::from_secs(120);
/// Pause between the end of the load and the read-back, and how long a
/// key may take to show its last value before it counts as lost.
const SETTLE: Duration = Duration::from_millis(500);
const READBACK_PATIENCE: Duration = Duration::from_secs(10);

const EXPECTED_CRASH: &str = "500 internal_error from GET /crash";
const EXPECTED_TOO_LARGE: &str = "413 payload_too_large from a body over 1 MB";
const EXPECTED_STALE: &str = "KV read saw the value before a write still in flight";

pub fn run(args: Args) -> Result<()> {
    anyhow::ensure!(args.clients >= 1, "--clients must be at least 1");
    anyhow::ensure!(args.seconds >= 1, "--seconds must be at least 1");
    anyhow::ensure!(args.max_requests >= 1, "--max-requests must be at least 1");
    let mix = mix(&args.only, args.chunked_413)?;
    let root = crate::workspace_root();
    let runtime = test_support::runtime_dir().context(
        "no AtomVM runtime (run cargo xtask runtime --atomvm-src DIR, or set ELIXIR_WORKERS_RUNTIME)",
    )?;
    let bin = match args.bin.clone() {
        // Absolute: the tools run in the project's directory.
        Some(bin) => std::fs::canonicalize(&bin)
            .with_context(|| format!("elixir-workers binary {}", bin.display()))?,
        None => crate::conformance::debug_binary(&root)?,
    };

    let work = work_dir("bench-soak");
    let app = prepare_app(&bin, &runtime, &work, args.control)?;
    let wrangler_version = wrangler_version(&work.join("node"));

    // A fresh KV store every run, and only this run's wrangler logs.
    let state = work.join("state");
    for dir in [&state, &work.join("xdg")] {
        if dir.exists() {
            std::fs::remove_dir_all(dir)
                .with_context(|| format!("could not remove {}", dir.display()))?;
        }
    }
    let port = test_support::free_port();
    let log_path = work.join("wrangler.log");
    let mut server = Wrangler::start(&app.dir, port, test_support::free_port(), &state, &log_path)?;
    // Ctrl-C (or SIGTERM) ends the load early; the figures so far are still
    // printed and wrangler is stopped by its guard.
    let _ = ctrlc::set_handler(|| STOP.store(true, Ordering::SeqCst));
    let base = format!("http://127.0.0.1:{port}");
    let startup = server.wait_ready(&base)?;
    eprintln!(
        "wrangler dev answered on {base} after {:.1} s; load: {} clients for {} s",
        startup.as_secs_f64(),
        args.clients,
        args.seconds
    );

    let load_avg_before = load_average();
    let load = run_load(&args, &mix, &base, server.pid(), port)?;
    let load_avg_after = load_average();

    eprintln!("reading back every key written...");
    let readback = read_back(&base, &load.clients);
    let effect_failures = count_lines(&log_path, |l| l.contains("effect kv_put failed"));
    let samples_path = work.join("memory.csv");
    write_samples(&samples_path, &load)?;
    drop(server);

    let mut out = String::new();
    report(
        &mut out,
        &ReportInput {
            args: &args,
            app: &app,
            wrangler_version: &wrangler_version,
            load: &load,
            readback: &readback,
            effect_failures,
            load_avg: (load_avg_before, load_avg_after),
            log_path: &log_path,
            samples_path: &samples_path,
            port,
        },
    );
    print!("{out}");

    let unexpected: u64 = load
        .merged
        .kinds
        .values()
        .filter(|k| !k.expected)
        .map(|k| k.count)
        .sum();
    if unexpected > 0 || !readback.lost.is_empty() || !readback.unreadable.is_empty() {
        bail!(
            "soak failed: {unexpected} unexpected errors, {} lost writes, {} keys unreadable",
            readback.lost.len(),
            readback.unreadable.len()
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The app and the server
// ---------------------------------------------------------------------------

struct App {
    dir: PathBuf,
    avm_bytes: u64,
    modules: u64,
}

/// `elixir-workers new`, the soak router, a KV binding, `build`.
fn prepare_app(bin: &Path, runtime: &Path, work: &Path, control: bool) -> Result<App> {
    std::fs::create_dir_all(work)
        .with_context(|| format!("could not create {}", work.display()))?;
    let dir = work.join("soak_app");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("could not remove {}", dir.display()))?;
    }
    let ew = |cwd: &Path, args: &[&str]| elixir_workers(bin, runtime, cwd, args);
    ew(work, &["new", "soak_app", "--no-install", "-q"])?;

    let router = crate::workspace_root().join("xtask/soak/router.ex");
    std::fs::copy(&router, dir.join("lib/soak_app/router.ex"))
        .with_context(|| format!("could not copy {}", router.display()))?;
    add_kv_binding(&dir.join("wrangler.jsonc"))?;
    link_node_modules(&work.join("node"), &dir)?;
    if control {
        serve_control(&dir)?;
        return Ok(App {
            dir,
            avm_bytes: 0,
            modules: 0,
        });
    }

    let summary = ew(&dir, &["build", "--no-install", "--json"])?;
    let summary: serde_json::Value =
        serde_json::from_slice(&summary).context("build --json printed no JSON")?;
    Ok(App {
        dir,
        avm_bytes: summary["app_avm_bytes"].as_u64().unwrap_or(0),
        modules: summary["modules"]["total"].as_u64().unwrap_or(0),
    })
}

/// Adds `kv_namespaces` as the last member of the generated config, as a
/// user adds a binding (the template only has it commented out).
fn add_kv_binding(config: &Path) -> Result<()> {
    let text = std::fs::read_to_string(config)
        .with_context(|| format!("could not read {}", config.display()))?;
    let uncommented = text
        .lines()
        .any(|l| l.trim_start().starts_with("\"kv_namespaces\""));
    let Some(end) = text.rfind('}') else {
        bail!("{} holds no JSON object", config.display());
    };
    if uncommented {
        bail!(
            "{} already binds KV namespaces; the bench adds its own",
            config.display()
        );
    }
    let edited = format!(
        "{}  ,\"kv_namespaces\": [{{ \"binding\": \"SOAK\", \"id\": \"soak-kv\" }}]\n{}",
        &text[..end],
        &text[end..]
    );
    std::fs::write(config, edited).with_context(|| format!("could not write {}", config.display()))
}

/// Points the project's `main` at the plain-JavaScript control worker.
fn serve_control(project: &Path) -> Result<()> {
    let source = crate::workspace_root().join("xtask/soak/control.js");
    std::fs::copy(&source, project.join("control.js"))
        .with_context(|| format!("could not copy {}", source.display()))?;
    let config = project.join("wrangler.jsonc");
    let text = std::fs::read_to_string(&config)?;
    let main = "\"main\": \"_build/worker/src/index.js\"";
    if !text.contains(main) {
        bail!("{} has no {main}", config.display());
    }
    std::fs::write(&config, text.replace(main, "\"main\": \"control.js\""))
        .with_context(|| format!("could not write {}", config.display()))
}

static STOP: AtomicBool = AtomicBool::new(false);

impl Wrangler {
    /// Waits until `/health` answers 200 (the first request compiles the
    /// worker and boots the VM).
    fn wait_ready(&mut self, base: &str) -> Result<Duration> {
        let started = Instant::now();
        let agent = agent(Duration::from_secs(5));
        loop {
            if let Ok(mut r) = agent.get(format!("{base}/health")).call() {
                let status = r.status().as_u16();
                let body = r.body_mut().read_to_string().unwrap_or_default();
                if status == 200 {
                    return Ok(started.elapsed());
                }
                bail!(
                    "GET /health answered {status} at startup: {body}\n{}",
                    self.log_tail()
                );
            }
            // Exited (a config error, a taken port): say why.
            if let Ok(Some(status)) = self.child.try_wait() {
                bail!(
                    "wrangler dev exited ({status}) before serving:\n{}",
                    self.log_tail()
                );
            }
            if STOP.load(Ordering::SeqCst) {
                bail!("interrupted while waiting for wrangler dev");
            }
            if started.elapsed() > STARTUP_TIMEOUT {
                bail!(
                    "wrangler dev did not answer within {} s:\n{}",
                    STARTUP_TIMEOUT.as_secs(),
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

// ---------------------------------------------------------------------------
// The load
// ---------------------------------------------------------------------------

/// xorshift64*: reproducible mixes without a dependency.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn in_range(&mut self, r: &std::ops::RangeInclusive<usize>) -> usize {
        r.start() + self.below(r.end() - r.start() + 1)
    }
}

struct Write {
    value: String,
    acked: Instant,
    /// False when the PUT failed: the write may or may not have happened.
    certain: bool,
}

#[derive(Default)]
struct Key {
    writes: VecDeque<Write>,
    /// Older writes were forgotten (HISTORY).
    forgot: bool,
}

#[derive(Default)]
struct RouteStats {
    latencies_us: Vec<u32>,
    ok: u64,
    expected: u64,
    unexpected: u64,
}

struct Kind {
    expected: bool,
    count: u64,
    example: String,
}

#[derive(Default)]
struct Stats {
    routes: BTreeMap<Route, RouteStats>,
    kinds: BTreeMap<String, Kind>,
    writes_acked: u64,
    stale_max: Duration,
    bytes_sent: u64,
}

impl Stats {
    fn merge(&mut self, other: &Stats) {
        for (route, s) in &other.routes {
            let mine = self.routes.entry(*route).or_default();
            mine.latencies_us.extend_from_slice(&s.latencies_us);
            mine.ok += s.ok;
            mine.expected += s.expected;
            mine.unexpected += s.unexpected;
        }
        for (name, k) in &other.kinds {
            let mine = self.kinds.entry(name.clone()).or_insert(Kind {
                expected: k.expected,
                count: 0,
                example: k.example.clone(),
            });
            mine.count += k.count;
        }
        self.writes_acked += other.writes_acked;
        self.stale_max = self.stale_max.max(other.stale_max);
        self.bytes_sent += other.bytes_sent;
    }
}

enum Outcome {
    Ok,
    Expected(&'static str, String),
    Unexpected(String, String),
}

struct Client {
    id: usize,
    rng: Rng,
    /// Random bytes the bodies of echoes are cut from.
    pool: Vec<u8>,
    keys: Vec<Key>,
    misses: u64,
    seq: u64,
    stale_window: Duration,
    stats: Stats,
}

struct Sample {
    /// Seconds since the load started.
    t: f64,
    requests: u64,
    /// Every process under wrangler.
    procs: Vec<Proc>,
}

#[derive(Clone)]
struct Proc {
    pid: u32,
    workerd: bool,
    rss: u64,
    /// User and system time, in clock ticks.
    cpu_ticks: u64,
}

impl Sample {
    fn take(t: f64, requests: u64, wrangler_pid: u32) -> Sample {
        Sample {
            t,
            requests,
            procs: processes_under(wrangler_pid),
        }
    }
    fn workerd(&self) -> u64 {
        self.procs.iter().filter(|p| p.workerd).map(|p| p.rss).sum()
    }
    /// wrangler's node processes and esbuild.
    fn other(&self) -> u64 {
        self.procs
            .iter()
            .filter(|p| !p.workerd)
            .map(|p| p.rss)
            .sum()
    }
    fn proc(&self, pid: u32) -> Option<&Proc> {
        self.procs.iter().find(|p| p.pid == pid)
    }
}

struct Load {
    clients: Vec<Client>,
    merged: Stats,
    elapsed: Duration,
    requests: u64,
    samples: Vec<Sample>,
    /// The workerd that listens on the port the clients use: wrangler's
    /// proxy in front of the one running the app.
    proxy_pid: Option<u32>,
    /// CPU time of this process (the clients) during the load.
    bench_cpu_secs: f64,
    stopped_early: bool,
}

fn run_load(
    args: &Args,
    mix: &[(Route, u32)],
    base: &str,
    wrangler_pid: u32,
    port: u16,
) -> Result<Load> {
    let sent = AtomicU64::new(0);
    let done = AtomicU64::new(0);
    let sampling = AtomicBool::new(true);
    let mut clients: Vec<Client> = (0..args.clients)
        .map(|id| {
            let mut rng = Rng::new(args.seed.wrapping_add(id as u64 * 7919));
            let pool = (0..TOO_LARGE_SIZES.end() / 8 + 1)
                .flat_map(|_| rng.next().to_le_bytes())
                .collect();
            Client {
                id,
                rng,
                pool,
                keys: Vec::new(),
                misses: 0,
                seq: 0,
                stale_window: Duration::from_millis(args.stale_window_ms),
                stats: Stats::default(),
            }
        })
        .collect();
    let duration = Duration::from_secs(args.seconds);
    let own_cpu = || {
        std::fs::read_to_string("/proc/self/stat")
            .ok()
            .map_or(0, |stat| {
                let ticks = |n| {
                    stat_field(&stat, n)
                        .and_then(|v| v.parse::<u64>().ok())
                        .unwrap_or(0)
                };
                ticks(11) + ticks(12)
            })
    };
    let cpu_before = own_cpu();
    let started = Instant::now();
    let deadline = started + duration;

    let samples = std::thread::scope(|s| -> Result<Vec<Sample>> {
        let sampler = s.spawn(|| {
            let mut samples = Vec::new();
            let mut next_note = 5.0;
            while sampling.load(Ordering::SeqCst) {
                let t = started.elapsed().as_secs_f64();
                let sample = Sample::take(t, done.load(Ordering::SeqCst), wrangler_pid);
                if t >= next_note {
                    eprintln!(
                        "  {t:>4.0} s: {} requests, workerd RSS {:.1} MiB",
                        sample.requests,
                        mib(sample.workerd())
                    );
                    next_note += 5.0;
                }
                samples.push(sample);
                // Sleep in small steps so the end of the load is not delayed.
                let until = started + Duration::from_secs_f64(t.floor() + 1.0);
                while sampling.load(Ordering::SeqCst) && Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            samples
        });
        let handles: Vec<_> = clients
            .iter_mut()
            .map(|c| {
                let (sent, done) = (&sent, &done);
                s.spawn(move || {
                    let agent = agent(REQUEST_TIMEOUT);
                    while Instant::now() < deadline && !STOP.load(Ordering::SeqCst) {
                        if sent.fetch_add(1, Ordering::SeqCst) >= args.max_requests {
                            break;
                        }
                        c.one_request(&agent, mix, base);
                        done.fetch_add(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        let mut panicked = false;
        for h in handles {
            panicked |= h.join().is_err();
        }
        sampling.store(false, Ordering::SeqCst);
        let mut samples = sampler
            .join()
            .map_err(|_| anyhow::anyhow!("the memory sampler panicked"))?;
        // One last sample at the very end of the load.
        samples.push(Sample::take(
            started.elapsed().as_secs_f64(),
            done.load(Ordering::SeqCst),
            wrangler_pid,
        ));
        if panicked {
            bail!("a client thread panicked");
        }
        Ok(samples)
    })?;
    let elapsed = started.elapsed();
    let bench_cpu_secs = own_cpu().saturating_sub(cpu_before) as f64 / 100.0;
    let mut merged = Stats::default();
    for c in &clients {
        merged.merge(&c.stats);
    }
    let workerds: Vec<u32> = samples
        .first()
        .map(|s| {
            s.procs
                .iter()
                .filter(|p| p.workerd)
                .map(|p| p.pid)
                .collect()
        })
        .unwrap_or_default();
    Ok(Load {
        clients,
        merged,
        elapsed,
        requests: done.load(Ordering::SeqCst),
        samples,
        proxy_pid: listener(port, &workerds),
        bench_cpu_secs,
        stopped_early: STOP.load(Ordering::SeqCst),
    })
}

impl Client {
    fn key_name(&self, index: usize) -> String {
        format!("c{}-k{index}", self.id)
    }

    fn pick_route(&mut self, mix: &[(Route, u32)]) -> Route {
        let total: u32 = mix.iter().map(|m| m.1).sum();
        let mut roll = self.rng.below(total as usize) as u32;
        for &(route, weight) in mix {
            if roll < weight {
                // Nothing to read yet: read a key nobody wrote.
                if route == Route::KvRead && self.keys.is_empty() {
                    return Route::KvMiss;
                }
                return route;
            }
            roll -= weight;
        }
        Route::Health
    }

    fn one_request(&mut self, agent: &ureq::Agent, mix: &[(Route, u32)], base: &str) {
        let route = self.pick_route(mix);
        self.seq += 1;
        let issued = Instant::now();
        let outcome = match route {
            Route::Health => self.health(agent, base),
            Route::KvRead => self.kv_read(agent, base, issued),
            Route::KvMiss => self.kv_miss(agent, base),
            Route::KvWrite => self.kv_write(agent, base),
            Route::Echo => self.echo(agent, base, false),
            Route::TooLarge => self.echo(agent, base, true),
            Route::TooLargeChunked => self.too_large_chunked(agent, base),
            Route::Crash => self.crash(agent, base),
        };
        let us = issued.elapsed().as_micros().min(u32::MAX as u128) as u32;
        let stats = self.stats.routes.entry(route).or_default();
        stats.latencies_us.push(us);
        let (kind, expected, example) = match outcome {
            Outcome::Ok => {
                stats.ok += 1;
                return;
            }
            Outcome::Expected(kind, example) => {
                stats.expected += 1;
                (kind.to_owned(), true, example)
            }
            Outcome::Unexpected(kind, example) => {
                stats.unexpected += 1;
                (format!("{}: {kind}", route.name()), false, example)
            }
        };
        self.stats
            .kinds
            .entry(kind)
            .or_insert(Kind {
                expected,
                count: 0,
                example: format!("client {} request {}: {example}", self.id, self.seq),
            })
            .count += 1;
    }

    fn health(&mut self, agent: &ureq::Agent, base: &str) -> Outcome {
        match call(agent, "GET", &format!("{base}/health"), None, &[]) {
            Err(e) => e,
            Ok((200, body)) if body == br#"{"status":"ok"}"# => Outcome::Ok,
            Ok((status, body)) => unexpected_status(status, &body),
        }
    }

    fn kv_miss(&mut self, agent: &ureq::Agent, base: &str) -> Outcome {
        self.misses += 1;
        let key = format!("c{}-miss{}", self.id, self.misses);
        match call(agent, "GET", &format!("{base}/kv/{key}"), None, &[]) {
            Err(e) => e,
            Ok((404, body)) if json_field(&body, "error") == Some("not_found".into()) => {
                Outcome::Ok
            }
            Ok((status, body)) => unexpected_status(status, &body),
        }
    }

    fn kv_write(&mut self, agent: &ureq::Agent, base: &str) -> Outcome {
        // Half the writes make a new key, half overwrite one: the read-back
        // checks each key written once and the last write of the others.
        let index = if self.keys.is_empty()
            || (self.keys.len() < MAX_KEYS_PER_CLIENT && self.rng.below(2) == 0)
        {
            self.keys.push(Key::default());
            self.keys.len() - 1
        } else {
            self.rng.below(self.keys.len())
        };
        let key = self.key_name(index);
        let mut value = format!("soak:{key}:w{}:", self.seq);
        let filler = self.rng.below(4096 - value.len());
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";
        for _ in 0..filler {
            value.push(ALPHABET[self.rng.below(ALPHABET.len())] as char);
        }
        self.stats.bytes_sent += value.len() as u64;
        let result = call(
            agent,
            "PUT",
            &format!("{base}/kv/{key}"),
            Some("text/plain"),
            value.as_bytes(),
        );
        let acked = Instant::now();
        let (outcome, certain) = match result {
            Err(e) => (e, false),
            Ok((202, body))
                if json_field(&body, "stored") == Some(key.clone())
                    && json_field(&body, "bytes") == Some(value.len().to_string()) =>
            {
                self.stats.writes_acked += 1;
                (Outcome::Ok, true)
            }
            Ok((status, body)) => (unexpected_status(status, &body), false),
        };
        let k = &mut self.keys[index];
        k.writes.push_back(Write {
            value,
            acked,
            certain,
        });
        if k.writes.len() > HISTORY {
            k.writes.pop_front();
            k.forgot = true;
        }
        outcome
    }

    fn kv_read(&mut self, agent: &ureq::Agent, base: &str, issued: Instant) -> Outcome {
        let index = self.rng.below(self.keys.len());
        let key = self.key_name(index);
        let result = call(agent, "GET", &format!("{base}/kv/{key}"), None, &[]);
        let (status, body) = match result {
            Err(e) => return e,
            Ok(r) => r,
        };
        let seen: Option<&[u8]> = match status {
            200 => Some(&body),
            404 if json_field(&body, "error") == Some("not_found".into()) => None,
            _ => return unexpected_status(status, &body),
        };
        let k = &self.keys[index];
        let last = k.writes.len() - 1;
        // Where in this key's writes the value read sits (None: before the
        // first); anything the last uncertain writes allow is fine.
        let position = match seen {
            Some(v) => match k.writes.iter().rposition(|w| w.value.as_bytes() == v) {
                Some(p) => Some(p),
                None => {
                    return Outcome::Unexpected(
                        "KV read gave a value never written to its key".into(),
                        format!("{key}: {}", preview(v)),
                    )
                }
            },
            None if k.forgot => {
                return Outcome::Unexpected("KV read missed a key written long before".into(), key)
            }
            None => None,
        };
        let newer = position.map_or(0, |p| p + 1);
        if newer > last || k.writes.iter().skip(newer).all(|w| !w.certain) {
            return Outcome::Ok;
        }
        // A stale read: fine while the write after it may still be running.
        let lag = issued.saturating_duration_since(k.writes[newer].acked);
        let what = format!(
            "{key}: read {} {:.1} ms after the response to write {} of {}",
            position.map_or("nothing".to_owned(), |p| format!("write {}", p + 1)),
            lag.as_secs_f64() * 1000.0,
            newer + 1,
            last + 1,
        );
        if lag <= self.stale_window {
            self.stats.stale_max = self.stats.stale_max.max(lag);
            Outcome::Expected(EXPECTED_STALE, what)
        } else {
            Outcome::Unexpected(
                format!("stale KV read past {} ms", self.stale_window.as_millis()),
                what,
            )
        }
    }

    fn echo(&mut self, agent: &ureq::Agent, base: &str, too_large: bool) -> Outcome {
        let size = self.rng.in_range(if too_large {
            &TOO_LARGE_SIZES
        } else {
            &ECHO_SIZES
        });
        let offset = self.rng.below(self.pool.len() - size + 1);
        let mut body = self.pool[offset..offset + size].to_vec();
        // Which client and request the bytes belong to, so a response meant
        // for another request cannot pass for this one.
        let tag = format!("c{:04}r{:011}", self.id, self.seq);
        body[..tag.len()].copy_from_slice(tag.as_bytes());
        self.stats.bytes_sent += size as u64;
        let result = call(
            agent,
            "POST",
            &format!("{base}/echo"),
            Some("application/octet-stream"),
            &body,
        );
        match (too_large, result) {
            (_, Err(e)) => e,
            (false, Ok((200, got))) if got == body => Outcome::Ok,
            (false, Ok((200, got))) => Outcome::Unexpected(
                "echo differs from the body sent".into(),
                format!(
                    "sent {} bytes, got {}; first difference at byte {}",
                    body.len(),
                    got.len(),
                    body.iter()
                        .zip(&got)
                        .position(|(a, b)| a != b)
                        .unwrap_or(body.len().min(got.len()))
                ),
            ),
            (true, Ok((413, got)))
                if json_field(&got, "error") == Some("payload_too_large".into()) =>
            {
                Outcome::Expected(EXPECTED_TOO_LARGE, format!("{size} bytes"))
            }
            (_, Ok((status, got))) => unexpected_status(status, &got),
        }
    }

    fn too_large_chunked(&mut self, agent: &ureq::Agent, base: &str) -> Outcome {
        let size = self.rng.in_range(&TOO_LARGE_SIZES);
        let offset = self.rng.below(self.pool.len() - size + 1);
        self.stats.bytes_sent += size as u64;
        let body = &self.pool[offset..offset + size];
        let url = format!("{base}/echo");
        match call(
            agent,
            "POST chunked",
            &url,
            Some("application/octet-stream"),
            body,
        ) {
            Err(e) => e,
            Ok((413, got)) if json_field(&got, "error") == Some("payload_too_large".into()) => {
                Outcome::Expected(EXPECTED_TOO_LARGE, format!("{size} bytes, chunked"))
            }
            Ok((status, got)) => unexpected_status(status, &got),
        }
    }

    fn crash(&mut self, agent: &ureq::Agent, base: &str) -> Outcome {
        match call(agent, "GET", &format!("{base}/crash"), None, &[]) {
            Err(e) => e,
            Ok((500, body))
                if json_field(&body, "error") == Some("internal_error".into())
                    && json_field(&body, "request_id").is_some_and(|id| !id.is_empty()) =>
            {
                Outcome::Expected(EXPECTED_CRASH, String::from_utf8_lossy(&body).into_owned())
            }
            Ok((status, body)) => unexpected_status(status, &body),
        }
    }
}

/// One request: (status, whole body), or the outcome of a transport failure.
fn call(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> std::result::Result<(u16, Vec<u8>), Outcome> {
    let result = match method {
        "GET" => agent.get(url).call(),
        "PUT" => agent
            .put(url)
            .header("content-type", content_type.unwrap_or("text/plain"))
            .send(body),
        // A reader of unknown size: sent with Transfer-Encoding: chunked.
        "POST chunked" => agent
            .post(url)
            .header("content-type", content_type.unwrap_or("text/plain"))
            .send(ureq::SendBody::from_reader(&mut &body[..])),
        _ => agent
            .post(url)
            .header("content-type", content_type.unwrap_or("text/plain"))
            .send(body),
    };
    let transport = |e: ureq::Error| {
        let kind = match &e {
            ureq::Error::Timeout(_) => "timeout".to_owned(),
            ureq::Error::Io(io) => format!("connection error ({:?})", io.kind()),
            _ => "HTTP client error".to_owned(),
        };
        Outcome::Unexpected(kind, format!("{method} {url}: {e}"))
    };
    let mut response = result.map_err(transport)?;
    let status = response.status().as_u16();
    let bytes = response
        .body_mut()
        .with_config()
        .limit(4 * MAX_BODY as u64)
        .read_to_vec()
        .map_err(transport)?;
    Ok((status, bytes))
}

fn unexpected_status(status: u16, body: &[u8]) -> Outcome {
    Outcome::Unexpected(format!("status {status}"), preview(body))
}

fn preview(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
    if body.len() > 200 {
        format!("{text}... ({} bytes)", body.len())
    } else {
        text
    }
}

/// A top-level field of a JSON object, as text (strings unquoted).
fn json_field(body: &[u8], name: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    match v.get(name)? {
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

// ---------------------------------------------------------------------------
// Read-back
// ---------------------------------------------------------------------------

struct ReadBack {
    keys: u64,
    /// Keys that showed their last write only on a retry.
    late: u64,
    lost: Vec<String>,
    /// Keys no request could read until the end (transport errors).
    unreadable: Vec<String>,
    elapsed: Duration,
}

/// Reads every key each client wrote, in parallel per client, until it
/// holds the client's last write to it or the patience runs out.
fn read_back(base: &str, clients: &[Client]) -> ReadBack {
    std::thread::sleep(SETTLE);
    let started = Instant::now();
    let per_client: Vec<ReadBack> = std::thread::scope(|s| {
        let handles: Vec<_> = clients
            .iter()
            .map(|c| s.spawn(move || c.read_back(base)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a read-back thread panicked"))
            .collect()
    });
    let mut r = ReadBack {
        keys: 0,
        late: 0,
        lost: Vec::new(),
        unreadable: Vec::new(),
        elapsed: started.elapsed(),
    };
    for c in per_client {
        r.keys += c.keys;
        r.late += c.late;
        r.lost.extend(c.lost);
        r.unreadable.extend(c.unreadable);
    }
    r
}

impl Client {
    fn read_back(&self, base: &str) -> ReadBack {
        let agent = agent(REQUEST_TIMEOUT);
        let mut r = ReadBack {
            keys: 0,
            late: 0,
            lost: Vec::new(),
            unreadable: Vec::new(),
            elapsed: Duration::ZERO,
        };
        for (index, k) in self.keys.iter().enumerate() {
            let Some(last) = k.writes.back() else {
                continue;
            };
            r.keys += 1;
            let key = self.key_name(index);
            // A last write that failed may or may not have landed.
            let mut acceptable = vec![Some(last.value.as_bytes())];
            if !last.certain {
                let before = k.writes.iter().rev().skip(1).find(|w| w.certain);
                acceptable.push(before.map(|w| w.value.as_bytes()));
            }
            let mut tries = 0;
            let deadline = Instant::now() + READBACK_PATIENCE;
            loop {
                tries += 1;
                let got = match call(&agent, "GET", &format!("{base}/kv/{key}"), None, &[]) {
                    Ok((200, body)) => Ok(Some(body)),
                    Ok((404, _)) => Ok(None),
                    Ok((status, body)) => Err(format!("status {status}: {}", preview(&body))),
                    Err(Outcome::Unexpected(kind, detail)) => Err(format!("{kind}: {detail}")),
                    Err(_) => Err("no answer".into()),
                };
                if let Ok(v) = &got {
                    if acceptable.contains(&v.as_deref()) {
                        r.late += u64::from(tries > 1);
                        break;
                    }
                }
                if Instant::now() >= deadline {
                    match got {
                        Err(e) => r.unreadable.push(format!("{key}: {e}")),
                        Ok(v) => r.lost.push(format!(
                            "{key}: holds {} instead of write {} (its last)",
                            describe_value(k, v.as_deref()),
                            k.writes.len()
                        )),
                    }
                    break;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        r
    }
}

/// Which of a key's remembered writes `v` is.
fn describe_value(k: &Key, v: Option<&[u8]>) -> String {
    match v {
        None => "nothing".into(),
        Some(v) => match k.writes.iter().position(|w| w.value.as_bytes() == v) {
            Some(p) => format!("write {}", p + 1),
            None => format!("a value never written to it ({})", preview(v)),
        },
    }
}

// ---------------------------------------------------------------------------
// Memory
// ---------------------------------------------------------------------------

/// Field `n` (0 = state) after the command name of a `/proc/PID/stat` line.
fn stat_field(stat: &str, n: usize) -> Option<&str> {
    // The command name is in parentheses and may hold spaces.
    stat.rsplit_once(')')?.1.split_whitespace().nth(n)
}

/// Every descendant of `root` with its RSS and CPU time.
fn processes_under(root: u32) -> Vec<Proc> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            if let Some(ppid) = stat_field(&stat, 1).and_then(|p| p.parse::<u32>().ok()) {
                children.entry(ppid).or_default().push(pid);
            }
        }
    }
    let mut procs = Vec::new();
    let mut queue = vec![root];
    while let Some(pid) = queue.pop() {
        if let Some(kids) = children.get(&pid) {
            queue.extend(kids);
        }
        let (Ok(status), Ok(stat)) = (
            std::fs::read_to_string(format!("/proc/{pid}/status")),
            std::fs::read_to_string(format!("/proc/{pid}/stat")),
        ) else {
            continue;
        };
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(str::trim)
        };
        let rss = field("VmRSS:")
            .and_then(|v| v.trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0)
            * 1024;
        // utime and stime: fields 14 and 15 of the line, 11 and 12 after the name.
        let ticks = |n| {
            stat_field(&stat, n)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        procs.push(Proc {
            pid,
            workerd: field("Name:") == Some("workerd"),
            rss,
            cpu_ticks: ticks(11) + ticks(12),
        });
    }
    procs.sort_by_key(|p| p.pid);
    procs
}

/// Which of `pids` listens on 127.0.0.1:`port`: the inode of the listening
/// socket in /proc/net/tcp, then the process holding it.
fn listener(port: u16, pids: &[u32]) -> Option<u32> {
    let tcp = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let local = format!(":{port:04X}");
    let inodes: Vec<String> = tcp
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // local_address, state 0A (LISTEN), inode
            (f.len() > 9 && f[1].ends_with(&local) && f[3] == "0A")
                .then(|| format!("socket:[{}]", f[9]))
        })
        .collect();
    pids.iter().copied().find(|pid| {
        std::fs::read_dir(format!("/proc/{pid}/fd")).is_ok_and(|fds| {
            fds.flatten().any(|fd| {
                std::fs::read_link(fd.path())
                    .is_ok_and(|l| inodes.iter().any(|i| l.as_os_str() == i.as_str()))
            })
        })
    })
}

/// The memory samples as CSV: seconds, requests, then the RSS in bytes of
/// each process (a column per pid, `workerd` or `other` in the header).
fn write_samples(path: &Path, load: &Load) -> Result<()> {
    let mut pids: Vec<(u32, bool)> = load
        .samples
        .iter()
        .flat_map(|s| s.procs.iter().map(|p| (p.pid, p.workerd)))
        .collect();
    pids.sort_unstable();
    pids.dedup();
    let mut csv = String::from("seconds,requests");
    for (pid, workerd) in &pids {
        let role = match (workerd, Some(*pid) == load.proxy_pid) {
            (true, true) => "workerd_proxy",
            (true, false) => "workerd",
            _ => "other",
        };
        let _ = write!(csv, ",{role}_{pid}");
    }
    csv.push('\n');
    for s in &load.samples {
        let _ = write!(csv, "{:.2},{}", s.t, s.requests);
        for (pid, _) in &pids {
            let _ = write!(csv, ",{}", s.proc(*pid).map_or(0, |p| p.rss));
        }
        csv.push('\n');
    }
    std::fs::write(path, csv).with_context(|| format!("could not write {}", path.display()))
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Least-squares slope of y over x.
fn slope(points: &[(f64, f64)]) -> Option<f64> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

// ---------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn count_lines(path: &Path, keep: impl Fn(&str) -> bool) -> u64 {
    let Ok(file) = std::fs::File::open(path) else {
        return 0;
    };
    BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .filter(|l| keep(l))
        .count() as u64
}

/// Nearest-rank percentile of sorted microseconds, in milliseconds.
fn percentile_ms(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

struct ReportInput<'a> {
    args: &'a Args,
    app: &'a App,
    wrangler_version: &'a str,
    load: &'a Load,
    readback: &'a ReadBack,
    effect_failures: u64,
    load_avg: (String, String),
    log_path: &'a Path,
    samples_path: &'a Path,
    port: u16,
}

fn report(out: &mut String, r: &ReportInput<'_>) {
    let (args, load, stats) = (r.args, r.load, &r.load.merged);
    let secs = load.elapsed.as_secs_f64();
    let _ =
        writeln!(
        out,
        "soak: {} clients, {:.1} s{}{} (max {} requests), seed {}; wrangler {} dev on 127.0.0.1; \
         {}",
        args.clients,
        secs,
        if load.stopped_early {
            ", stopped early"
        } else {
            ""
        },
        if args.only.is_empty() {
            String::new()
        } else {
            format!(", only {}", args.only.join(","))
        },
        args.max_requests,
        args.seed,
        r.wrangler_version,
        if args.control {
            "CONTROL: xtask/soak/control.js, the same routes in plain JavaScript, no VM".to_owned()
        } else {
            format!("app.avm {} bytes, {} modules", r.app.avm_bytes, r.app.modules)
        },
    );
    let _ = writeln!(
        out,
        "{} cores; load average before {}, after {}; the clients used {:.1} CPU s",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        r.load_avg.0,
        r.load_avg.1,
        load.bench_cpu_secs,
    );

    let mut all: Vec<u32> = stats
        .routes
        .values()
        .flat_map(|s| s.latencies_us.iter().copied())
        .collect();
    all.sort_unstable();
    let total = |f: fn(&RouteStats) -> u64| stats.routes.values().map(f).sum::<u64>();
    let (ok, expected, unexpected) = (
        total(|s| s.ok),
        total(|s| s.expected),
        total(|s| s.unexpected),
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "requests: {} in {secs:.1} s = {:.1} req/s ({:.1} MB/s sent); ok {ok}, expected errors {expected}, \
         unexpected errors {unexpected}",
        load.requests,
        load.requests as f64 / secs,
        stats.bytes_sent as f64 / 1e6 / secs,
    );
    let _ = writeln!(
        out,
        "latency: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile_ms(&all, 50.0),
        percentile_ms(&all, 99.0),
        percentile_ms(&all, 100.0)
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<10} {:>7} {:>9} {:>9} {:>9} {:>7} {:>9} {:>10}  request",
        "route", "count", "p50 ms", "p99 ms", "max ms", "ok", "expected", "unexpected"
    );
    for (route, s) in &stats.routes {
        let mut l = s.latencies_us.clone();
        l.sort_unstable();
        let _ = writeln!(
            out,
            "{:<10} {:>7} {:>9.2} {:>9.2} {:>9.2} {:>7} {:>9} {:>10}  {}",
            route.name(),
            l.len(),
            percentile_ms(&l, 50.0),
            percentile_ms(&l, 99.0),
            percentile_ms(&l, 100.0),
            s.ok,
            s.expected,
            s.unexpected,
            route.request()
        );
    }

    for expected in [true, false] {
        let _ = writeln!(out);
        let kinds: Vec<_> = stats
            .kinds
            .iter()
            .filter(|(_, k)| k.expected == expected)
            .collect();
        let title = if expected {
            "expected errors"
        } else {
            "unexpected errors"
        };
        if kinds.is_empty() {
            let _ = writeln!(out, "{title}: none");
            continue;
        }
        let _ = writeln!(out, "{title}:");
        for (name, k) in kinds {
            let _ = writeln!(out, "  {:>7}  {name}", k.count);
            let _ = writeln!(out, "           first: {}", k.example);
            if name == EXPECTED_STALE {
                let _ = writeln!(
                    out,
                    "           latest such read {:.1} ms after the write's response (allowed: {} ms)",
                    stats.stale_max.as_secs_f64() * 1000.0,
                    args.stale_window_ms
                );
            }
        }
    }

    let rb = r.readback;
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "KV: {} writes acknowledged (202) to {} keys; read back {:.1} s after the load in {:.1} s: \
         {} keys hold their last write{}; lost writes {}, unreadable keys {}; failed KV effects in \
         the worker log {}",
        stats.writes_acked,
        rb.keys,
        SETTLE.as_secs_f64(),
        rb.elapsed.as_secs_f64(),
        rb.keys - (rb.lost.len() + rb.unreadable.len()) as u64,
        if rb.late > 0 { format!(" ({} only on a retry)", rb.late) } else { String::new() },
        rb.lost.len(),
        rb.unreadable.len(),
        r.effect_failures,
    );
    for l in rb.lost.iter().take(10) {
        let _ = writeln!(out, "  lost: {l}");
    }
    for l in rb.unreadable.iter().take(10) {
        let _ = writeln!(out, "  unreadable: {l}");
    }

    memory_report(out, load, args.warmup_seconds as f64, r.port);
    let _ = writeln!(
        out,
        "wrangler's log: {}; memory samples: {}",
        r.log_path.display(),
        r.samples_path.display()
    );
}

fn memory_report(out: &mut String, load: &Load, warmup: f64, port: u16) {
    let samples = &load.samples;
    let _ = writeln!(out);
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
        let _ = writeln!(out, "memory: no samples");
        return;
    };
    let after: Vec<&Sample> = samples.iter().filter(|s| s.t >= warmup).collect();
    let warm = after
        .first()
        .copied()
        .filter(|w| last.requests > w.requests && after.len() >= 2);
    let _ = writeln!(
        out,
        "memory: RSS under wrangler, sampled every second ({} samples); growth per 10,000 requests \
         after {warmup} s of warm-up{}",
        samples.len(),
        warm.map_or(" (the load ended before: no growth figures)".to_owned(), |w| format!(
            " (at {} requests), end minus warm-up and linear fit",
            w.requests
        )),
    );
    let _ = writeln!(
        out,
        "  {:<40} {:>9} {:>9} {:>9} {:>9} {:>11} {:>11} {:>7}",
        "MiB", "start", "warm-up", "end", "peak", "end-warm", "fit", "cpu s"
    );
    let row =
        |out: &mut String, label: &str, rss: &dyn Fn(&Sample) -> Option<u64>, cpu: Option<f64>| {
            let peak = samples.iter().filter_map(rss).max().unwrap_or(0);
            let cell = |s: Option<&Sample>| {
                s.and_then(rss)
                    .map_or("-".to_owned(), |b| format!("{:.1}", mib(b)))
            };
            let (end_warm, fit) = match warm {
                Some(w) => {
                    let per_10k = |bytes_per_request: f64| {
                        format!("{:+.1}", bytes_per_request * 10_000.0 / (1024.0 * 1024.0))
                    };
                    let span = (last.requests - w.requests) as f64;
                    let diff = match (rss(w), rss(last)) {
                        (Some(a), Some(b)) => per_10k((b as f64 - a as f64) / span),
                        _ => "-".into(),
                    };
                    let points: Vec<(f64, f64)> = after
                        .iter()
                        .filter_map(|s| Some((s.requests as f64, rss(s)? as f64)))
                        .collect();
                    (diff, slope(&points).map_or("-".to_owned(), per_10k))
                }
                None => ("-".into(), "-".into()),
            };
            let _ = writeln!(
                out,
                "  {label:<40} {:>9} {:>9} {:>9} {:>9.1} {end_warm:>11} {fit:>11} {:>7}",
                cell(Some(first)),
                cell(warm),
                cell(Some(last)),
                mib(peak),
                cpu.map_or("-".to_owned(), |c| format!("{c:.1}")),
            );
        };
    // Clock ticks are 1/100 s on Linux.
    let cpu_of = |pid: u32| -> Option<f64> {
        Some(
            (last
                .proc(pid)?
                .cpu_ticks
                .saturating_sub(first.proc(pid)?.cpu_ticks)) as f64
                / 100.0,
        )
    };
    for p in last.procs.iter().filter(|p| p.workerd) {
        let role = if Some(p.pid) == load.proxy_pid {
            format!("workerd {}: wrangler's proxy on :{port}", p.pid)
        } else {
            format!("workerd {}: the app and its local KV", p.pid)
        };
        let pid = p.pid;
        row(
            out,
            &role,
            &|s: &Sample| s.proc(pid).map(|p| p.rss),
            cpu_of(pid),
        );
    }
    let cpu_sum = |workerd: bool| -> Option<f64> {
        let pids = last.procs.iter().filter(|p| p.workerd == workerd);
        Some(pids.filter_map(|p| cpu_of(p.pid)).sum())
    };
    row(
        out,
        "workerd, all",
        &|s: &Sample| Some(s.workerd()),
        cpu_sum(true),
    );
    row(
        out,
        "wrangler's node and esbuild",
        &|s: &Sample| Some(s.other()),
        cpu_sum(false),
    );
}
