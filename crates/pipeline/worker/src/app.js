// What every run of the app needs: the VM's module, the boot image and the
// budget. wrangler bundles atomvm.wasm as a compiled WebAssembly.Module
// (rule CompiledWasm) and boot.bin, the VM booted on the app at build time,
// as an ArrayBuffer (rule Data); both are set up once per isolate and
// shared by every request, cron trigger, queue batch and Durable Object.
// app.avm is inside the image and is not bundled.

import wasmModule from "../atomvm.wasm";
import bootImage from "../boot.bin";
// Written by `elixir-workers build` from the project's `budget` setting.
import { BUDGET as budget } from "./budget.js";
import { warmIsolate } from "./worker.js";

export const app = { wasmModule, bootImage, budget };

// The isolate starts here, before its first request (on Workers, while the
// connection that brings it is still being set up): the boot image goes
// into memory and the VM runs without app code, once bare and once on a
// request the framework answers itself, so that V8 compiles the
// interpreter and the request path then rather than in the first request
// (worker.js, `warmIsolate`). It runs to its end here: nothing in it waits
// on I/O. A failure only costs that: the first request boots again and
// says why.
warmIsolate(app).then((failed) => {
  if (failed !== null) console.error(`starting the VM ahead of requests failed (${failed})`);
});
