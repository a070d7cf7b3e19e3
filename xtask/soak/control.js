// The soak app's routes in plain JavaScript, with no VM: what `cargo xtask
// bench soak --control` serves, so that the figures of wrangler dev and
// workerd alone can be told from those of the Elixir worker.

const MAX_BODY = 1024 * 1024;

function json(status, value) {
  return new Response(JSON.stringify(value), {
    status,
    headers: { "content-type": "application/json" },
  });
}

/** The body, or null past MAX_BODY: read as the worker's shim reads it. */
async function readBody(request) {
  if (!request.body) return new Uint8Array(0);
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > MAX_BODY) return null;
  const reader = request.body.getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BODY) {
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  const body = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    body.set(c, at);
    at += c.byteLength;
  }
  return body;
}

export default {
  async fetch(request, env, ctx) {
    const id = crypto.randomUUID();
    const body = await readBody(request);
    if (body === null) return json(413, { error: "payload_too_large", limit: MAX_BODY, request_id: id });
    const { pathname } = new URL(request.url);
    const kv = pathname.match(/^\/kv\/([^/]+)$/);
    if (request.method === "GET" && pathname === "/health") return json(200, { status: "ok" });
    if (request.method === "GET" && kv) {
      const value = await env.SOAK.get(kv[1]);
      if (value === null) return json(404, { error: "not_found", key: kv[1] });
      return new Response(value, { headers: { "content-type": "text/plain; charset=utf-8" } });
    }
    if (request.method === "PUT" && kv) {
      // After the response, as the worker runs a route's KV writes.
      ctx.waitUntil(env.SOAK.put(kv[1], new TextDecoder().decode(body)));
      return json(202, { stored: kv[1], bytes: body.byteLength });
    }
    if (request.method === "POST" && pathname === "/echo") {
      return new Response(body, { headers: { "content-type": "application/octet-stream" } });
    }
    if (request.method === "GET" && pathname === "/crash") {
      console.error(`[${id}] soak: deliberate crash`);
      return json(500, { error: "internal_error", request_id: id });
    }
    return json(404, { error: "not_found" });
  },
};
