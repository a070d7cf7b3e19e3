//! A real `wrangler dev` for end-to-end tests: wrangler installed once under
//! `target/wrangler-cache`, a worker project laid out the way `build` lays
//! one out, the server on 127.0.0.1 and a free port (stopped with its whole
//! process group when the test ends, pass or fail), and a plain HTTP/1.1
//! client for it.

use crate::{boot_test_app, run, tool, worker_dir, workspace_root};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// wrangler 4 installed once under target/ (npm), reused by later runs.
pub fn wrangler() -> PathBuf {
    let cache = workspace_root().join("target/wrangler-cache");
    let bin = cache.join("node_modules/.bin/wrangler");
    if !bin.exists() {
        std::fs::create_dir_all(&cache).unwrap();
        if !cache.join("package.json").exists() {
            std::fs::write(cache.join("package.json"), "{\"private\":true}\n").unwrap();
        }
        let mut cmd = Command::new(tool("NPM", "npm"));
        cmd.current_dir(&cache)
            .args(["install", "--no-audit", "--no-fund", "wrangler@4"]);
        run(&mut cmd).unwrap_or_else(|e| panic!("installing wrangler failed:\n{e:#}"));
    }
    bin
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Lays out a worker project the way the build does: the shim in
/// `_build/worker/src` with `budget.js` from `budget`, the wasm and boot
/// image beside it, and `config` (the body of wrangler.jsonc after `main`,
/// `compatibility_date`, `dev` and the module rules) at the root.
pub fn lay_out_project(
    dir: &Path,
    runtime: &Path,
    avm: &Path,
    port: u16,
    budget: &pipeline::project::Budget,
    config: &str,
) {
    let src = dir.join("_build/worker/src");
    std::fs::create_dir_all(&src).unwrap();
    for entry in std::fs::read_dir(worker_dir().join("src")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, src.join(path.file_name().unwrap())).unwrap();
    }
    std::fs::write(src.join("budget.js"), budget.to_js()).unwrap();
    // The boot image and the module it belongs to, made as `build` makes them.
    boot_test_app(runtime, avm, &dir.join("_build/worker")).unwrap();
    std::fs::copy(avm, dir.join("_build/worker/app.avm")).unwrap();
    let config = format!(
        r#"{{
  "main": "_build/worker/src/index.js",
  "compatibility_date": "2025-01-01",
  "dev": {{ "ip": "127.0.0.1", "port": {port} }},
  "rules": [
    {{ "type": "CompiledWasm", "globs": ["**/*.wasm"], "fallthrough": false }},
    {{ "type": "Data", "globs": ["**/*.bin"], "fallthrough": false }}
  ],
{config}
}}
"#
    );
    std::fs::write(dir.join("wrangler.jsonc"), config).unwrap();
}

/// `wrangler dev` serving a project; stops wrangler (and workerd under it)
/// when dropped, pass or fail.
pub struct Server {
    child: Child,
    pub port: u16,
    /// Everything wrangler printed so far, stdout and stderr.
    pub log: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `wrangler dev` in `project` on `port` with `extra` arguments
    /// and waits (up to 120 s: the first start compiles the worker) until
    /// `ready_path` answers.
    pub fn start(
        project: &Path,
        port: u16,
        extra: &[&str],
        xdg: &Path,
        ready_path: &str,
    ) -> Server {
        let mut cmd = Command::new(wrangler());
        cmd.current_dir(project)
            .args([
                "dev",
                "--ip",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--log-level",
                "log",
            ])
            .args(extra)
            .env("WRANGLER_SEND_METRICS", "false")
            .env("CI", "1")
            .env("XDG_CONFIG_HOME", xdg)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd.spawn().expect("cannot start wrangler dev");
        let log = Arc::new(Mutex::new(String::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let mut l = log.lock().unwrap();
                    l.push_str(&line);
                    l.push('\n');
                }
            });
        }
        let server = Server { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            match http(port, "GET", ready_path, &[], b"") {
                Ok(r) if r.status != 0 => break,
                _ if Instant::now() > deadline => {
                    panic!("wrangler dev did not answer in 120 s:\n{}", server.log())
                }
                _ => std::thread::sleep(Duration::from_millis(300)),
            }
        }
        server
    }

    /// A copy of what wrangler printed so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// A request to the server (see [`http`]).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        http(self.port, method, path, headers, body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}\n{}", self.log()))
    }

    /// Waits up to `secs` for `check` to hold on what wrangler printed.
    pub fn wait_for_log(&self, secs: u64, what: &str, check: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !check(&self.log()) {
            assert!(
                Instant::now() < deadline,
                "{what} missing from wrangler output:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // wrangler runs in its own process group: end the whole group.
        let pid = self.child.id() as i32;
        let _ = Command::new("kill")
            .args(["-s", "TERM", "--", &format!("-{pid}")])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{pid}")])
            .status();
        let _ = self.child.wait();
    }
}

/// A response read by [`http`].
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A plain HTTP/1.1 request over a TCP socket (Connection: close).
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Reply> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    s.write_all(body)?;
    let mut reader = BufReader::new(s);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    // Read exactly the body: a server may keep the socket open regardless
    // of `Connection: close`.
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let length = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok());
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)
                .unwrap_or(0);
            if size == 0 {
                break;
            }
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..])?;
            line.clear();
            reader.read_line(&mut line)?;
        }
    } else if let Some(n) = length {
        body.resize(n, 0);
        reader.read_exact(&mut body)?;
    } else if method != "HEAD" {
        reader.read_to_end(&mut body)?;
    }
    Ok(Reply {
        status,
        headers,
        body,
    })
}
