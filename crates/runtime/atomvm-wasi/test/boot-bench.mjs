// Cost of atomvm.wasm through the worker shim's own runtime
// (crates/pipeline/worker/src/runtime.js): what one request pays (a fresh instance,
// the memory reset to the boot snapshot, start/0) and, separately, what the
// first request of an isolate pays on top (ew_boot and the snapshot).
//
//   node boot-bench.mjs ATOMVM_WASM APP_AVM [RUNS=1000] [STDIN_FILE]
//
// Prints {runs, p50, p90, p99, min, mean, boot_p50} in milliseconds; boot_p50
// is the median first run of 20 new runtimes minus the run's own p50.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { performance } from "node:perf_hooks";

const here = path.dirname(fileURLToPath(import.meta.url));
const shim = path.join(here, "../../../pipeline/worker/src/runtime.js");
const { AppRuntime } = await import(shim);

const [wasmPath, avmPath, runsArg, stdinPath] = process.argv.slice(2);
if (!wasmPath || !avmPath) {
  process.stderr.write("usage: node boot-bench.mjs ATOMVM_WASM APP_AVM [RUNS] [STDIN_FILE]\n");
  process.exit(64);
}
const runs = Number(runsArg ?? 1000);
const module = new WebAssembly.Module(fs.readFileSync(wasmPath));
const avm = new Uint8Array(fs.readFileSync(avmPath));
const stdin = stdinPath ? new Uint8Array(fs.readFileSync(stdinPath)) : new Uint8Array(0);
const quiet = { log() {}, error() {} };

const rt = new AppRuntime(module, avm);
// Warm up V8's tiers so the figures describe a warm worker isolate.
for (let i = 0; i < 50; i++) rt.run(stdin, quiet);

const firstRuns = [];
for (let i = 0; i < 20; i++) {
  const t0 = performance.now();
  new AppRuntime(module, avm).run(stdin, quiet);
  firstRuns.push(performance.now() - t0);
}
firstRuns.sort((a, b) => a - b);

const times = [];
for (let i = 0; i < runs; i++) {
  const t0 = performance.now();
  const r = rt.run(stdin, quiet);
  times.push(performance.now() - t0);
  if (r.exitCode !== 0) {
    process.stderr.write(`run ${i}: exit ${r.exitCode} ${r.trap ?? ""}\n`);
    process.exit(1);
  }
}
times.sort((a, b) => a - b);
const pct = (p) => times[Math.min(times.length - 1, Math.floor((p / 100) * times.length))];
const r3 = (x) => Math.round(x * 1000) / 1000;
console.log(JSON.stringify({
  runs,
  p50: r3(pct(50)),
  p90: r3(pct(90)),
  p99: r3(pct(99)),
  min: r3(times[0]),
  mean: r3(times.reduce((a, b) => a + b, 0) / runs),
  boot_p50: r3(firstRuns[10] - pct(50)),
}));
