// R2 buckets on behalf of the VM: the r2_* needs and effects (PROTOCOL.md).

import { fromBase64 } from "./bytes.js";
import { MAX_RESULT_BYTES, readLimited } from "./fetch.js";

function r2Bucket(env, name) {
  const bucket = env?.[name];
  if (!bucket || typeof bucket.head !== "function" || typeof bucket.put !== "function") {
    throw new Error(`no R2 bucket bound as "${name}" (add it to r2_buckets in wrangler.jsonc)`);
  }
  return bucket;
}

// R2 names HTTP metadata in camelCase; the app sees and gives snake_case.
const HTTP_METADATA = [
  ["contentType", "content_type"],
  ["contentLanguage", "content_language"],
  ["contentDisposition", "content_disposition"],
  ["contentEncoding", "content_encoding"],
  ["cacheControl", "cache_control"],
  ["cacheExpiry", "cache_expiry"],
];

function httpMetadataOut(meta) {
  const out = {};
  for (const [js, app] of HTTP_METADATA) {
    const v = meta?.[js];
    if (v === undefined || v === null) continue;
    out[app] = v instanceof Date ? v.toISOString() : v;
  }
  return out;
}

function httpMetadataIn(meta) {
  const out = {};
  for (const [js, app] of HTTP_METADATA) {
    const v = meta?.[app];
    if (v === undefined || v === null) continue;
    out[js] = js === "cacheExpiry" ? new Date(v) : v;
  }
  return out;
}

/** An R2Object's description, without its body. */
function describe(object) {
  return {
    key: object.key,
    size: object.size,
    etag: object.etag,
    version: object.version ?? null,
    uploaded: object.uploaded instanceof Date ? object.uploaded.toISOString() : (object.uploaded ?? null),
    http_metadata: httpMetadataOut(object.httpMetadata),
    custom_metadata: object.customMetadata ?? {},
  };
}

/** R2's range options from the need's: {offset, length} or {suffix}. */
function rangeOption(range) {
  if (range === null || typeof range !== "object") return undefined;
  if (Number.isInteger(range.suffix)) return { suffix: range.suffix };
  const out = {};
  if (Number.isInteger(range.offset)) out.offset = range.offset;
  if (Number.isInteger(range.length)) out.length = range.length;
  return out;
}

/**
 * Fulfils an r2_* need; `io.blobs` receives the bytes of an r2_get.
 * @returns {Promise<any>}
 */
export async function r2Need(need, env, io) {
  const bucket = r2Bucket(env, need.bucket);
  switch (need.type) {
    case "r2_get": {
      const options = {};
      const range = rangeOption(need.range);
      if (range) options.range = range;
      const object = await bucket.get(need.key, options);
      // A miss: the framework returns nil and the route answers normally.
      if (object === null) return null;
      const what = `r2_get ${need.bucket} ${need.key}`;
      const body = await readLimited(object.body, MAX_RESULT_BYTES, what + " (read it in ranges)");
      const out = describe(object);
      out.body = io.blobs.add(body);
      if (range) out.range = object.range ?? range;
      return out;
    }
    case "r2_head": {
      const object = await bucket.head(need.key);
      return object === null ? null : describe(object);
    }
    case "r2_list": {
      const options = { include: ["httpMetadata", "customMetadata"] };
      for (const name of ["prefix", "cursor", "limit", "delimiter"]) {
        if (need[name] !== undefined && need[name] !== null && need[name] !== "") options[name] = need[name];
      }
      const listed = await bucket.list(options);
      return {
        objects: listed.objects.map(describe),
        truncated: listed.truncated,
        cursor: listed.truncated ? listed.cursor : null,
        delimited_prefixes: listed.delimitedPrefixes ?? [],
      };
    }
    default:
      throw new Error(`unknown need type ${JSON.stringify(need.type)}`);
  }
}

/** Runs an r2_put or r2_delete effect. */
export async function r2Effect(effect, env) {
  const bucket = r2Bucket(env, effect.bucket);
  switch (effect.type) {
    case "r2_put": {
      const options = {};
      if (effect.http_metadata) options.httpMetadata = httpMetadataIn(effect.http_metadata);
      if (effect.custom_metadata) options.customMetadata = effect.custom_metadata;
      await bucket.put(effect.key, fromBase64(effect.body_base64 ?? ""), options);
      return;
    }
    case "r2_delete":
      await bucket.delete(effect.keys);
      return;
    default:
      throw new Error(`unknown effect type ${JSON.stringify(effect.type)}`);
  }
}
