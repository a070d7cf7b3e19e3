//! Static assets under a real `wrangler dev`: a project from `new`, built by
//! the real binary on the real runtime, serves the files of `public/` byte
//! for byte through Workers Static Assets beside the app's routes; assets
//! first by default, and with `"assets": {"mode": "app_first"}` the app's
//! route beats a file of the same name while a path the app answers 404
//! falls through to the file; and a project whose config predates static
//! assets gets them from its next build.

use std::path::Path;
use test_support::cli::{ew, new_project};
use test_support::wrangler::Server;
use test_support::{free_port, require_runtime, run, tempdir, Reply};

/// Bytes no text decoding would keep as they are.
const PIXEL: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe\x00\x01\x80";

fn build(project: &Path, runtime: &Path) {
    run(ew(project, runtime).args(["build", "--no-install"])).ok();
}

fn assert_file(server: &Server, path: &str, bytes: &[u8], content_type: &str) {
    let reply = server.request("GET", path, &[], b"");
    assert_eq!(reply.status, 200, "GET {path}: {}", reply.text());
    assert_eq!(reply.body, bytes, "GET {path}: the file as it is on disk");
    let got = reply.header("content-type").unwrap_or_default();
    assert!(
        got.starts_with(content_type),
        "GET {path}: content-type {got:?}, wanted {content_type}"
    );
}

fn json(reply: &Reply) -> serde_json::Value {
    serde_json::from_slice(&reply.body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", reply.text()))
}

#[test]
fn public_files_are_served_beside_the_app() {
    let Some(runtime) = require_runtime("static assets under wrangler dev") else {
        return;
    };
    let tmp = tempdir();
    let project = new_project(tmp.path(), "assets_app", &runtime);
    let robots =
        std::fs::read(project.join("public/robots.txt")).expect("`new` writes public/robots.txt");
    std::fs::write(project.join("public/pixel.png"), PIXEL).unwrap();
    // A file where the app has a route: which one answers shows the order.
    std::fs::create_dir_all(project.join("public/api")).unwrap();
    std::fs::write(project.join("public/api/health"), "the file\n").unwrap();
    build(&project, &runtime);
    let xdg = tmp.path().join("xdg");

    // Assets first (the default): the platform answers for the files.
    {
        let server = Server::start(&project, free_port(), &[], &xdg, "/robots.txt");
        assert_file(&server, "/robots.txt", &robots, "text/plain");
        assert_file(&server, "/pixel.png", PIXEL, "image/png");
        let file = server.request("GET", "/api/health", &[], b"");
        assert_eq!((file.status, file.text().as_str()), (200, "the file\n"));
        let hello = server.request("GET", "/hello/world", &[], b"");
        assert_eq!(hello.status, 200, "{}", hello.text());
        assert_eq!(json(&hello), serde_json::json!({"hello": "world"}));
        assert_eq!(server.request("GET", "/nope", &[], b"").status, 404);
    }

    // App first: `build` sets run_worker_first in place (the template's
    // comments stay) and the worker falls through on the app's 404s.
    std::fs::write(
        project.join("elixir-workers.json"),
        r#"{ "assets": { "mode": "app_first" } }"#,
    )
    .unwrap();
    build(&project, &runtime);
    let config = std::fs::read_to_string(project.join("wrangler.jsonc")).unwrap();
    assert!(
        config.contains(r#""run_worker_first": true"#) && config.contains("// KV namespaces"),
        "{config}"
    );
    let server = Server::start(&project, free_port(), &[], &xdg, "/robots.txt");
    let health = server.request("GET", "/api/health", &[], b"");
    assert_eq!(health.status, 200, "{}", health.text());
    assert_eq!(json(&health), serde_json::json!({"status": "ok"}));
    assert_file(&server, "/robots.txt", &robots, "text/plain");
    assert_file(&server, "/pixel.png", PIXEL, "image/png");
    // Neither the app nor public/ has it: the app's own 404.
    let missing = server.request("GET", "/nope", &[], b"");
    assert_eq!(missing.status, 404, "{}", missing.text());
    // Only GET and HEAD fall through.
    assert_eq!(server.request("POST", "/robots.txt", &[], b"").status, 404);
    drop(server);

    // A project made before static assets: no `assets` in its config. The
    // next build inserts one for public/, and the file is served again.
    std::fs::remove_file(project.join("elixir-workers.json")).unwrap();
    let old: String = config
        .lines()
        .filter(|l| !l.contains("\"assets\":"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(!old.contains("\"assets\""), "{old}");
    std::fs::write(project.join("wrangler.jsonc"), &old).unwrap();
    build(&project, &runtime);
    let config = std::fs::read_to_string(project.join("wrangler.jsonc")).unwrap();
    assert!(
        config.contains(r#""assets": { "directory": "./public", "binding": "ASSETS" }"#)
            && config.contains("// KV namespaces"),
        "{config}"
    );
    let server = Server::start(&project, free_port(), &[], &xdg, "/robots.txt");
    assert_file(&server, "/robots.txt", &robots, "text/plain");
    let file = server.request("GET", "/api/health", &[], b"");
    assert_eq!((file.status, file.text().as_str()), (200, "the file\n"));
}
