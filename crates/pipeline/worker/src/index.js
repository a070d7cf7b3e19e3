// The worker entry point: HTTP requests, cron triggers and queue batches go
// to the app set up in app.js.

import { handleRequest } from "./worker.js";
import { handleScheduled, handleQueue } from "./events.js";
import { app } from "./app.js";
// Written by `elixir-workers build`: the assets binding to fall through to
// when the project runs the app before its static assets, else null.
import { ASSETS } from "./assets.js";
// Written by `elixir-workers build`: a class for every Durable Object class
// the app defines (`class_name` of a binding in wrangler.jsonc without
// `script_name`), which the platform needs exported from this module.
export * from "./durable_objects.js";

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
