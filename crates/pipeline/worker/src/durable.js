// Durable Objects on behalf of the VM (PROTOCOL.md, "Durable Objects"):
// calling an object from a run (the `do_fetch` need), the storage reads and
// writes of a run that serves an object, and the class `build` exports for
// every object class the app defines (durable_objects.js, generated).

import { NeedError, readLimited, MAX_RESULT_BYTES, responseHeaders } from "./fetch.js";
import { fromBase64 } from "./bytes.js";
import { handleRequest } from "./worker.js";

function namespace(env, name) {
  const ns = env?.[name];
  if (!ns || typeof ns.idFromName !== "function") {
    throw new NeedError(
      "invalid",
      `no Durable Object namespace bound as "${name}" (add it to durable_objects.bindings in wrangler.jsonc)`,
    );
  }
  return ns;
}

/**
 * Fulfils a `do_fetch` need: sends a request to the object named (or with
 * the id) in the need and answers as a `fetch` need does.
 */
export async function doFetchNeed(need, env, io) {
  const method = typeof need.method === "string" ? need.method.toUpperCase() : "GET";
  const path = typeof need.path === "string" && need.path.startsWith("/") ? need.path : "/";
  const byId = typeof need.object_id === "string";
  const who = byId ? `id ${need.object_id}` : `"${need.object_name}"`;
  const what = `Durable Object ${need.binding} ${who}: ${method} ${path}`;
  const ns = namespace(env, need.binding);
  let stub, request;
  try {
    const id = byId ? ns.idFromString(need.object_id) : ns.idFromName(String(need.object_name));
    stub = ns.get(id);
    const init = { method, headers: need.headers ?? {} };
    if (need.body_base64 != null) init.body = fromBase64(need.body_base64);
    // The host is not looked at by the object; the path and query are.
    request = new Request("https://durable-object" + path, init);
  } catch (e) {
    throw new NeedError("invalid", `${what}: ${e && e.message ? e.message : e}`);
  }
  io.subrequests.take(what);
  try {
    const res = await stub.fetch(request);
    const body = await readLimited(res.body, MAX_RESULT_BYTES, what);
    return { status: res.status, headers: responseHeaders(res.headers), body: io.blobs.add(body) };
  } catch (e) {
    if (e instanceof NeedError) throw e;
    throw new NeedError("unreachable", `${what}: ${e && e.message ? e.message : e}`);
  }
}

function storageOf(io, what) {
  if (!io.storage) {
    throw new Error(`${what}: storage is only there in a run of a Durable Object the app defines`);
  }
  return io.storage;
}

/** Fulfils `do_storage_get` and `do_storage_list` from the object's storage. */
export async function storageNeed(need, io) {
  const storage = storageOf(io, need.type);
  if (need.type === "do_storage_get") {
    const value = await storage.get(need.key);
    return value === undefined ? null : value;
  }
  const opts = {};
  for (const name of ["prefix", "start", "end", "limit", "reverse"]) {
    if (need[name] != null) opts[name] = need[name];
  }
  return Object.fromEntries(await storage.list(opts));
}

/** Applies `do_storage_put` and `do_storage_delete`. */
export async function storageEffect(effect, storage) {
  if (!storage) throw new Error(`${effect.type}: storage is only there in a run of a Durable Object the app defines`);
  if (effect.type === "do_storage_put") await storage.put(effect.key, effect.value);
  else await storage.delete(effect.key);
}

/**
 * The class the worker exports for the object class `name`: its `fetch`
 * runs the app on the request with the object's event and storage. Only
 * storage is awaited between passes (unless the run also reads other
 * bindings), so the platform's input gate keeps other requests to the
 * object out until the run's writes are in.
 */
export function objectClass(name, app) {
  return class {
    constructor(ctx, env) {
      this.ctx = ctx;
      this.env = env;
    }

    async fetch(request) {
      const id = this.ctx.id;
      const event = { type: "durable_object", class: name, id: id.toString(), name: id.name ?? null };
      return handleRequest(request, this.env, null, app, { event, storage: this.ctx.storage });
    }
  };
}
