// The worker entry point. wrangler bundles atomvm.wasm as a compiled
// WebAssembly.Module (rule CompiledWasm) and boot.bin, the VM booted on the
// app at build time, as an ArrayBuffer (rule Data); both are set up once per
// isolate and shared by all requests. app.avm is inside the image and is not
// bundled.

import wasmModule from "../atomvm.wasm";
import bootImage from "../boot.bin";
import { handleRequest } from "./worker.js";
// Written by `elixir-workers build` from the project's `budget` setting.
import { BUDGET as budget } from "./budget.js";

export default {
  async fetch(request, env, ctx) {
    return handleRequest(request, env, ctx, { wasmModule, bootImage, budget });
  },
};
