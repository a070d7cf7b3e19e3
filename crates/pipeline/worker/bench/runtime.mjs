// Per-route request cost of the worker's request path in plain Node on the
// real atomvm.wasm (no wrangler): handleRequest end to end, including
// instance creation, every pass, and reading the response body.
//
//   node runtime.mjs --wasm atomvm.wasm --image boot.bin [--iterations N] [--warmup N]
//                    [--warmup-ms MS] [--cold N]
//
// --wasm and --image are what a built worker ships (the module carrying the
// build id, and the boot image; see crates/pipeline/src/boot.rs).
//
// The app is the framework's test app (crates/pipeline/framework/test/support). Prints
// one JSON object: { cold: {...}, routes: [{name, n, p50_ms, p99_ms, mean_ms,
// vm_p50_ms, vm_p99_ms, cpu_p50_ms}] } where vm_* cover only the VM runs (the
// rest is Node's Request/Response machinery and the shim's JS, which workerd
// does natively).
//
// Two regimes are measured, in separate processes. With --cold N, the
// process is a new isolate: it compiles atomvm.wasm, starts as the worker
// does when workerd loads it (the boot image into memory and a run of no
// app code, timed apart), then sends N health requests one after another
// and prints each one's time (the first compiles what the app's run reaches
// beyond that), then exits. Without
// it, `routes` is a warm isolate: before any route is timed, every
// route runs in turn for --warmup-ms (default 8000), because V8 first runs
// the VM's interpreter loop (one function of about 250 KB) on its baseline
// compiler and swaps in the optimized code only after compiling it in the
// background, which takes seconds here; then each route gets --warmup more
// requests and --iterations timed ones.
// Driven by `cargo xtask bench runtime`, which builds the archive.

import fs from "node:fs";
import { performance } from "node:perf_hooks";
import { handleRequest, warmIsolate } from "../src/worker.js";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
};
const wasmPath = opt("--wasm");
const imagePath = opt("--image");
const coldRequests = Number(opt("--cold", "0"));
const iterations = Number(opt("--iterations", "300"));
const warmup = Number(opt("--warmup", "30"));
const warmupMs = Number(opt("--warmup-ms", "8000"));
if (!wasmPath || !imagePath) {
  console.error("usage: node runtime.mjs --wasm atomvm.wasm --image boot.bin [--iterations N] [--warmup N] [--cold N]");
  process.exit(64);
}

// Node loads its fetch classes (undici) on first use, about 20 ms here;
// workerd's are built in. Touch them before anything is timed so the cold
// figures are the worker's own.
{
  const res = new Response(new Uint8Array(1), { status: 200, headers: { "x-warm": "1" } });
  await res.arrayBuffer();
  new Request("http://bench.test/", { method: "POST", body: "x" });
}

let vmMs = 0;
const wasmBytes = fs.readFileSync(wasmPath);
const compileStart = performance.now();
const wasmModule = new WebAssembly.Module(wasmBytes);
const compileMs = performance.now() - compileStart;
const app = {
  onRun: (ms) => {
    vmMs += ms;
  },
  wasmModule,
  bootImage: new Uint8Array(fs.readFileSync(imagePath)),
  logger: { log() {}, error(line) { errors.push(line); } },
};
const errors = [];

// A JSON document of about `size` bytes: objects with strings (some needing
// escapes), numbers, booleans and nulls.
function doc(size) {
  const items = [];
  for (let n = 0; JSON.stringify(items).length < size; n++) {
    items.push({ id: n, name: `item ${n} "q" é`, tags: ["a", "b"], score: n * 3, ok: n % 2 === 0, none: null });
  }
  return JSON.stringify(items);
}

// A KV namespace that answers at once, so the figure is the VM's cost of two passes.
const kv = {
  async get(key) {
    return key === "user1" ? "alice" : null;
  },
};

const JSON_CT = { "content-type": "application/json" };
const health = { name: "health", method: "GET", path: "/health" };
// The request bodies are made only for the warm regime: making them leaves
// megabytes of garbage strings, whose collection (a mark-compact of about
// 8 ms here) would otherwise land in the middle of a new isolate's requests.
const allRoutes = () => [
  health,
  { name: "html_5kb_static", method: "GET", path: "/page_static" },
  { name: "html_5kb", method: "GET", path: "/page" },
  { name: "echo_1kb", method: "POST", path: "/echo", body: doc(1024), headers: JSON_CT },
  { name: "echo_10kb", method: "POST", path: "/echo", body: doc(10 * 1024), headers: JSON_CT },
  { name: "echo_50kb", method: "POST", path: "/echo", body: doc(50 * 1024), headers: JSON_CT },
  { name: "echo_raw_10kb", method: "POST", path: "/echo_raw", body: doc(10 * 1024), headers: JSON_CT },
  { name: "kv_two_pass", method: "GET", path: "/kv/user1", env: { CACHE: kv } },
];

async function once(route) {
  vmMs = 0;
  const init = { method: route.method, headers: route.headers };
  if (route.body !== undefined) init.body = route.body;
  const res = await handleRequest(new Request("http://bench.test" + route.path, init), route.env ?? {}, { waitUntil() {} }, app);
  const body = await res.arrayBuffer();
  if (res.status !== 200) {
    throw new Error(`${route.name}: status ${res.status}: ${new TextDecoder().decode(body).slice(0, 200)}\n${errors.join("\n")}`);
  }
  return { bytes: body.byteLength, vm: vmMs };
}

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

async function timed(route) {
  const t0 = performance.now();
  const r = await once(route);
  return { ms: performance.now() - t0, vm: r.vm };
}

if (coldRequests > 0) {
  // A new isolate: it starts as app.js starts one in workerd (the boot image
  // into memory, a run of no app code and one request the framework answers
  // itself: warmIsolate), then gets health requests one after another.
  const startAt = performance.now();
  const failed = await warmIsolate({ ...app, onRun: undefined }, app.logger);
  const startMs = performance.now() - startAt;
  if (failed !== null) throw new Error(`the isolate did not start: ${failed}\n${errors.join("\n")}`);
  const requests = [];
  for (let i = 0; i < coldRequests; i++) {
    const t = await timed(health);
    requests.push({ ms: t.ms, vm_ms: t.vm });
  }
  console.log(JSON.stringify({ node: process.version, compile_ms: compileMs, start_ms: startMs, requests }));
  process.exit(0);
}

const routes = allRoutes();
const warmStart = performance.now();
let warmRequests = 0;
while (performance.now() - warmStart < warmupMs) {
  for (const route of routes) {
    await once(route);
    warmRequests++;
  }
}

const out = [];
for (const route of routes) {
  for (let i = 0; i < warmup; i++) await once(route);
  const times = [];
  const vm = [];
  const cpu = [];
  let bytes = 0;
  for (let i = 0; i < iterations; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const r = await once(route);
    times.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    vm.push(r.vm);
    bytes = r.bytes;
  }
  times.sort((a, b) => a - b);
  vm.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  out.push({
    name: route.name,
    n: iterations,
    request_bytes: route.body ? Buffer.byteLength(route.body) : 0,
    response_bytes: bytes,
    p50_ms: pct(times, 50),
    p99_ms: pct(times, 99),
    mean_ms: times.reduce((s, t) => s + t, 0) / times.length,
    // Time inside the VM runs only (instance creation, boot, the app), all passes.
    vm_p50_ms: pct(vm, 50),
    vm_p99_ms: pct(vm, 99),
    // CPU time of this process per request: less sensitive to other load on
    // the machine than wall time.
    cpu_p50_ms: pct(cpu, 50),
  });
}
console.log(JSON.stringify({ node: process.version, warmup_ms: warmupMs, warmup_requests: warmRequests, routes: out }));
