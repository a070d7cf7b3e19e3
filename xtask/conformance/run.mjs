// Runs doctests on a built conformance worker, for `cargo xtask conformance`:
//
//   node run.mjs WORKER_DIR ID...
//
// WORKER_DIR is a project's _build/worker/. Each ID is one request,
// GET /run/ID, through the worker's own handleRequest, atomvm.wasm and
// boot.bin (a VM reset to the boot snapshot per request, as in production),
// so a test that crashes the VM or logs an unresolved call is told apart
// from the others. One JSON line per test is written as soon as it is done:
// {"id", "status", "body", "logs"}. The caller
// kills this process when a test hangs and starts it again after that test.

import { readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [worker, ...ids] = process.argv.slice(2);
const { handleRequest } = await import(pathToFileURL(join(worker, "src/worker.js")).href);
const wasmModule = await WebAssembly.compile(readFileSync(join(worker, "atomvm.wasm")));
const bootImage = new Uint8Array(readFileSync(join(worker, "boot.bin")));

for (const id of ids) {
  const logs = [];
  const collect = (...parts) => logs.push(parts.map(String).join(" "));
  const logger = { log: collect, info: collect, warn: collect, error: collect, debug: collect };
  let status = 0;
  let body = "";
  try {
    const res = await handleRequest(
      new Request(`http://localhost/run/${id}`),
      {},
      { waitUntil() {} },
      { wasmModule, bootImage, logger },
    );
    status = res.status;
    body = await res.text();
  } catch (e) {
    logs.push(`handleRequest threw: ${e?.stack ?? e}`);
  }
  // Synchronous, so a line is out before the caller may kill this process.
  writeSync(1, JSON.stringify({ id: Number(id), status, body, logs }) + "\n");
}
