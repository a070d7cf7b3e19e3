//! A real `wrangler dev` for end-to-end tests: wrangler installed once under
//! `target/wrangler-cache`, a project built by the real `elixir-workers
//! build`, the server on 127.0.0.1 and a free port (stopped with its whole
//! process group when the test ends, pass or fail).

use crate::cli::ew;
use crate::net::{free_port, http, Reply};
use crate::process::{run, tool};
use crate::{framework_dir, tempdir, workspace_root};
use std::io::{BufRead, BufReader, Read};
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
        run(Command::new(tool("NPM", "npm")).current_dir(&cache).args([
            "install",
            "--no-audit",
            "--no-fund",
            "wrangler@4",
        ]))
        .ok();
    }
    bin
}

/// A project of the framework's test app in a temp dir of its own, and the
/// free port its `wrangler dev` listens on.
pub struct TestProject {
    /// The project's directory.
    pub path: PathBuf,
    port: u16,
    dir: tempfile::TempDir,
}

impl TestProject {
    /// The test app (`framework/test/support` as its `lib/`), with
    /// `config` (the body of wrangler.jsonc after `main`,
    /// `compatibility_date`, `dev` and the module rules) and `budget` in
    /// `elixir-workers.json`, built by the real `elixir-workers build`: the
    /// worker directory wrangler then serves is the one a user's build
    /// makes.
    pub fn build(runtime: &Path, budget: &pipeline::project::Budget, config: &str) -> TestProject {
        let dir = tempdir();
        let path = dir.path().join("project");
        let port = free_port();
        lay_out_project(&path, runtime, port, budget, config);
        TestProject { path, port, dir }
    }

    /// `wrangler dev` serving the project with `extra` arguments, once
    /// `/health` answers.
    pub fn serve(&self, extra: &[&str]) -> Server {
        let xdg = self.dir.path().join("xdg");
        Server::start(&self.path, self.port, extra, &xdg, "/health")
    }
}

fn lay_out_project(
    dir: &Path,
    runtime: &Path,
    port: u16,
    budget: &pipeline::project::Budget,
    config: &str,
) {
    let lib = dir.join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    for entry in std::fs::read_dir(framework_dir().join("test/support")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, lib.join(path.file_name().unwrap())).unwrap();
    }
    let mut settings = serde_json::Map::new();
    for (key, value) in [
        ("reductions", budget.reductions),
        ("memory_mb", budget.memory_mb),
        ("subrequests", budget.subrequests),
    ] {
        if let Some(v) = value {
            settings.insert(key.into(), v.into());
        }
    }
    let settings = serde_json::json!({ "budget": settings });
    std::fs::write(dir.join("elixir-workers.json"), settings.to_string()).unwrap();
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
    std::fs::write(dir.join("package.json"), "{\"private\":true}\n").unwrap();
    run(ew(dir, runtime).args(["build", "--no-install", "-q"])).ok();
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
