//! End to end on the real AtomVM runtime: the test app from
//! `crates/pipeline/framework/test/support` compiled with the real elixirc, packed
//! the way `elixir-workers build` packs (`pipeline::pack::pack_archive`), and
//! served by the real `atomvm.wasm`
//!
//! * through the shim's request path in Node with fake KV/D1 bindings
//!   (`crates/pipeline/worker/test/e2e.test.mjs`), and
//! * through a real `wrangler dev` with real HTTP requests.
//!
//! Without a runtime each prints SKIPPED and returns (fails under `CI`).

use std::process::Command;
use std::time::{Duration, Instant};
use test_support::wrangler::TestProject;
use test_support::{
    boot_test_app, build_test_app, http, require_runtime, run, tempdir, tool, worker_dir,
};

#[test]
fn every_route_and_correctness_case_on_the_real_runtime() {
    let Some(runtime) =
        require_runtime("end-to-end tests of the shim and framework on atomvm.wasm")
    else {
        return;
    };
    let dir = tempdir();
    let avm = build_test_app(&runtime, dir.path()).unwrap_or_else(|e| panic!("{e:#}"));

    // The worker's module and boot image, made by the build's own function.
    let wasm = runtime.join("atomvm.wasm");
    let worker = dir.path().join("worker");
    std::fs::create_dir_all(&worker).unwrap();
    let (boot_wasm_path, image_path) =
        boot_test_app(&runtime, &avm, &worker).unwrap_or_else(|e| panic!("{e:#}"));
    let _kept;
    if std::env::var_os("WORKER_TESTS_KEEP").is_some() {
        _kept = dir.keep();
        eprintln!("kept the test app: {}", _kept.join("app.avm").display());
    }

    let wd = worker_dir();
    let mut cmd = Command::new(tool("NODE", "node"));
    cmd.current_dir(&wd)
        .arg("--test")
        .arg(wd.join("test/e2e.test.mjs"))
        .env("E2E_WASM", &wasm)
        .env("E2E_AVM", &avm)
        .env("E2E_BOOT_WASM", &boot_wasm_path)
        .env("E2E_BOOT_IMAGE", &image_path);
    let out = run(&mut cmd).ok();
    out.echo();
    let text = out.stdout;
    assert!(text.contains("# fail 0"), "{text}");
    assert!(
        text.contains("# skipped 0"),
        "e2e tests were skipped:\n{text}"
    );
}

#[test]
fn real_wrangler_dev_serves_the_app() {
    let Some(runtime) = require_runtime("end-to-end test through wrangler dev") else {
        return;
    };
    let project = TestProject::build(
        &runtime,
        &pipeline::project::Budget::default(),
        r#"  "name": "e2e-app",
  "kv_namespaces": [{ "binding": "CACHE", "id": "e2e-cache" }],
  "vars": { "APP_NAME": "from-wrangler" }"#,
    );
    let server = project.serve(&[]);
    let port = server.port;
    let health = http(port, "GET", "/health", &[], b"").unwrap();
    assert_eq!(health.status, 200, "{}", health.text());
    assert_eq!(health.text(), r#"{"status":"ok"}"#);
    assert_eq!(health.header("x-content-type-options"), Some("nosniff"));

    let page = http(port, "GET", "/page", &[], b"").unwrap();
    assert_eq!(page.status, 200);
    assert!(page.text().contains("item &lt;52&gt;"));

    let echo = http(
        port,
        "POST",
        "/echo",
        &[("content-type", "application/json")],
        br#"{"s":"\u2603\u00e9\ud83d\ude00","n":[1,2.5,null]}"#,
    )
    .unwrap();
    assert_eq!(echo.status, 200);
    let v: serde_json::Value = serde_json::from_slice(&echo.body).unwrap();
    assert_eq!(v, serde_json::json!({"s": "☃é😀", "n": [1, 2.5, null]}));

    let bad = http(
        port,
        "POST",
        "/echo",
        &[("content-type", "application/json")],
        b"{\"a\":",
    )
    .unwrap();
    assert_eq!(bad.status, 400);
    assert_eq!(bad.header("content-type"), Some("application/json"));

    let bytes: Vec<u8> = (0..=255u8).chain([0xff, 0xfe, b'\n', 0]).collect();
    let bin = http(
        port,
        "POST",
        "/binary",
        &[("content-type", "application/octet-stream")],
        &bytes,
    )
    .unwrap();
    assert_eq!(bin.body, bytes);

    let env = http(port, "GET", "/env/APP_NAME", &[], b"").unwrap();
    assert_eq!(env.text(), r#"{"value":"from-wrangler"}"#);

    // KV through miniflare's local KV: a miss, a write after the response, a hit.
    let miss = http(port, "GET", "/kv/e2e-key", &[], b"").unwrap();
    assert_eq!(miss.status, 200);
    let mv: serde_json::Value = serde_json::from_slice(&miss.body).unwrap();
    assert_eq!(
        mv,
        serde_json::json!({"key": "e2e-key", "value": null, "found": false})
    );
    let put = http(port, "POST", "/kv/e2e-key", &[], b"stored value").unwrap();
    assert_eq!(put.status, 202);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let hit = http(port, "GET", "/kv/e2e-key", &[], b"").unwrap();
        let hv: serde_json::Value = serde_json::from_slice(&hit.body).unwrap();
        if hv["found"] == serde_json::json!(true) {
            assert_eq!(hv["value"], "stored value");
            break;
        }
        assert!(Instant::now() < deadline, "the KV write never landed: {hv}");
        std::thread::sleep(Duration::from_millis(200));
    }

    let crash = http(port, "GET", "/crash", &[], b"").unwrap();
    assert_eq!(crash.status, 500);
    let cv: serde_json::Value = serde_json::from_slice(&crash.body).unwrap();
    assert_eq!(cv["error"], "internal_error");
    let id = cv["request_id"].as_str().expect("a request id").to_owned();
    assert!(!id.is_empty());
    // The Elixir error and its stack trace reach wrangler's console.
    server.wait_for_log(10, "the crash report", |log| {
        log.contains("** (RuntimeError) boom from TestApp")
            && log.contains("TestApp.Router.crash/1")
            && log.contains(&id)
    });

    let big = vec![b'x'; 1024 * 1024 + 1];
    let too_big = http(port, "POST", "/echo", &[], &big).unwrap();
    assert_eq!(too_big.status, 413);

    drop(server);
}

// ---------------------------------------------------------------------------
// The adapter's JSON and HTML NIFs against the framework's Elixir code
// ---------------------------------------------------------------------------

/// Documents the decoder must treat exactly as json.ex does: valid and
/// invalid, unicode, escapes, surrogates, numbers at and past every limit,
/// duplicate keys, each error of json.ex at the start, middle and end.
const HAND_CORPUS: &[&[u8]] = &[
    b"",
    b"   ",
    b"null",
    b"true",
    b"false",
    b" true ",
    b"tru",
    b"nul",
    b"truex",
    b"[truex]",
    b"0",
    b"-0",
    b"-0.0",
    b"0.0e0",
    b"1",
    b"-1",
    b"42",
    b"007",
    b"-007",
    b"01.5",
    b"-",
    b"-x",
    b"- 1",
    b"1.",
    b"1.e5",
    b".5",
    b"1e",
    b"1e+",
    b"1E5",
    b"1e5",
    b"1E-5",
    b"1.5e+3",
    b"2.5E-3",
    b"1e400",
    b"-1e400",
    b"1e-400",
    b"5e-324",
    b"2.4703282292062328e-324",
    b"2.4703282292062327e-324",
    b"1.7976931348623157e308",
    b"1.7976931348623159e308",
    b"0.1",
    b"0.30000000000000004",
    b"123456789.123456789e-5",
    b"3.14159265358979323846264338327950288419716939937510582097494459230781640628620899",
    b"1000000000000000000000000000000000000000000000000000000000000000000.5",
    b"2147483647",
    b"2147483648",
    b"-2147483648",
    b"-2147483649",
    b"134217727",
    b"134217728",
    b"-134217728",
    b"-134217729",
    b"9007199254740993",
    b"9223372036854775807",
    b"-9223372036854775808",
    b"9223372036854775808",
    b"-9223372036854775809",
    b"18446744073709551616",
    b"123456789012345678901234567890",
    b"[1,2,3]",
    b"[1,2,3,]",
    b"[,1]",
    b"[1 2]",
    b"[",
    b"]",
    b"[]",
    b"[ ]",
    b"[[]]",
    b"[{}]",
    b"{}",
    b"{ }",
    b"{\"a\":1}",
    b"{\"a\" : 1 , \"b\" : [ 1 , { } ] }",
    b"{\"a\":1,}",
    b"{\"a\" 1}",
    b"{\"a\":}",
    b"{\"a\":",
    b"{\"a\"",
    b"{\"a",
    b"{a:1}",
    b"{1:1}",
    b"{\"a\":1 \"b\":2}",
    b"{\"a\":1,\"a\":2}",
    b"{\"a\":1,\"b\":2,\"a\":3,\"b\":4,\"c\":5}",
    b"{\"b\":1,\"a\":2,\"ab\":3,\"\":4,\"aa\":5,\"B\":6}",
    b"{\"\xc3\xa9\":1,\"e\":2,\"\xe2\x98\x83\":3,\"\\u00e9\":4}",
    b"{\"k\":{\"k\":{\"k\":[1,{\"k\":null}]}}}",
    b"\"plain\"",
    b"\"\"",
    b"\"unterminated",
    b"\"",
    b"\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\"",
    b"\"\\u0041\\u00e9\\u2603\\uFFFF\\u0000\"",
    b"\"\\uD83D\\uDE00\"",
    b"\"\\ud83d\\ude00 mixed \\uD83D\\uDE00\"",
    b"\"\\uD800\"",
    b"\"\\uDC00\"",
    b"\"\\uD800x\"",
    b"\"\\uD800\\n\"",
    b"\"\\uD800\\uD800\\uDC00\"",
    b"\"\\uD800\\u0041\"",
    b"\"\\uD800\\uZZZZ\"",
    b"\"\\uD800\\u12\"",
    b"\"\\uDBFF\\uDFFF\"",
    b"\"\\u12\"",
    b"[\"\\u12\"]",
    b"\"\\u12G4\"",
    b"\"\\uGGGG\"",
    b"\"\\x\"",
    b"\"\\",
    b"\"\\u",
    b"\"tab\there\"",
    b"\"nul\x00here\"",
    b"\"del\x7fok\"",
    b"\"\xc3\xa9\xe2\x98\x83\xf0\x9f\x98\x80\"",
    b"\"\xc3\"",
    b"\"\xc3",
    b"\"\xc0\x80\"",
    b"\"\xe0\x80\x80\"",
    b"\"\xed\xa0\x80\"",
    b"\"\xf4\x90\x80\x80\"",
    b"\"\xf8\x88\x80\x80\x80\"",
    b"\"\xff\"",
    b"\"\x80\"",
    b"\"ok\\n\xc3\xa9\\u00e9\xff\"",
    b"\"<b>&amp; 'single' \\\"double\\\"</b>\"",
    b"1 2",
    b"{} x",
    b"[1]]",
    b"\xef\xbb\xbf{}",
    b"@",
    b"\t\n\r [\t\n\r 1\t\n\r ]\t\n\r ",
    b"[1,[2,[3,[4,[5,[6]]]]]]",
];

/// A deterministic xorshift64*, so a failing case can be reproduced.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// About `size` bytes of a realistic API payload: objects of strings (some
/// with escapes and non-ASCII), integers, floats, booleans, nulls.
fn big_document(size: usize, rng: &mut Rng) -> Vec<u8> {
    let mut out = b"[".to_vec();
    let mut n = 0u64;
    while out.len() < size {
        if n > 0 {
            out.push(b',');
        }
        let score = rng.next() % 100_000;
        let big = rng.next() as i64;
        out.extend_from_slice(
            format!(
                "{{\"id\":{n},\"name\":\"item {n} \\\"q\\\" \u{e9}\\u00e9 \u{1f600}\\ud83d\\ude00 <&>\",\
                 \"tags\":[\"a\",\"b\\n\",\"\"],\"score\":{score},\"ratio\":{}.{:03},\"big\":{big},\
                 \"ok\":{},\"none\":null,\"nested\":{{\"x\":[{{}},[],{{\"y\":-{score}e-3}}]}}}}",
                score / 7,
                score % 1000,
                n % 2 == 0
            )
            .as_bytes(),
        );
        n += 1;
    }
    out.push(b']');
    out
}

/// Random whitespace, as JSON allows it between tokens.
fn ws(out: &mut Vec<u8>, rng: &mut Rng) {
    for _ in 0..rng.below(4).saturating_sub(1) {
        out.push(b" \t\n\r"[rng.below(4)]);
    }
}

/// A random valid JSON value: every kind of scalar, strings with every kind
/// of escape (surrogate pairs, lone surrogates) and raw UTF-8 of every length,
/// numbers near every limit, objects with duplicate keys.
fn random_value(out: &mut Vec<u8>, rng: &mut Rng, depth: u32) {
    let kinds = if depth >= 6 { 5 } else { 7 };
    match rng.below(kinds) {
        0 => out.extend_from_slice([&b"null"[..], b"true", b"false"][rng.below(3)]),
        1 => {
            let n: i128 = match rng.below(4) {
                0 => rng.below(1000) as i128,
                1 => rng.next() as i64 as i128,
                2 => i64::MAX as i128 - rng.below(3) as i128,
                _ => i64::MIN as i128 + rng.below(3) as i128,
            };
            out.extend_from_slice(n.to_string().as_bytes());
        }
        2 => {
            if rng.below(2) == 0 {
                out.push(b'-');
            }
            out.extend_from_slice((rng.next() % 100_000).to_string().as_bytes());
            if rng.below(3) > 0 {
                out.push(b'.');
                out.extend_from_slice(
                    format!(
                        "{:0width$}",
                        rng.next() % 1_000_000_000,
                        width = 1 + rng.below(9)
                    )
                    .as_bytes(),
                );
            }
            if rng.below(2) == 0 {
                out.push([b'e', b'E'][rng.below(2)]);
                if rng.below(2) == 0 {
                    out.push([b'+', b'-'][rng.below(2)]);
                }
                out.extend_from_slice(rng.below(300).to_string().as_bytes());
            }
        }
        3 | 4 => random_string(out, rng),
        5 => random_container(out, rng, b"[]", 5, |out, rng| {
            random_value(out, rng, depth + 1)
        }),
        _ => random_container(out, rng, b"{}", 6, |out, rng| {
            if rng.below(3) == 0 {
                // Short keys from a small alphabet collide often.
                out.extend_from_slice(
                    format!("\"{}\"", ["a", "b", "ab", "", "\\u0061"][rng.below(5)]).as_bytes(),
                );
            } else {
                random_string(out, rng);
            }
            ws(out, rng);
            out.push(b':');
            ws(out, rng);
            random_value(out, rng, depth + 1);
        }),
    }
}

/// An array or object (`brackets`) of fewer than `max` items written by
/// `item`, separated by commas, with random whitespace around each.
fn random_container(
    out: &mut Vec<u8>,
    rng: &mut Rng,
    brackets: &[u8; 2],
    max: usize,
    mut item: impl FnMut(&mut Vec<u8>, &mut Rng),
) {
    out.push(brackets[0]);
    ws(out, rng);
    for i in 0..rng.below(max) {
        if i > 0 {
            out.push(b',');
            ws(out, rng);
        }
        item(out, rng);
        ws(out, rng);
    }
    out.push(brackets[1]);
}

fn random_string(out: &mut Vec<u8>, rng: &mut Rng) {
    out.push(b'"');
    for _ in 0..rng.below(12) {
        match rng.below(8) {
            0 => {
                out.push(b'\\');
                out.push(b"\"\\/bfnrt"[rng.below(8)]);
            }
            1 => {
                // Any \u escape, surrogates included, in either case.
                let u = rng.below(0x10000) as u32;
                let text = if rng.below(2) == 0 {
                    format!("\\u{u:04x}")
                } else {
                    format!("\\u{u:04X}")
                };
                out.extend_from_slice(text.as_bytes());
            }
            2 => {
                // A proper surrogate pair.
                let cp = 0x10000 + rng.below(0x100000) as u32;
                let hi = 0xD800 + ((cp - 0x10000) >> 10);
                let lo = 0xDC00 + ((cp - 0x10000) & 0x3FF);
                out.extend_from_slice(format!("\\u{hi:04x}\\u{lo:04x}").as_bytes());
            }
            3 => {
                // Raw UTF-8 of 2, 3 or 4 bytes.
                let cp = [
                    0x80 + rng.below(0x780),
                    0x800 + rng.below(0xD000),
                    0x10000 + rng.below(0x100000),
                ][rng.below(3)] as u32;
                if let Some(c) = char::from_u32(cp) {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
            _ => {
                // Printable ASCII; a quote or a backslash escaped.
                let c = b' ' + rng.below(95) as u8;
                if c == b'"' || c == b'\\' {
                    out.push(b'\\');
                }
                out.push(c);
            }
        }
    }
    out.push(b'"');
}

/// Bytes that matter to a JSON parser, for the mutations.
const INTERESTING: &[u8] = b"\"\\{}[],:0-e.u \x00\x1f\x7f\x80\xbf\xc3\xed\xf4\xffDd";

/// One random edit: overwrite, insert or delete a byte, or truncate.
fn mutate(doc: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut d = doc.to_vec();
    let edits = 1 + rng.below(3);
    for _ in 0..edits {
        let at = if d.is_empty() { 0 } else { rng.below(d.len()) };
        let byte = INTERESTING[rng.below(INTERESTING.len())];
        match rng.below(4) {
            0 if !d.is_empty() => d[at] = byte,
            1 => d.insert(at, byte),
            2 if !d.is_empty() => {
                d.remove(at);
            }
            _ => d.truncate(at),
        }
    }
    d
}

/// The corpus, and the range of it that holds the random valid documents.
fn corpus() -> (Vec<Vec<u8>>, std::ops::Range<usize>) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut docs: Vec<Vec<u8>> = HAND_CORPUS.iter().map(|d| d.to_vec()).collect();

    // Nesting at and over json.ex's limit of 32, for arrays and objects,
    // and one far deeper than any C stack would like.
    for depth in [2usize, 3, 31, 32, 33, 40, 20_000] {
        let mut arr = vec![b'['; depth];
        arr.extend(std::iter::repeat_n(b']', depth));
        docs.push(arr);
        let mut obj = b"{\"k\":".repeat(depth);
        obj.extend_from_slice(b"1");
        obj.extend(std::iter::repeat_n(b'}', depth));
        docs.push(obj);
    }
    // Unclosed deep nesting: the error is the depth, or the end of input.
    docs.push(vec![b'['; 32]);
    docs.push(vec![b'['; 33]);

    // An object beyond 32 keys (AtomVM and the BEAM store those differently).
    let wide: Vec<String> = (0..40).map(|i| format!("\"k{}\":{i}", 39 - i)).collect();
    docs.push(format!("{{{}}}", wide.join(",")).into_bytes());

    let big_1k = big_document(1024, &mut rng);
    let big_50k = big_document(50 * 1024, &mut rng);
    docs.push(big_1k.clone());
    docs.push(big_50k.clone());
    // A 50 KB document with an error near its end.
    let mut broken = big_50k.clone();
    let at = broken.len() - 40;
    broken[at] = b'\x01';
    docs.push(broken);

    // Random valid documents.
    let first_random = docs.len();
    for _ in 0..300 {
        let mut d = Vec::new();
        ws(&mut d, &mut rng);
        random_value(&mut d, &mut rng, 0);
        ws(&mut d, &mut rng);
        docs.push(d);
    }

    // Random edits of the small documents, the random ones and the 1 KB one.
    let seeds: Vec<Vec<u8>> = docs
        .iter()
        .enumerate()
        .filter(|(i, d)| !d.is_empty() && (d.len() < 200 || *i >= first_random))
        .map(|(_, d)| d.clone())
        .chain(std::iter::once(big_1k))
        .collect();
    for _ in 0..600 {
        let seed = &seeds[rng.below(seeds.len())];
        docs.push(mutate(seed, &mut rng));
    }
    (docs, first_random..first_random + 300)
}

/// Runs the corpus through TestApp.JsonDiff on the real runtime (POST
/// /json_diff through the shim; the NIFs answer) and with `elixir` on the
/// BEAM (the Elixir code answers), and requires the same report: same
/// decoded terms, errors and offsets, same encoder output and errors, same
/// HTML escaping; on the runtime also NIF == Elixir code line by line.
#[test]
fn json_and_html_nifs_match_the_elixir_code() {
    let Some(runtime) = require_runtime("differential tests of the JSON/HTML NIFs on atomvm.wasm")
    else {
        return;
    };
    let dir = tempdir();
    let avm = build_test_app(&runtime, dir.path()).unwrap_or_else(|e| panic!("{e:#}"));

    let (docs, random_valid) = corpus();
    let mut framed = Vec::new();
    for d in &docs {
        framed.extend_from_slice(&(d.len() as u32).to_be_bytes());
        framed.extend_from_slice(d);
    }
    let corpus_path = dir.path().join("corpus.bin");
    std::fs::write(&corpus_path, &framed).unwrap();

    // The BEAM: the same compiled modules build_test_app packed.
    let mut cmd = Command::new(tool("ELIXIR", "elixir"));
    cmd.current_dir(dir.path())
        .arg("-pa")
        .arg(dir.path().join("framework"))
        .arg("-pa")
        .arg(dir.path().join("ebin"))
        .arg("-e")
        .arg("TestApp.JsonDiff.main()")
        .arg(&corpus_path);
    let beam = run(&mut cmd).ok().stdout;

    // The runtime, through the shim's request path.
    let script = r#"
        import fs from "node:fs";
        import { pathToFileURL } from "node:url";
        const { handleRequest } = await import(pathToFileURL(process.env.SHIM).href);
        const errors = [];
        const app = {
          wasmModule: new WebAssembly.Module(fs.readFileSync(process.env.E2E_WASM)),
          avmBytes: new Uint8Array(fs.readFileSync(process.env.E2E_AVM)),
          logger: { log() {}, error(line) { errors.push(line); } },
          // One request diffs the whole corpus: far more than a request
          // handler's budgets are for.
          budget: { reductions: 0, memoryBytes: 0 },
        };
        const body = fs.readFileSync(process.env.CORPUS);
        const req = new Request("http://diff.test/json_diff", {
          method: "POST", body, headers: { "content-type": "application/octet-stream" },
        });
        const res = await handleRequest(req, {}, { waitUntil() {} }, app);
        const out = Buffer.from(await res.arrayBuffer());
        if (res.status !== 200) {
          console.error(`status ${res.status}: ${out.toString().slice(0, 500)}\n${errors.join("\n")}`);
          process.exit(1);
        }
        fs.writeFileSync(process.env.REPORT, out);
    "#;
    let report_path = dir.path().join("report.txt");
    let mut cmd = Command::new(tool("NODE", "node"));
    cmd.current_dir(worker_dir())
        .arg("--input-type=module")
        .arg("-e")
        .arg(script)
        .env("SHIM", worker_dir().join("src/worker.js"))
        .env("E2E_WASM", runtime.join("atomvm.wasm"))
        .env("E2E_AVM", &avm)
        .env("CORPUS", &corpus_path)
        .env("REPORT", &report_path);
    run(&mut cmd).ok();
    let atomvm = std::fs::read(&report_path).unwrap();

    let atomvm = String::from_utf8(atomvm).expect("the report is ASCII text");
    let (fallbacks, atomvm_lines): (Vec<&str>, Vec<&str>) =
        atomvm.lines().partition(|l| l.starts_with("fallback "));
    let beam_lines: Vec<&str> = beam.lines().collect();

    let show = |i: usize| {
        let d = &docs[i];
        String::from_utf8_lossy(&d[..d.len().min(120)]).into_owned()
    };
    let doc_of = |line: &str| -> Option<usize> {
        let mut parts = line.split(' ');
        let kind = parts.next()?;
        if kind.contains("term") {
            return None;
        }
        parts.next()?.parse().ok()
    };

    // AtomVM's own binary_to_float/1, which json.ex calls, rejects a float
    // text of 62 bytes or more, which the BEAM reads. The NIF answers as the
    // BEAM does, so on AtomVM the NIF and the Elixir code disagree on such
    // documents and only there: a self_decode line is accepted when the
    // Elixir side says "number out of range"; the NIF's decode line must
    // still equal the BEAM's (below).
    let atomvm_float_quirk = |line: &str| {
        line.starts_with("self_decode ")
            && line
                .split_once(" <> ")
                .is_some_and(|(_, elixir)| elixir.contains("number out of range"))
    };
    let mut problems = Vec::new();
    let mut quirks = Vec::new();
    for line in atomvm_lines.iter().filter(|l| l.starts_with("self")) {
        if !line.ends_with(" same") {
            let doc = doc_of(line).map(show).unwrap_or_default();
            if atomvm_float_quirk(line) {
                quirks.push(format!("{line}\n  document: {doc:?}"));
            } else {
                problems.push(format!(
                    "NIF != Elixir on AtomVM: {line}\n  document: {doc:?}"
                ));
            }
        }
    }
    if atomvm_lines.len() != beam_lines.len() {
        problems.push(format!(
            "the reports differ in length: AtomVM {} lines, BEAM {} lines",
            atomvm_lines.len(),
            beam_lines.len()
        ));
    }
    for (a, b) in atomvm_lines.iter().zip(&beam_lines) {
        let quirk_of_same_line =
            atomvm_float_quirk(a) && b.strip_suffix(" same") == a.split(" DIFF").next();
        if a != b && !quirk_of_same_line {
            let doc = doc_of(a).map(show).unwrap_or_default();
            problems.push(format!(
                "AtomVM: {}\n  BEAM: {}\n  document: {doc:?}",
                &a[..a.len().min(300)],
                &b[..b.len().min(300)]
            ));
        }
    }

    // The NIF leaves a document to the Elixir code only for integers beyond
    // 64 bits; each such document must hold one.
    for line in &fallbacks {
        let i = doc_of(line).expect("fallback lines name a document");
        let digits = docs[i]
            .split(|b| !b.is_ascii_digit())
            .map(|run| run.len())
            .max()
            .unwrap_or(0);
        if digits < 19 {
            problems.push(format!(
                "decode fell back without a 64-bit overflow: {:?}",
                show(i)
            ));
        }
    }
    assert!(
        fallbacks.len() >= 3,
        "the big-integer documents should fall back: {fallbacks:?}"
    );
    // The generator makes valid documents only (else it tests less than it
    // claims).
    for i in random_valid {
        let prefix = format!("decode {i} ok ");
        if !atomvm_lines.iter().any(|l| l.starts_with(&prefix)) {
            problems.push(format!("a random document is invalid: {:?}", show(i)));
        }
    }
    // The comparison must have covered every document.
    let decoded = atomvm_lines
        .iter()
        .filter(|l| l.starts_with("decode "))
        .count();
    assert_eq!(decoded, docs.len(), "every document is reported");

    assert!(
        problems.is_empty(),
        "{} differences over {} documents:\n{}",
        problems.len(),
        docs.len(),
        problems[..problems.len().min(40)].join("\n")
    );
    eprintln!(
        "json/html differential: {} documents, {} report lines, NIF == BEAM on all; \
         {} decode fallbacks; {} documents with a float text AtomVM's binary_to_float \
         rejects (the NIF answers as the BEAM):\n{}",
        docs.len(),
        beam_lines.len(),
        fallbacks.len(),
        quirks.len(),
        quirks.join("\n")
    );
}
