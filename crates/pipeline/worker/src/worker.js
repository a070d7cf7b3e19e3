// HTTP <-> the Elixir app: builds the request message, runs the VM once per
// pass, fulfils binding needs between passes, turns the answer into a
// Response and schedules write effects after it.
//
// `handleRequest` takes the compiled module and the archive as arguments so
// the same code runs under workerd (index.js) and in plain Node (tests, the
// benchmark).

import { runInstance, DEFAULT_BUDGET, EXIT_BUDGET } from "./runtime.js";
import { encodeRequest, decodeResponse, ProtocolError } from "./protocol.js";
import { fulfilNeeds, runEffects } from "./bindings.js";

/** Request bodies above this answer 413 without running the app. */
export const MAX_BODY_BYTES = 1024 * 1024;
/** A route may ask for bindings this many times minus one; then it is stopped. */
export const MAX_PASSES = 4;

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
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) {
      await drain(reader, size);
      throw new BodyTooLarge();
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0];
  const body = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    body.set(c, at);
    at += c.length;
  }
  return body;
}

// Worker variables and secrets are strings; bindings (KV, D1, ...) are
// objects and stay on this side.
function stringVars(env) {
  const vars = {};
  for (const [k, v] of Object.entries(env ?? {})) {
    if (typeof v === "string") vars[k] = v;
  }
  return vars;
}

/**
 * Serves one request with the app.
 *
 * @param {Request} request
 * @param {object} env worker env (vars, secrets, KV namespaces, D1 databases)
 * @param {{waitUntil: (p: Promise<any>) => void}} ctx
 * @param {{wasmModule: WebAssembly.Module, avmBytes?: Uint8Array, bootImage?: ArrayBuffer|Uint8Array,
 *   logger?: Console, onRun?: (ms: number) => void, budget?: {reductions?: number, memoryBytes?: number}}} app
 *   `bootImage` (boot.bin, made by `build`) starts the VM without booting
 *   it; without one, `avmBytes` is booted on the isolate's first request;
 *   `onRun`, when given, receives the duration of each VM run (benchmarks);
 *   `budget` overrides DEFAULT_BUDGET (the project's `budget` setting)
 * @returns {Promise<Response>}
 */
export async function handleRequest(
  request,
  env,
  ctx,
  { wasmModule, avmBytes, bootImage, logger = console, onRun, budget },
) {
  const runBudget = { ...DEFAULT_BUDGET, ...budget };
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
    env: stringVars(env),
  };
  if (request.cf) head.cf = request.cf;

  const bindings = {};
  for (let pass = 1; pass <= MAX_PASSES; pass++) {
    head.pass = pass;
    if (pass > 1) head.bindings = bindings;

    const stdin = encodeRequest(head, body);
    const started = onRun ? performance.now() : 0;
    const run = runInstance(wasmModule, { avmBytes, bootImage }, stdin, logger, runBudget);
    if (onRun) onRun(performance.now() - started);
    if (run.exitCode === EXIT_BUDGET) {
      // The VM said which budget on stderr (already logged); the run's
      // response, if any, is from before it ran away and is not sent.
      logger.error(`[${requestId}] ${request.method} ${url.pathname}: stopped by its budget`);
      return jsonResponse(500, { error: "budget_exceeded", request_id: requestId });
    }
    if (run.response === null) {
      const how = run.trap !== null ? `trapped: ${run.trap}` : `exited with code ${run.exitCode}`;
      logger.error(`[${requestId}] ${request.method} ${url.pathname}: the VM ${how} without a response`);
      return jsonResponse(500, { error: "internal_error", request_id: requestId });
    }

    let answer;
    try {
      answer = decodeResponse(run.response);
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      logger.error(`[${requestId}] ${request.method} ${url.pathname}: ${e.message}`);
      return jsonResponse(500, { error: "internal_error", request_id: requestId });
    }

    if (answer.needs) {
      if (pass === MAX_PASSES) {
        const asked = answer.needs.map((n) => n.type + " " + (n.key ?? n.sql ?? "")).join(", ");
        logger.error(
          `[${requestId}] ${request.method} ${url.pathname}: still asking for bindings after ${MAX_PASSES} passes ` +
            `(last asked: ${asked}); a route may read at most ${MAX_PASSES - 1} times in sequence`,
        );
        return jsonResponse(500, { error: "too_many_binding_passes", passes: MAX_PASSES, request_id: requestId });
      }
      Object.assign(bindings, await fulfilNeeds(answer.needs, env));
      continue;
    }

    if (answer.effects.length > 0) {
      const done = runEffects(answer.effects, env, logger, requestId);
      if (ctx && typeof ctx.waitUntil === "function") ctx.waitUntil(done);
      else await done;
    }
    const noBody = request.method === "HEAD" || NULL_BODY_STATUSES.has(answer.status);
    return new Response(noBody ? null : answer.body, { status: answer.status, headers: answer.headers });
  }
  throw new Error("unreachable: the pass loop always returns");
}
