// Test helpers: builds the WASI probe with clang (as a command and as a reactor), fake KV, D1, R2 and
// queue bindings, a ctx that collects waitUntil promises and a logger that records lines.

import { execFileSync } from "node:child_process";
import http from "node:http";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));

const probes = new Map();

// Compiles fixtures/wasi_probe.c for wasm32-wasi with extra clang flags,
// once per process and flavour.
function buildProbe(name, flags, sources = []) {
  if (probes.has(name)) return probes.get(name);
  const clang = process.env.CLANG ?? "clang-16";
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wasi-probe-"));
  const out = path.join(dir, "probe.wasm");
  try {
    execFileSync(clang, ["--target=wasm32-wasi", "-O2", "-Wall", "-Werror", ...flags, "-o", out, path.join(here, "fixtures", "wasi_probe.c"), ...sources], {
      stdio: ["ignore", "pipe", "pipe"],
    });
  } catch (e) {
    throw new Error(`building the WASI probe with ${clang} failed (install clang-16, lld-16, wasi-libc): ${e.stderr ?? e.message}`);
  }
  const module = new WebAssembly.Module(fs.readFileSync(out));
  fs.rmSync(dir, { recursive: true, force: true });
  probes.set(name, module);
  return module;
}

/** The probe as a WASI command (`_start`): for the WASI layer's tests. */
export function probeModule() {
  return buildProbe("command", []);
}

/**
 * The probe as a reactor with atomvm.wasm's interface (imported memory,
 * `ew_boot`, `ew_run`, the exported `__stack_pointer`, and
 * `ew_heap_high_water` and `ew_set_budget` from the runtime's own
 * heap_mark.c and budget.c): stands in for the VM on the request path.
 */
export function vmProbeModule() {
  const wraps = ["malloc", "calloc", "realloc", "aligned_alloc", "posix_memalign"].map((f) => `-Wl,--wrap=${f}`);
  return buildProbe(
    "reactor",
    [
      "-DPROBE_REACTOR",
      "-mexec-model=reactor",
      "-Xlinker",
      "--import-memory=elixir_workers,memory",
      "-Wl,--export-memory",
      "-Wl,--export=__stack_pointer",
      ...wraps,
    ],
    ["heap_mark.c", "budget.c"].map((f) => path.join(here, "../../../runtime/atomvm-wasi/src", f)),
  );
}

/** key=value lines of the probe's stdout as an object. */
export function report(lines) {
  const out = {};
  for (const line of lines) {
    const eq = line.indexOf("=");
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

/**
 * An archive the VM probe (vmProbeModule) answers from without an app: its
 * first answer on pass 1, the second once the head carries bindings.
 */
export function canned(first, second = "") {
  const enc = new TextEncoder();
  const bytes = (x) => (typeof x === "string" ? enc.encode(x) : x);
  const a = bytes(first);
  const b = bytes(second);
  const out = new Uint8Array(7 + a.length + 1 + b.length);
  out.set(enc.encode("CANNED\n"), 0);
  out.set(a, 7);
  out[7 + a.length] = 0;
  out.set(b, 8 + a.length);
  return out;
}

export function recordingLogger() {
  const logger = { out: [], err: [] };
  logger.log = (line) => logger.out.push(line);
  logger.error = (line) => logger.err.push(line);
  return logger;
}

export function collectingCtx() {
  const ctx = { promises: [] };
  ctx.waitUntil = (p) => ctx.promises.push(p);
  ctx.settle = () => Promise.all(ctx.promises);
  return ctx;
}

/** An in-memory KV namespace with the Workers KV API subset the shim uses. */
export class FakeKV {
  constructor(entries = {}) {
    this.map = new Map(Object.entries(entries).map(([k, v]) => [k, typeof v === "string" ? { value: v, metadata: null } : v]));
    this.calls = [];
  }
  async get(key) {
    this.calls.push(["get", key]);
    return this.map.get(key)?.value ?? null;
  }
  async getWithMetadata(key) {
    this.calls.push(["getWithMetadata", key]);
    const e = this.map.get(key);
    return { value: e?.value ?? null, metadata: e?.metadata ?? null };
  }
  async list(opts = {}) {
    this.calls.push(["list", opts]);
    const keys = [...this.map.keys()].filter((k) => !opts.prefix || k.startsWith(opts.prefix)).sort();
    return { keys: keys.map((name) => ({ name, metadata: this.map.get(name).metadata })), list_complete: true };
  }
  async put(key, value, opts = {}) {
    this.calls.push(["put", key, value, opts]);
    this.map.set(key, { value, metadata: opts.metadata ?? null });
  }
  async delete(key) {
    this.calls.push(["delete", key]);
    this.map.delete(key);
  }
}

/** A D1 stand-in: a table of users and a log of statements. */
export class FakeD1 {
  constructor(rows = []) {
    this.rows = rows;
    this.log = [];
  }
  prepare(sql) {
    const db = this;
    const stmt = {
      sql,
      params: [],
      bind(...params) {
        return { ...stmt, params };
      },
      async all() {
        db.log.push(["all", this.sql, this.params]);
        if (/WHERE id = \?/.test(this.sql)) return { results: db.rows.filter((r) => String(r.id) === String(this.params[0])) };
        return { results: db.rows };
      },
      async run() {
        db.log.push(["run", this.sql, this.params]);
        return { success: true };
      },
    };
    return stmt;
  }
  async batch(stmts) {
    this.log.push(["batch", stmts.map((s) => [s.sql, s.params])]);
    return stmts.map(() => ({ success: true }));
  }
}

/** An in-memory R2 bucket with the subset of the R2 API the shim uses. */
export class FakeR2 {
  constructor() {
    this.objects = new Map();
    this.calls = [];
  }
  #object(key, entry, range) {
    return {
      key,
      size: entry.bytes.length,
      etag: `etag-${key}`,
      version: "v1",
      uploaded: new Date(0),
      httpMetadata: entry.httpMetadata,
      customMetadata: entry.customMetadata,
      range,
    };
  }
  async put(key, value, options = {}) {
    this.calls.push(["put", key, options]);
    const bytes = typeof value === "string" ? new TextEncoder().encode(value) : new Uint8Array(value);
    this.objects.set(key, { bytes, httpMetadata: options.httpMetadata ?? {}, customMetadata: options.customMetadata ?? {} });
  }
  async get(key, options = {}) {
    this.calls.push(["get", key, options]);
    const entry = this.objects.get(key);
    if (!entry) return null;
    let { bytes } = entry;
    const r = options.range;
    if (r && r.suffix !== undefined) bytes = bytes.subarray(bytes.length - r.suffix);
    else if (r) bytes = bytes.subarray(r.offset ?? 0, r.length === undefined ? undefined : (r.offset ?? 0) + r.length);
    const object = this.#object(key, entry, r);
    object.body = new Response(bytes).body;
    return object;
  }
  async head(key) {
    this.calls.push(["head", key]);
    const entry = this.objects.get(key);
    return entry ? this.#object(key, entry) : null;
  }
  async list(options = {}) {
    this.calls.push(["list", options]);
    const keys = [...this.objects.keys()].filter((k) => !options.prefix || k.startsWith(options.prefix)).sort();
    const from = options.cursor ? Number(options.cursor) : 0;
    const limit = options.limit ?? 1000;
    const page = keys.slice(from, from + limit);
    const truncated = from + limit < keys.length;
    return {
      objects: page.map((k) => this.#object(k, this.objects.get(k))),
      truncated,
      cursor: truncated ? String(from + limit) : undefined,
      delimitedPrefixes: [],
    };
  }
  async delete(keys) {
    this.calls.push(["delete", keys]);
    for (const k of Array.isArray(keys) ? keys : [keys]) this.objects.delete(k);
  }
}

/** A queue producer that records what was sent. */
export class FakeQueue {
  constructor() {
    this.sent = [];
  }
  async send(body, options) {
    this.sent.push({ body, ...options });
  }
  async sendBatch(messages, options) {
    this.sent.push({ batch: messages, ...options });
  }
}

/** A consumer's batch as the platform hands it over, recording verdicts. */
export function fakeBatch(queue, bodies) {
  const verdicts = [];
  return {
    queue,
    verdicts,
    messages: bodies.map((body, i) => ({
      id: `m${i + 1}`,
      timestamp: new Date(1_700_000_000_000 + i),
      attempts: 1,
      body,
      ack: () => verdicts.push(["ack", `m${i + 1}`]),
      retry: (options) => verdicts.push(["retry", `m${i + 1}`, options]),
    })),
    ackAll: () => verdicts.push(["ackAll"]),
    retryAll: (options) => verdicts.push(["retryAll", options]),
  };
}

/**
 * Checks an AppRuntime just booted: every nonzero byte of its memory above
 * the dense snapshot lies inside its `tail` ranges (a scan of every word).
 */
export function assertTailCoversMemory(rt) {
  const bytes = new Uint8Array(rt.memory.buffer);
  const from = rt.snapshot.length;
  const words = new BigUint64Array(bytes.buffer, from, (bytes.length - from) / 8);
  for (let i = 0; i < words.length; i++) {
    if (words[i] === 0n) continue;
    const at = from + i * 8;
    const inside = rt.tail.some((r) => at >= r.at && at + 8 <= r.at + r.data.length);
    if (!inside) throw new Error(`nonzero word at ${at} above the snapshot (${from}) outside the tail ${JSON.stringify(rt.tail.map((r) => [r.at, r.data.length]))}`);
  }
}

/** Every byte value once, in order. */
export const ALL_BYTES = Uint8Array.from({ length: 256 }, (_, i) => i);

/**
 * An HTTP server on 127.0.0.1 for outbound-fetch tests: /bytes answers
 * ALL_BYTES with two cookies, /slow answers after 2 s, /missing 404,
 * /name?key=K answers K, any other path echoes the request body. `close()`
 * stops it.
 */
export async function upstream() {
  const seen = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      const url = new URL(req.url, "http://upstream");
      const path = url.pathname;
      if (path === "/bytes") {
        res.writeHead(200, { "content-type": "application/x-all", "set-cookie": ["a=1", "b=2"] });
        res.end(Buffer.from(ALL_BYTES));
      } else if (path === "/slow") {
        setTimeout(() => res.end("late"), 2000).unref();
      } else if (path === "/name") {
        res.end(url.searchParams.get("key") ?? "");
      } else if (path === "/missing") {
        res.writeHead(404);
        res.end("no");
      } else {
        res.writeHead(200, { "content-type": "application/octet-stream" });
        res.end(body);
      }
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  const close = () => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  };
  return { base, seen, close };
}
