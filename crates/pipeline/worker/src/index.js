// The worker entry point: HTTP requests, cron triggers and queue batches go
// to the app set up in app.js.

import { handleRequest } from "./worker.js";
import { handleScheduled, handleQueue } from "./events.js";
import { app } from "./app.js";
// Written by `elixir-workers build`: a class for every Durable Object class
// the app defines (`class_name` of a binding in wrangler.jsonc without
// `script_name`), which the platform needs exported from this module.
export * from "./durable_objects.js";

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
