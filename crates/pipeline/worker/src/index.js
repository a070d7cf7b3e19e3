// The worker entry point. wrangler bundles atomvm.wasm as a compiled
// WebAssembly.Module (rule CompiledWasm) and boot.bin, the VM booted on the
// app at build time, as an ArrayBuffer (rule Data); both are set up once per
// isolate and shared by every request, cron trigger and queue batch.
// app.avm is inside the image and is not bundled.

import wasmModule from "../atomvm.wasm";
import bootImage from "../boot.bin";
import { handleRequest } from "./worker.js";
import { handleScheduled, handleQueue } from "./events.js";
// Written by `elixir-workers build` from the project's `budget` setting.
import { BUDGET as budget } from "./budget.js";

const app = { wasmModule, bootImage, budget };

export default {
  async fetch(request, env, ctx) {
    return handleRequest(request, env, ctx, app);
  },
  async scheduled(controller, env, ctx) {
    return handleScheduled(controller, env, ctx, app);
  },
  async queue(batch, env, ctx) {
    return handleQueue(batch, env, ctx, app);
  },
};
