// HTTP <-> the Elixir app: builds the request message, runs the app
// (passes.js: once per pass, binding needs fulfilled between passes), turns
// the answer into a Response and schedules write effects after it.
//
// `handleRequest` takes the compiled module and the archive as arguments so
// the same code runs under workerd (index.js) and in plain Node (tests, the
// benchmark).

import { runPasses, MAX_PASSES } from "./passes.js";
import { warmRuntime } from "./runtime.js";
import { newIo, runEffects } from "./bindings.js";
import { DEFAULT_SUBREQUESTS } from "./fetch.js";
import { readUpTo } from "./bytes.js";

export { MAX_PASSES };

/**
 * What an isolate does when it starts, before any request (app.js): boots
 * the VM from the image and runs it once without app code
 * (`warmRuntime`), then sends one request through the path every request
 * takes (its head encoded, the VM run, the answer decoded) with the head
 * marked `warm`, which the framework answers without calling the app
 * (`ElixirWorkers.Handler`). V8 then has compiled that path, the
 * interpreter's and the shim's, before the first request, which pays only
 * for what its route adds. Nothing of either run stays: every run starts
 * from the boot snapshot. Returns null, or why the start failed (the
 * first request then boots as without it).
 * @param {{wasmModule: WebAssembly.Module, bootImage: ArrayBuffer|Uint8Array, budget?: object}} app
 * @param {Console} [logger]
 * @returns {Promise<string|null>}
 */
export async function warmIsolate(app, logger = console) {
  const failed = warmRuntime(app.wasmModule, app, logger);
  if (failed !== null) return failed.trap ?? `exit ${failed.exitCode}`;
  const head = { id: "warm", pass: 1, method: "GET", url: "/", headers: {}, env: {}, warm: true };
  const outcome = await runPasses(head, new Uint8Array(0), {}, { ...app, logger, onRun: undefined }, "warm-up");
  if (outcome.failure) return `the warm-up request failed (${outcome.failure.error})`;
  if (outcome.answer.status !== 200) return `the warm-up request answered ${outcome.answer.status}`;
  return null;
}

/** Request bodies above this answer 413 without running the app. */
export const MAX_BODY_BYTES = 1024 * 1024;

const NULL_BODY_STATUSES = new Set([101, 204, 205, 304]);

function jsonResponse(status, data) {
  return new Response(JSON.stringify(data), {
    status,
    headers: { "content-type": "application/json" },
  });
}

class BodyTooLarge extends Error {}

// How much of an oversized body without a Content-Length is read and
// dropped before the answer. Cancelling the stream instead leaves the
// connection mid-body: under `wrangler dev` the next request through its
// proxy then failed with 503 "worker restarted mid-request" (found by
// `cargo xtask bench soak --chunked-413`). Past this, it is cancelled anyway.
const DRAIN_LIMIT = 64 * 1024 * 1024;

async function drain(reader, size) {
  while (size <= DRAIN_LIMIT) {
    const { done, value } = await reader.read();
    if (done) return;
    size += value.length;
  }
  await reader.cancel().catch(() => {});
}

// Reads the body, refusing more than `limit` bytes whatever content-length says.
async function readBody(request, limit) {
  if (!request.body) return new Uint8Array(0);
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) throw new BodyTooLarge();
  const reader = request.body.getReader();
  const { body, size } = await readUpTo(reader, limit);
  if (body === null) {
    await drain(reader, size);
    throw new BodyTooLarge();
  }
  return body;
}

// Whether a value is JSON data: what `vars` (any JSON type) and secrets
// (strings) are. Bindings (KV, D1, R2, queues, services) are objects with
// methods, usually of a class of their own, and stay on this side.
function isData(value, depth = 0) {
  if (value === null) return true;
  switch (typeof value) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(value);
    case "object": {
      if (depth > 32) return false;
      if (Array.isArray(value)) return value.every((v) => isData(v, depth + 1));
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return false;
      return Object.values(value).every((v) => isData(v, depth + 1));
    }
    default:
      return false;
  }
}

/** The worker's variables and secrets, with their JSON types; no bindings. */
export function appEnv(env) {
  const vars = {};
  for (const [k, v] of Object.entries(env ?? {})) {
    if (isData(v)) vars[k] = v;
  }
  return vars;
}

/**
 * Serves one request with the app.
 *
 * @param {Request} request
 * @param {object} env worker env (vars, secrets and bindings)
 * @param {{waitUntil: (p: Promise<any>) => void}} ctx
 * @param {{wasmModule: WebAssembly.Module, avmBytes?: Uint8Array, bootImage?: ArrayBuffer|Uint8Array,
 *   logger?: Console, onRun?: (ms: number) => void, budget?: {reductions?: number, memoryBytes?: number, subrequests?: number}}} app
 *   `bootImage` (boot.bin, made by `build`) starts the VM without booting
 *   it; without one, `avmBytes` is booted on the isolate's first request;
 *   `onRun`, when given, receives the duration of each VM run (benchmarks);
 *   `budget` overrides DEFAULT_BUDGET and DEFAULT_SUBREQUESTS (the
 *   project's `budget` setting)
 * @param {{event: object, storage: object}} [object] set when the request is
 *   one to a Durable Object the app defines: the run carries its `event`,
 *   reads and writes its `storage`, and its writes are in before the
 *   response is returned
 * @returns {Promise<Response>}
 */
export async function handleRequest(request, env, ctx, app, object) {
  const requestId = request.headers.get("cf-ray") ?? crypto.randomUUID();

  let body;
  try {
    body = await readBody(request, MAX_BODY_BYTES);
  } catch (e) {
    if (e instanceof BodyTooLarge) {
      return jsonResponse(413, { error: "payload_too_large", limit: MAX_BODY_BYTES, request_id: requestId });
    }
    throw e;
  }

  const url = new URL(request.url);
  const headers = {};
  request.headers.forEach((value, name) => {
    headers[name] = value;
  });
  const head = {
    id: requestId,
    pass: 1,
    method: request.method,
    url: url.pathname + url.search,
    headers,
    env: appEnv(env),
  };
  if (request.cf) head.cf = request.cf;
  let io, label = `${request.method} ${url.pathname}`;
  if (object) {
    head.event = object.event;
    io = newIo(app.budget?.subrequests ?? DEFAULT_SUBREQUESTS);
    io.storage = object.storage;
    label = `${object.event.class} ${label}`;
  }

  const outcome = await runPasses(head, body, env, app, label, io);
  if (outcome.failure) {
    const { status, ...fields } = outcome.failure;
    return jsonResponse(status, { ...fields, request_id: requestId });
  }
  const { answer } = outcome;
  if (object) {
    // Awaited here, not after the response: the next request to the object
    // must find them, and a caller that got an answer may count on them.
    const failed = await runEffects(answer.effects, env, app.logger ?? console, requestId, object.storage);
    if (failed > 0) return jsonResponse(500, { error: "effects_failed", failed, request_id: requestId });
  } else if (answer.effects.length > 0) {
    const done = runEffects(answer.effects, env, app.logger ?? console, requestId);
    if (ctx && typeof ctx.waitUntil === "function") ctx.waitUntil(done);
    else await done;
  }
  const noBody = request.method === "HEAD" || NULL_BODY_STATUSES.has(answer.status);
  return new Response(noBody ? null : answer.body, { status: answer.status, headers: answer.headers });
}
