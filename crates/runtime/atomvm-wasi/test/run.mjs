// Runs atomvm.wasm under Node's WASI preview1 the way the worker shim does
// (argv ["atomvm", "/app/app.avm"], one preopen "/app", empty env, request on
// stdin, response through the elixir_workers.respond import) and reports what
// came out on each channel.
//
//   node run.mjs ATOMVM_WASM APP_AVM [--stdin FILE]
//       prints one JSON object: {exit_code, trap, response_b64, stdout, stderr}
//   node run.mjs ATOMVM_WASM APP_AVM [--stdin FILE] --out-dir DIR
//       writes the raw bytes to DIR/response (only if the app responded),
//       DIR/stdout and DIR/stderr, and prints {exit_code, trap, responded}
//   node run.mjs ATOMVM_WASM APP_AVM [--stdin FILE] --bench N
//       runs N fresh instances of the compiled module and prints timings (ms)
//       of instantiate+ew_boot+ew_run as JSON: {runs, p50, p90, p99, min, mean}
//
// Used by xtask/tests/runtime.rs and by hand; needs nothing outside Node 20.

import { WASI } from "node:wasi";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
// The worker's boot memory size, so this runner boots the VM as it does.
import { BOOT_MEMORY_PAGES } from "../../../pipeline/worker/src/runtime.js";

function usage(msg) {
  process.stderr.write(`run.mjs: ${msg}\nusage: node run.mjs ATOMVM_WASM APP_AVM [--stdin FILE] [--bench N]\n`);
  process.exit(64);
}

const argv = process.argv.slice(2);
if (argv.length < 2) usage("missing arguments");
const [wasmPath, avmPath] = argv;
let stdinPath = null;
let benchRuns = 0;
let outDir = null;
for (let i = 2; i < argv.length; i++) {
  if (argv[i] === "--stdin") stdinPath = argv[++i];
  else if (argv[i] === "--bench") benchRuns = Number(argv[++i]);
  else if (argv[i] === "--out-dir") outDir = argv[++i];
  else usage(`unknown argument ${argv[i]}`);
}
if (stdinPath === undefined || outDir === undefined || Number.isNaN(benchRuns)) {
  usage("bad option value");
}

// The VM sees the archive as /app/app.avm whatever its name on disk.
const appDir = fs.mkdtempSync(path.join(os.tmpdir(), "atomvm-app-"));
fs.copyFileSync(avmPath, path.join(appDir, "app.avm"));
const emptyStdin = path.join(appDir, "empty-stdin");
fs.writeFileSync(emptyStdin, "");

const module = await WebAssembly.compile(fs.readFileSync(wasmPath));

// Node's WASI ends a proc_exit by throwing; the code is not on the error,
// so the import is wrapped to note it first.
function recordingExit(wasiImports, onExit) {
  const procExit = wasiImports.wasi_snapshot_preview1.proc_exit;
  wasiImports.wasi_snapshot_preview1.proc_exit = (code) => {
    onExit(code);
    return procExit(code);
  };
  return wasiImports;
}

// One run: a fresh WASI context, memory and instance, booted and run once,
// like one request in the shim minus the boot snapshot (which the shim's own
// tests cover). Returns the exit code of ew_boot, of ew_run or of a
// proc_exit (or the trap) and the last response handed over.
async function runOnce(stdoutFd, stderrFd) {
  const stdinFd = fs.openSync(stdinPath ?? emptyStdin, "r");
  const wasi = new WASI({
    version: "preview1",
    args: ["atomvm", "/app/app.avm"],
    env: {},
    preopens: { "/app": appDir },
    stdin: stdinFd,
    stdout: stdoutFd,
    stderr: stderrFd,
    returnOnExit: true,
  });
  const memory = new WebAssembly.Memory({ initial: BOOT_MEMORY_PAGES });
  let response = null;
  let exited = null;
  const imports = {
    ...recordingExit(wasi.getImportObject(), (code) => (exited = code)),
    elixir_workers: {
      memory,
      respond(ptr, len) {
        // Copy out: the bytes live in the instance's memory only for the call.
        response = Buffer.from(new Uint8Array(memory.buffer, ptr >>> 0, len >>> 0));
      },
    },
  };
  const instance = await WebAssembly.instantiate(module, imports);
  let exitCode = null;
  let trap = null;
  try {
    wasi.initialize(instance);
    exitCode = instance.exports.ew_boot();
    if (exitCode === 0) exitCode = instance.exports.ew_run();
  } catch (e) {
    if (exited !== null) exitCode = exited;
    else trap = String(e && e.message ? e.message : e);
  } finally {
    fs.closeSync(stdinFd);
  }
  return { exitCode, trap, response };
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

try {
  if (benchRuns > 0) {
    const devNull = fs.openSync("/dev/null", "w");
    const times = [];
    for (let i = 0; i < benchRuns; i++) {
      const t0 = performance.now();
      const r = await runOnce(devNull, devNull);
      times.push(performance.now() - t0);
      if (r.exitCode !== 0) {
        usage(`run ${i} failed: exit ${r.exitCode} ${r.trap ?? ""}`);
      }
    }
    times.sort((a, b) => a - b);
    const mean = times.reduce((a, b) => a + b, 0) / times.length;
    const r3 = (x) => Math.round(x * 1000) / 1000;
    console.log(JSON.stringify({
      runs: times.length,
      p50: r3(percentile(times, 50)),
      p90: r3(percentile(times, 90)),
      p99: r3(percentile(times, 99)),
      min: r3(times[0]),
      mean: r3(mean),
    }));
  } else {
    const dir = outDir ?? appDir;
    if (outDir) fs.mkdirSync(outDir, { recursive: true });
    const outFile = path.join(dir, "stdout");
    const errFile = path.join(dir, "stderr");
    const outFd = fs.openSync(outFile, "w");
    const errFd = fs.openSync(errFile, "w");
    const r = await runOnce(outFd, errFd);
    fs.closeSync(outFd);
    fs.closeSync(errFd);
    if (outDir) {
      if (r.response !== null) fs.writeFileSync(path.join(outDir, "response"), r.response);
      console.log(JSON.stringify({ exit_code: r.exitCode, trap: r.trap, responded: r.response !== null }));
    } else {
      console.log(JSON.stringify({
        exit_code: r.exitCode,
        trap: r.trap,
        response_b64: r.response === null ? null : r.response.toString("base64"),
        stdout: fs.readFileSync(outFile, "utf8"),
        stderr: fs.readFileSync(errFile, "utf8"),
      }));
    }
  }
} finally {
  fs.rmSync(appDir, { recursive: true, force: true });
}
