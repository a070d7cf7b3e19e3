// Test helpers: builds the WASI probe with clang (as a command and as a reactor), fake KV and D1 bindings,
// a ctx that collects waitUntil promises and a logger that records lines.

import { execFileSync } from "node:child_process";
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
 * `ew_boot`, `ew_run`, and `ew_heap_high_water` and `ew_set_budget` from the
 * runtime's own heap_mark.c and budget.c): stands in for the VM on the
 * request path.
 */
export function vmProbeModule() {
  const wraps = ["malloc", "calloc", "realloc", "aligned_alloc", "posix_memalign"].map((f) => `-Wl,--wrap=${f}`);
  return buildProbe(
    "reactor",
    ["-DPROBE_REACTOR", "-mexec-model=reactor", "-Xlinker", "--import-memory=elixir_workers,memory", "-Wl,--export-memory", ...wraps],
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
