// The worker entry point. wrangler bundles atomvm.wasm as a compiled
// WebAssembly.Module (rule CompiledWasm) and app.avm as an ArrayBuffer
// (rule Data); both are set up once per isolate and shared by all requests.

import wasmModule from "../atomvm.wasm";
import avm from "../app.avm";
import { handleRequest } from "./worker.js";
// Written by `elixir-workers build` from the project's `budget` setting.
import { BUDGET as budget } from "./budget.js";

const avmBytes = new Uint8Array(avm);

export default {
  async fetch(request, env, ctx) {
    return handleRequest(request, env, ctx, { wasmModule, avmBytes, budget });
  },
};
