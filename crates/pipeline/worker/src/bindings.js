// Cloudflare bindings on behalf of the VM: reads ("needs") are fulfilled
// before the next pass, writes ("effects") run after the response.
// Shapes: PROTOCOL.md. KV and D1 are here; outbound fetch, R2, queues and
// Durable Objects have a file each.

import { BlobArea } from "./bytes.js";
import { fetchNeed, NeedError, Subrequests } from "./fetch.js";
import { r2Effect, r2Need } from "./r2.js";
import { queueEffect, VERDICTS } from "./queues.js";
import { doFetchNeed, storageNeed, storageEffect } from "./durable.js";

const describe = (e) => (e && e.message ? e.message : String(e));

function kvNamespace(env, name) {
  const ns = env?.[name];
  if (!ns || typeof ns.get !== "function") {
    throw new Error(`no KV namespace bound as "${name}" (add it to kv_namespaces in wrangler.jsonc)`);
  }
  return ns;
}

function d1Database(env, name) {
  const db = env?.[name];
  if (!db || typeof db.prepare !== "function") {
    throw new Error(`no D1 database bound as "${name}" (add it to d1_databases in wrangler.jsonc)`);
  }
  return db;
}

function statement(db, sql, params) {
  const stmt = db.prepare(sql);
  return Array.isArray(params) && params.length > 0 ? stmt.bind(...params) : stmt;
}

/**
 * What the needs of one invocation share across its passes: the blob area
 * results put their bytes in, and the count of outbound fetches.
 */
export function newIo(subrequestLimit) {
  return { blobs: new BlobArea(), subrequests: new Subrequests(subrequestLimit) };
}

async function fulfilOne(need, env, io) {
  switch (need.type) {
    case "fetch":
      return await fetchNeed(need, io);
    case "do_fetch":
      return await doFetchNeed(need, env, io);
    case "do_storage_get":
    case "do_storage_list":
      return await storageNeed(need, io);
    case "r2_get":
    case "r2_head":
    case "r2_list":
      return await r2Need(need, env, io);
    case "kv_get":
      // null on a miss: the framework returns nil and the route goes on.
      return await kvNamespace(env, need.ns).get(need.key);
    case "kv_get_with_metadata": {
      const r = await kvNamespace(env, need.ns).getWithMetadata(need.key);
      return { value: r?.value ?? null, metadata: r?.metadata ?? null };
    }
    case "kv_list": {
      const opts = {};
      if (need.prefix) opts.prefix = need.prefix;
      if (need.limit) opts.limit = need.limit;
      if (need.cursor) opts.cursor = need.cursor;
      const r = await kvNamespace(env, need.ns).list(opts);
      return {
        keys: r.keys.map((k) => ({ name: k.name, expiration: k.expiration ?? null, metadata: k.metadata ?? null })),
        list_complete: r.list_complete,
        cursor: r.cursor ?? null,
      };
    }
    case "d1_query": {
      const r = await statement(d1Database(env, need.db), need.sql, need.params).all();
      return r.results;
    }
    default:
      throw new Error(`unknown need type ${JSON.stringify(need.type)}`);
  }
}

/**
 * Fulfils every need in parallel. Returns { [need.id]: {ok: value} |
 * {error: message, reason?} }; bytes of the results go to `io.blobs`.
 */
export async function fulfilNeeds(needs, env, io = newIo()) {
  const results = await Promise.all(
    needs.map(async (need) => {
      try {
        return [need.id, { ok: await fulfilOne(need, env, io) }];
      } catch (e) {
        const error = { error: describe(e) };
        if (e instanceof NeedError) error.reason = e.reason;
        return [need.id, error];
      }
    }),
  );
  return Object.fromEntries(results);
}

async function runEffect(effect, env, storage) {
  switch (effect.type) {
    case "kv_put": {
      const opts = {};
      if (effect.expiration_ttl != null) opts.expirationTtl = effect.expiration_ttl;
      if (effect.expiration != null) opts.expiration = effect.expiration;
      if (effect.metadata != null) opts.metadata = effect.metadata;
      await kvNamespace(env, effect.ns).put(effect.key, effect.value, opts);
      return;
    }
    case "kv_delete":
      await kvNamespace(env, effect.ns).delete(effect.key);
      return;
    case "d1_exec":
      await statement(d1Database(env, effect.db), effect.sql, effect.params).run();
      return;
    case "d1_batch": {
      const db = d1Database(env, effect.db);
      await db.batch(effect.statements.map((s) => statement(db, s.sql, s.params)));
      return;
    }
    case "r2_put":
    case "r2_delete":
      await r2Effect(effect, env);
      return;
    case "do_storage_put":
    case "do_storage_delete":
      await storageEffect(effect, storage);
      return;
    case "queue_send":
    case "queue_send_batch":
      await queueEffect(effect, env);
      return;
    default:
      if (VERDICTS.has(effect.type)) throw new Error(`${effect.type} outside a queue consumer's run does nothing`);
      throw new Error(`unknown effect type ${JSON.stringify(effect.type)}`);
  }
}

/**
 * Runs effects one after another, in the order the route queued them (a put
 * then a delete of the same key must stay in that order). A failing effect
 * is logged and does not stop the others. Returns how many failed.
 * `storage` is the object's storage in a run of a Durable Object.
 */
export async function runEffects(effects, env, logger = console, requestId = "", storage = null) {
  let failed = 0;
  for (const effect of effects) {
    try {
      await runEffect(effect, env, storage);
    } catch (e) {
      failed++;
      logger.error(`[${requestId}] effect ${effect.type} failed: ${describe(e)}`);
    }
  }
  return failed;
}
