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
// Written by `elixir-workers build`: the assets binding to fall through to
// when the project runs the app before its static assets, else null.
import { ASSETS } from "./assets.js";

const app = { wasmModule, bootImage, budget };

// App first: a GET or HEAD the app answers 404 goes to Workers Static
// Assets, whose answer wins unless it has no such file either (then the
// app's own 404 stands). Assets first needs nothing here: the platform
// serves a matching file before the worker runs.
async function orAsset(request, env, response) {
  const assets = ASSETS && env[ASSETS.binding];
  if (!assets || response.status !== 404) return response;
  if (request.method !== "GET" && request.method !== "HEAD") return response;
  const asset = await assets.fetch(request);
  return asset.status === 404 ? response : asset;
}

export default {
  async fetch(request, env, ctx) {
    return orAsset(request, env, await handleRequest(request, env, ctx, app));
  },
  async scheduled(controller, env, ctx) {
    return handleScheduled(controller, env, ctx, app);
  },
  async queue(batch, env, ctx) {
    return handleQueue(batch, env, ctx, app);
  },
};
