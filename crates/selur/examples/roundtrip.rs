//! Round-trip cost of the bridge from Rust, and of a JSON/HTTP baseline on
//! 127.0.0.1 with a keep-alive connection, for the same payloads, measured
//! in the same process. `cargo xtask bench selur` runs this (release) with
//! `--json` and merges it with the Elixir numbers; run it alone for a table:
//!
//!     cargo run --release -p selur --example roundtrip
//!
//! Each round trip carries the payload to the other side and back: the
//! guest's echo command through linear memory, and an HTTP POST whose JSON
//! body the server parses and answers with a JSON body of its own.

use std::hint::black_box;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use selur::{Bridge, ContainerId};
use serde::{Deserialize, Serialize};

const SIZES: [usize; 3] = [100, 1_000, 10_000];

/// Median of per-call times, each taken as the mean over a batch of
/// `batch` calls (a clock read per call would cost as much as the call).
fn median_ns(mut f: impl FnMut(), batch: u32, batches: u32) -> f64 {
    for _ in 0..batch * 4 {
        f();
    }
    let mut per_call: Vec<f64> = (0..batches)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..batch {
                f();
            }
            t.elapsed().as_nanos() as f64 / batch as f64
        })
        .collect();
    per_call.sort_by(f64::total_cmp);
    per_call[per_call.len() / 2]
}

fn payload(n: usize) -> Vec<u8> {
    // Printable, so the same bytes travel as a JSON string unescaped.
    (0..n).map(|i| b'a' + (i % 26) as u8).collect()
}

#[derive(Serialize, Deserialize)]
struct JsonRequest {
    command: String,
    payload: String,
}

#[derive(Serialize, Deserialize)]
struct JsonResponse {
    status: String,
    payload: String,
}

/// A one-connection HTTP/1.1 server: reads requests until the client
/// closes, answers each JSON body with a JSON body. Exits by itself.
fn serve(listener: TcpListener) {
    let (stream, _) = listener.accept().expect("accept");
    stream.set_nodelay(true).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    let mut line = String::new();
    let mut body = Vec::new();
    loop {
        let mut content_length = 0usize;
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some(v) = l.strip_prefix("content-length: ") {
                content_length = v.parse().unwrap();
            }
        }
        body.resize(content_length, 0);
        reader.read_exact(&mut body).unwrap();
        let req: JsonRequest = serde_json::from_slice(&body).unwrap();
        let resp = serde_json::to_vec(&JsonResponse {
            status: "ok".into(),
            payload: req.payload,
        })
        .unwrap();
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            resp.len()
        );
        out.write_all(head.as_bytes()).unwrap();
        out.write_all(&resp).unwrap();
    }
}

/// One keep-alive client connection.
struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    line: String,
    body: Vec<u8>,
    request: Vec<u8>,
}

impl Client {
    fn round_trip(&mut self, payload: &str) -> usize {
        let json = serde_json::to_vec(&JsonRequest {
            command: "echo".into(),
            payload: payload.into(),
        })
        .unwrap();
        self.request.clear();
        write!(
            self.request,
            "POST /selur HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            json.len()
        )
        .unwrap();
        self.request.extend_from_slice(&json);
        self.writer.write_all(&self.request).unwrap();
        let mut content_length = 0;
        self.line.clear();
        self.reader.read_line(&mut self.line).unwrap();
        assert!(self.line.starts_with("HTTP/1.1 200"), "{}", self.line);
        loop {
            self.line.clear();
            self.reader.read_line(&mut self.line).unwrap();
            let l = self.line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some(v) = l.strip_prefix("content-length: ") {
                content_length = v.parse().unwrap();
            }
        }
        self.body.resize(content_length, 0);
        self.reader.read_exact(&mut self.body).unwrap();
        let resp: JsonResponse = serde_json::from_slice(&self.body).unwrap();
        assert_eq!(resp.payload.len(), payload.len());
        resp.payload.len()
    }
}

fn main() {
    let json_out = std::env::args().any(|a| a == "--json");
    let mut bridge = Bridge::bundled().expect("loading the bundled guest");

    let mut rust = Vec::new();
    for n in SIZES {
        let p = payload(n);
        // Check once that the bytes really come back.
        assert!(bridge.echo_with(&p, |r| r == &p[..]).unwrap());
        let ns = median_ns(
            || {
                black_box(bridge.echo_with(black_box(&p), |r| r.len()).unwrap());
            },
            1000,
            200,
        );
        rust.push(ns);
    }

    // A typed operation for scale: inspect (guest JSON + backend view).
    let id: ContainerId = bridge.create_container("busybox").unwrap();
    let inspect_ns = median_ns(
        || drop(black_box(bridge.inspect_json(&id).unwrap())),
        200,
        100,
    );

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || serve(listener));
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut client = Client {
        reader: BufReader::new(stream.try_clone().unwrap()),
        writer: stream,
        line: String::new(),
        body: Vec::new(),
        request: Vec::new(),
    };
    let mut http = Vec::new();
    for n in SIZES {
        let p = String::from_utf8(payload(n)).unwrap();
        let ns = median_ns(
            || {
                black_box(client.round_trip(&p));
            },
            20,
            200,
        );
        http.push(ns);
    }
    drop(client);
    server.join().unwrap();

    if json_out {
        let v = serde_json::json!({
            "sizes": SIZES,
            "rust_echo_ns": rust,
            "rust_inspect_ns": inspect_ns,
            "http_json_ns": http,
        });
        println!("{v}");
    } else {
        println!(
            "{:>8} {:>14} {:>16} {:>8}",
            "payload", "selur (µs)", "JSON/HTTP (µs)", "ratio"
        );
        for (i, n) in SIZES.iter().enumerate() {
            println!(
                "{:>8} {:>14.3} {:>16.3} {:>7.0}x",
                n,
                rust[i] / 1e3,
                http[i] / 1e3,
                http[i] / rust[i]
            );
        }
        println!("inspect (typed op): {:.3} µs", inspect_ns / 1e3);
    }
}
