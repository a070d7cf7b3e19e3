//! The workerd half of `cargo xtask bench runtime`: the first request of a
//! fresh worker under `wrangler dev`, for an app made as a user makes one
//! (`elixir-workers new`, `elixir-workers build`), next to a trivial
//! JavaScript worker started the same way in the same run; and the size of
//! what `build` wrote to `_build/worker`.
//!
//! When the isolate is made: `wrangler dev` (wrangler 4, workerd under
//! Miniflare) loads every worker when it starts, before it prints "Ready on
//! ...": the trivial worker logs a line from its top-level code, and that
//! line comes before the ready line in wrangler's output (checked on every
//! run, and printed). So the isolate exists, its modules evaluated and
//! `atomvm.wasm` compiled (a `CompiledWasm` import), before the first request
//! is sent: what the first request pays on top of later ones is the worker's
//! own first-request work (for the app: booting the VM and taking the memory
//! snapshot), plus wrangler's proxy's own first request, which the trivial
//! worker pays too. A cold start on Cloudflare, where the isolate may be made
//! for the request, is not what is measured here.
//!
//! Timed, for each of `--restarts` starts of each worker (alternating which
//! goes first): from spawning `npx wrangler dev` to its ready line; then,
//! `--settle-ms` after the ready line (right after it, wrangler is still busy
//! and the first request measures that too), `GET /` on a new connection,
//! from sending it to the last byte of a 200 response; then a second
//! `GET /`, also on a new connection.

use anyhow::{bail, Context as _, Result};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::workerd::{
    agent, elixir_workers, link_node_modules, work_dir, wrangler_version, Wrangler,
};

/// How long wrangler dev may take to print its ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// The trivial worker: its fetch returns `new Response("ok")`. The
/// top-level line tells when workerd evaluates the module.
const TRIVIAL_JS: &str = "console.log(\"bench: module evaluated\");\n\
export default {\n  async fetch() {\n    return new Response(\"ok\");\n  },\n};\n";
const EVALUATED_LINE: &str = "bench: module evaluated";
const READY_LINE: &str = "Ready on http";

pub struct Options<'a> {
    /// The elixir-workers binary that makes and builds the app.
    pub bin: &'a Path,
    /// The AtomVM runtime directory the app is built with.
    pub runtime: &'a Path,
    pub restarts: u32,
    pub settle: Duration,
}

/// One start of one worker.
#[derive(Debug, Clone, Copy)]
struct Start {
    /// Spawning wrangler to its ready line.
    ready: Duration,
    first: Duration,
    second: Duration,
}

pub fn run(opts: &Options<'_>) -> Result<()> {
    let tmp = tempfile::tempdir().context("cannot create a temporary directory")?;
    let node = work_dir("bench-soak").join("node");
    let app = make_app(opts, tmp.path(), &node)?;
    let trivial = make_trivial(tmp.path(), &app, &node)?;

    println!();
    let bundled = tmp.path().join("bundled");
    elixir_workers(
        opts.bin,
        opts.runtime,
        &app,
        &[
            "deploy",
            "--dry-run",
            "--outdir",
            &bundled.display().to_string(),
        ],
    )?;
    print_bundle(&bundled)?;

    let logs = work_dir("bench-runtime");
    std::fs::create_dir_all(&logs)
        .with_context(|| format!("could not create {}", logs.display()))?;
    let mut app_starts = Vec::new();
    let mut js_starts = Vec::new();
    let mut evaluated_before_ready = None;
    for i in 0..opts.restarts {
        let run_app = |starts: &mut Vec<Start>| -> Result<()> {
            let (s, _) = start_once(&app, tmp.path(), &logs.join("app.log"), opts.settle)?;
            starts.push(s);
            Ok(())
        };
        let mut run_js = |starts: &mut Vec<Start>| -> Result<()> {
            let (s, log) = start_once(&trivial, tmp.path(), &logs.join("js.log"), opts.settle)?;
            starts.push(s);
            let before = evaluated_before(&log)?;
            if *evaluated_before_ready.get_or_insert(before) != before {
                bail!("workerd evaluated the trivial worker before its ready line in some runs, after it in others");
            }
            Ok(())
        };
        if i % 2 == 0 {
            run_app(&mut app_starts)?;
            run_js(&mut js_starts)?;
        } else {
            run_js(&mut js_starts)?;
            run_app(&mut app_starts)?;
        }
    }
    if opts.restarts == 0 {
        return Ok(());
    }

    println!();
    println!(
        "first request of a fresh worker under wrangler {} dev (workerd), 127.0.0.1, {} starts \
         of each, alternating:",
        wrangler_version(&node),
        opts.restarts
    );
    match evaluated_before_ready {
        Some(true) => println!(
            "  the isolate is made when wrangler starts: the trivial worker's top-level code ran \
             before the ready line"
        ),
        _ => println!(
            "  the isolate is made on the first request: the trivial worker's top-level code ran \
             after the ready line"
        ),
    }
    println!("  {:<22} {:>19} {:>19}", "", "Elixir app", "trivial JS");
    println!(
        "  {:<22} {:>9} {:>9} {:>9} {:>9}",
        "ms", "median", "min", "median", "min"
    );
    let row = |name: &str, f: fn(&Start) -> Duration| {
        let (am, an) = median_min(&app_starts, f);
        let (jm, jn) = median_min(&js_starts, f);
        println!("  {name:<22} {am:>9.1} {an:>9.1} {jm:>9.1} {jn:>9.1}");
        (am, jm)
    };
    row("spawn -> ready line", |s| s.ready);
    let (app_first, js_first) = row("first request", |s| s.first);
    let (app_second, js_second) = row("second request", |s| s.second);
    println!(
        "  first request, Elixir app / trivial JS: {:.1}x (medians); beyond the second request: \
         {:.1} ms vs {:.1} ms",
        app_first / js_first,
        app_first - app_second,
        js_first - js_second
    );
    println!(
        "  first/second request: GET / on a new connection, from sending it to the last byte of \
         the 200 response, the first sent {} ms after wrangler printed its ready line",
        opts.settle.as_millis()
    );
    println!("  wrangler's logs: {}", logs.display());
    Ok(())
}

/// `elixir-workers new bench_app`, then `elixir-workers build`.
fn make_app(opts: &Options<'_>, dir: &Path, node: &Path) -> Result<PathBuf> {
    elixir_workers(
        opts.bin,
        opts.runtime,
        dir,
        &["new", "bench_app", "--no-install", "-q"],
    )?;
    let app = dir.join("bench_app");
    link_node_modules(node, &app)?;
    elixir_workers(
        opts.bin,
        opts.runtime,
        &app,
        &["build", "--no-install", "-q"],
    )?;
    Ok(app)
}

/// The trivial worker, with the app's compatibility date.
fn make_trivial(dir: &Path, app: &Path, node: &Path) -> Result<PathBuf> {
    let config = std::fs::read_to_string(app.join("wrangler.jsonc"))
        .context("the new project has no wrangler.jsonc")?;
    let date = compatibility_date(&config)
        .context("no compatibility_date in the new project's wrangler.jsonc")?;
    let js = dir.join("trivial_js");
    std::fs::create_dir_all(&js).with_context(|| format!("could not create {}", js.display()))?;
    std::fs::write(js.join("index.js"), TRIVIAL_JS)?;
    std::fs::write(
        js.join("wrangler.jsonc"),
        format!(
            "{{ \"name\": \"bench-trivial-js\", \"main\": \"index.js\", \
             \"compatibility_date\": \"{date}\" }}\n"
        ),
    )?;
    std::fs::copy(app.join("package.json"), js.join("package.json"))?;
    link_node_modules(node, &js)?;
    Ok(js)
}

/// The value of `"compatibility_date": "..."`.
fn compatibility_date(config: &str) -> Option<&str> {
    let key = "\"compatibility_date\"";
    let rest = &config[config.find(key)? + key.len()..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    let value = rest.strip_prefix('"')?;
    Some(&value[..value.find('"')?])
}

/// Starts wrangler dev on `project`, times its ready line and two requests,
/// stops it; the start and wrangler's output.
fn start_once(project: &Path, tmp: &Path, log: &Path, settle: Duration) -> Result<(Start, String)> {
    // A fresh local store and wrangler config each start.
    let state = tmp.join("state");
    for dir in [&state, &tmp.join("xdg")] {
        if dir.exists() {
            std::fs::remove_dir_all(dir)
                .with_context(|| format!("could not remove {}", dir.display()))?;
        }
    }
    let port = test_support::free_port();
    let spawned = Instant::now();
    let mut server = Wrangler::start(project, port, test_support::free_port(), &state, log)?;
    let ready = server.wait_ready_line(spawned, READY_TIMEOUT)?;
    std::thread::sleep(settle);
    let url = format!("http://127.0.0.1:{port}/");
    let first = timed_get(&url).with_context(|| server.log_tail())?;
    let second = timed_get(&url).with_context(|| server.log_tail())?;
    let text = server.log_text();
    drop(server);
    Ok((
        Start {
            ready,
            first,
            second,
        },
        text,
    ))
}

/// `GET url` on a new connection: from sending to the last byte of a 200.
fn timed_get(url: &str) -> Result<Duration> {
    let agent = agent(Duration::from_secs(60));
    let sent = Instant::now();
    let mut response = agent
        .get(url)
        .call()
        .with_context(|| format!("GET {url}"))?;
    let mut body = Vec::new();
    response
        .body_mut()
        .as_reader()
        .read_to_end(&mut body)
        .with_context(|| format!("reading the body of GET {url}"))?;
    let took = sent.elapsed();
    let status = response.status().as_u16();
    if status != 200 {
        bail!(
            "GET {url} answered {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        );
    }
    Ok(took)
}

/// Whether the trivial worker's top-level line came before the ready line.
fn evaluated_before(log: &str) -> Result<bool> {
    let evaluated = log
        .find(EVALUATED_LINE)
        .context("the trivial worker's top-level line is not in wrangler's output")?;
    let ready = log
        .find(READY_LINE)
        .context("no ready line in wrangler's output")?;
    Ok(evaluated < ready)
}

fn median_min(starts: &[Start], f: fn(&Start) -> Duration) -> (f64, f64) {
    let mut ms: Vec<f64> = starts.iter().map(|s| f(s).as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    let mid = ms.len() / 2;
    let median = if ms.len() % 2 == 0 {
        (ms[mid - 1] + ms[mid]) / 2.0
    } else {
        ms[mid]
    };
    (median, ms[0])
}

/// Every file of what wrangler would upload (`deploy --dry-run --outdir`),
/// with its size and gzip size, and the totals.
fn print_bundle(dir: &Path) -> Result<()> {
    let mut files = Vec::new();
    walk(dir, &mut files)?;
    // wrangler also writes a README and the source map (uploaded only when
    // `upload_source_maps` is set) beside the modules.
    files.retain(|p| {
        let name = p.file_name().unwrap_or_default().to_string_lossy();
        !name.ends_with(".map") && name != "README.md"
    });
    files.sort();
    println!(
        "bundle: the modules `elixir-workers deploy --dry-run` of `elixir-workers new bench_app` \
         has wrangler upload (bytes; gzip -6 of each file):"
    );
    let (mut total, mut total_gz) = (0, 0);
    for path in &files {
        let bytes =
            std::fs::read(path).with_context(|| format!("could not read {}", path.display()))?;
        let gz = gzip_len(&bytes)?;
        total += bytes.len();
        total_gz += gz;
        // wrangler names data and wasm modules `<content hash>-<name>`.
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let name = name
            .split_once('-')
            .filter(|(h, _)| h.len() == 40)
            .map_or(&*name, |(_, n)| n);
        println!("  {name:<28} {:>10} {:>10}", bytes.len(), gz);
    }
    println!(
        "  {:<28} {:>10} {:>10}  bytes ({} files)",
        "total",
        total,
        total_gz,
        files.len()
    );
    Ok(())
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in
        std::fs::read_dir(dir).with_context(|| format!("could not list {}", dir.display()))?
    {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

pub(super) fn gzip_len(bytes: &[u8]) -> Result<usize> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(bytes)?;
    Ok(gz.finish()?.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_compatibility_date() {
        let config =
            "{\n  // x\n  \"main\": \"a.js\",\n  \"compatibility_date\" :  \"2025-09-01\",\n}";
        assert_eq!(compatibility_date(config), Some("2025-09-01"));
        assert_eq!(compatibility_date("{}"), None);
    }

    #[test]
    fn tells_when_the_module_was_evaluated() {
        let log = format!("x\n{EVALUATED_LINE}\n[wrangler:info] {READY_LINE}://127.0.0.1:1\n");
        assert!(evaluated_before(&log).unwrap());
        let log = format!("[wrangler:info] {READY_LINE}://127.0.0.1:1\n{EVALUATED_LINE}\n");
        assert!(!evaluated_before(&log).unwrap());
        assert!(evaluated_before("nothing").is_err());
    }
}
