// Outbound HTTP on behalf of the VM: the `fetch` need (PROTOCOL.md).
//
// Failures a route may want to handle (a timeout, a refused connection, the
// subrequest limit) are NeedErrors: their `reason` goes to the framework
// with the message, and ElixirWorkers.Fetch returns them instead of raising.

import { fromBase64, readUpTo } from "./bytes.js";

/** Outbound fetches one invocation may make: the Workers Free plan's limit. */
export const DEFAULT_SUBREQUESTS = 50;
/** How long a fetch may take, body included, unless the need says otherwise. */
export const DEFAULT_FETCH_TIMEOUT_MS = 30_000;
/**
 * The most bytes one result hands to the VM (a fetched body, an R2 object):
 * they are copied into its memory, whose heap budget is 64 MiB by default.
 */
export const MAX_RESULT_BYTES = 16 * 1024 * 1024;

/** A failed read with a reason the app can act on. */
export class NeedError extends Error {
  constructor(reason, message) {
    super(message);
    this.reason = reason;
  }
}

/**
 * Counts the outbound fetches of one invocation against its limit (0 = none).
 */
export class Subrequests {
  constructor(limit = DEFAULT_SUBREQUESTS) {
    this.limit = limit;
    this.used = 0;
  }

  take(what) {
    if (this.limit > 0 && this.used >= this.limit) {
      throw new NeedError(
        "subrequest_limit",
        `${what}: this invocation already made ${this.used} subrequests, the limit ` +
          `(Workers Free allows 50, Paid 10,000; set "budget": {"subrequests": N} in elixir-workers.json)`,
      );
    }
    this.used++;
  }
}

/**
 * Reads a body, refusing more than `limit` bytes.
 * @returns {Promise<Uint8Array>}
 */
export async function readLimited(stream, limit, what) {
  if (stream === null) return new Uint8Array(0);
  const reader = stream.getReader();
  const { body } = await readUpTo(reader, limit);
  if (body === null) {
    await reader.cancel().catch(() => {});
    throw new NeedError("too_large", `${what}: the body is larger than ${limit} bytes, the most a result may hand the app`);
  }
  return body;
}

/** Response headers as the framework gets them: set-cookie always a list. */
export function responseHeaders(headers) {
  const out = {};
  for (const [name, value] of headers) {
    if (name !== "set-cookie") out[name] = value;
  }
  // Joining cookies with ", " would make them unreadable: always a list.
  const cookies = typeof headers.getSetCookie === "function" ? headers.getSetCookie() : [];
  if (cookies.length > 0) out["set-cookie"] = cookies;
  return out;
}

/**
 * Fulfils a `fetch` need: `{status, headers, url, body: [offset, size]}`,
 * the body's bytes added to `io.blobs`.
 * @param {object} need
 * @param {{blobs: import("./bytes.js").BlobArea, subrequests: Subrequests}} io
 */
export async function fetchNeed(need, io) {
  const method = typeof need.method === "string" ? need.method : "GET";
  const what = `fetch ${method} ${need.url}`;
  let request;
  try {
    const init = { method, headers: need.headers ?? {}, redirect: need.redirect ?? "follow" };
    if (need.body_base64 != null) init.body = fromBase64(need.body_base64);
    request = new Request(need.url, init);
  } catch (e) {
    throw new NeedError("invalid", `${what}: ${e && e.message ? e.message : e}`);
  }
  io.subrequests.take(what);

  const timeout = Number.isInteger(need.timeout_ms) && need.timeout_ms >= 0 ? need.timeout_ms : DEFAULT_FETCH_TIMEOUT_MS;
  const controller = new AbortController();
  let timedOut = false;
  const timer =
    timeout > 0
      ? setTimeout(() => {
          timedOut = true;
          controller.abort();
        }, timeout)
      : null;
  try {
    const res = await fetch(request, { signal: controller.signal });
    const body = await readLimited(res.body, MAX_RESULT_BYTES, what);
    return { status: res.status, headers: responseHeaders(res.headers), url: res.url || need.url, body: io.blobs.add(body) };
  } catch (e) {
    if (e instanceof NeedError) throw e;
    if (timedOut) throw new NeedError("timeout", `${what}: no complete answer within ${timeout} ms`);
    const message = e && e.message ? e.message : String(e);
    // The platform's own count, should it stop a fetch before ours does.
    if (/too many subrequests/i.test(message)) throw new NeedError("subrequest_limit", `${what}: ${message}`);
    throw new NeedError("network", `${what}: ${message}`);
  } finally {
    if (timer !== null) clearTimeout(timer);
  }
}
