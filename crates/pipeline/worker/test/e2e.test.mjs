// End to end on the real runtime: the test app (crates/pipeline/framework/test/support)
// packed with the real AtomVM stdlib and served by the real atomvm.wasm
// through the shim's request path, with fake KV and D1 bindings.
//
// Run by tests/worker.rs, which builds the archive and the
// boot image as `build` does and sets E2E_WASM and E2E_AVM (the runtime's
// module and the archive) and E2E_BOOT_WASM and E2E_BOOT_IMAGE (the worker's
// module with its build id, and boot.bin); without them every test here is
// skipped. Requests are served the way a built worker serves them, from the
// boot image.
import test from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import { handleRequest, warmIsolate, MAX_BODY_BYTES, MAX_PASSES } from "../src/worker.js";
import { handleScheduled, handleQueue } from "../src/events.js";
import {
  recordingLogger,
  collectingCtx,
  FakeKV,
  FakeD1,
  FakeR2,
  FakeQueue,
  fakeBatch,
  upstream,
  ALL_BYTES,
  assertTailCoversMemory,
} from "./helpers.mjs";
import { AppRuntime, appRuntime, warmRuntime } from "../src/runtime.js";

const { E2E_WASM: wasmPath, E2E_AVM: avmPath, E2E_BOOT_WASM: bootWasmPath, E2E_BOOT_IMAGE: imagePath } = process.env;
const skip =
  !wasmPath || !avmPath || !bootWasmPath || !imagePath
    ? "no AtomVM runtime (E2E_WASM/E2E_AVM/E2E_BOOT_WASM/E2E_BOOT_IMAGE not set)"
    : false;

let app = null;
let booting = null;
// What a built worker has: the module carrying the build id and boot.bin.
function getApp() {
  app ??= {
    wasmModule: new WebAssembly.Module(fs.readFileSync(bootWasmPath)),
    bootImage: new Uint8Array(fs.readFileSync(imagePath)),
  };
  return app;
}
// The runtime's own module and the archive, booted in the isolate.
function getBooting() {
  booting ??= {
    wasmModule: new WebAssembly.Module(fs.readFileSync(wasmPath)),
    avmBytes: new Uint8Array(fs.readFileSync(avmPath)),
  };
  return booting;
}

async function serve(method, path, { body, headers, env = {} } = {}) {
  const logger = recordingLogger();
  const ctx = collectingCtx();
  const init = { method, headers };
  if (body !== undefined) init.body = body;
  const res = await handleRequest(new Request("http://w.test" + path, init), env, ctx, { ...getApp(), logger });
  const bytes = new Uint8Array(await res.arrayBuffer());
  const text = new TextDecoder().decode(bytes);
  return { res, bytes, text, json: () => JSON.parse(text), logger, ctx };
}

const JSON_CT = { "content-type": "application/json" };

test("health: JSON and the default security headers", { skip }, async () => {
  const r = await serve("GET", "/health");
  assert.equal(r.res.status, 200);
  assert.equal(r.res.headers.get("content-type"), "application/json");
  assert.equal(r.res.headers.get("x-frame-options"), "DENY");
  assert.deepEqual(r.json(), { status: "ok" });
});

test("each request starts from the boot snapshot: nothing an earlier one left is there", { skip }, async () => {
  // The route reports whether its atom and its registered process exist, then
  // creates both and leaves the process running; the next run must not see them.
  for (let i = 0; i < 3; i++) {
    const r = await serve("GET", "/state/leak");
    assert.equal(r.res.status, 200, r.text);
    assert.deepEqual(r.json(), { atom_existed: false, registered: false });
  }
  // Also after a crash in between.
  assert.equal((await serve("GET", "/crash")).res.status, 500);
  assert.deepEqual((await serve("GET", "/state/leak")).json(), { atom_existed: false, registered: false });
});

test("the run at isolate start runs no app code and leaves nothing for requests", { skip }, async () => {
  // A copy of the image: a runtime of its own, not the one other tests used.
  const app = { wasmModule: getApp().wasmModule, bootImage: getApp().bootImage.slice() };
  const logger = recordingLogger();
  // null: it exited 0 without a response (app code, even on no request,
  // answers one: a 400) and without a trap.
  assert.equal(warmRuntime(app.wasmModule, app, logger), null, logger.err.join("\n"));
  assert.ok(appRuntime(app.wasmModule, app).dirty > 0);
  assert.deepEqual([logger.out, logger.err], [[], []]);
  await assertRequestsAfterStart(app, logger);
});

// Two requests after an isolate's start: both run on the instance the start
// warmed, each from a fresh VM (no atom or process the start made is there).
async function assertRequestsAfterStart(app, logger) {
  const rt = appRuntime(app.wasmModule, app);
  assert.ok(rt.live !== null);
  const warmed = rt.live.instance;
  for (let i = 0; i < 2; i++) {
    const res = await handleRequest(new Request("http://w.test/state/leak"), {}, collectingCtx(), { ...app, logger });
    assert.equal(res.status, 200, logger.err.join("\n"));
    assert.deepEqual(await res.json(), { atom_existed: false, registered: false });
  }
  assert.equal(rt.live.instance, warmed, "requests ran on the instance the start warmed");
}

test("the isolate's start-up request is answered by the framework and leaves nothing for requests", { skip }, async () => {
  const app = { wasmModule: getApp().wasmModule, bootImage: getApp().bootImage.slice() };
  const logger = recordingLogger();
  assert.equal(await warmIsolate(app, logger), null, logger.err.join("\n"));
  // That the app is not called is the framework's test (warm_test.exs);
  // here, the start logs nothing and leaves nothing for requests.
  assert.deepEqual([logger.out, logger.err], [[], []]);
  await assertRequestsAfterStart(app, logger);
});

// The worker's module differs from the runtime's in one byte of each native
// it cut (crates/pipeline/src/boot/natives.rs): the first byte of the name
// AtomVM looks it up by is 0xFF, so that the lookup fails. Returns the name
// that starts at `at` in the booted memory, or null when `at` is not such a
// byte.
function forgottenName(booted, imaged, at) {
  if (imaged[at] !== 0xff || at === 0 || booted[at - 1] !== 0) return null;
  let end = at;
  while (end < booted.length && booted[end] !== 0 && end - at < 96) end++;
  const name = new TextDecoder().decode(booted.subarray(at, end));
  return /^[A-Za-z0-9_.]+:[!-~]+\/[0-9]+$/.test(name) ? name : null;
}

test("the boot image made at build time is, byte for byte, the memory a boot in the isolate leaves", { skip }, () => {
  const booted = new AppRuntime(getBooting().wasmModule, getBooting().avmBytes);
  const logger = recordingLogger();
  assert.equal(booted.boot(logger), null, logger.err.join("\n"));
  const imaged = new AppRuntime(getApp().wasmModule, null, getApp().bootImage);
  assert.equal(imaged.boot(logger), null, logger.err.join("\n"));
  const a = new Uint8Array(booted.memory.buffer);
  const b = new Uint8Array(imaged.memory.buffer);
  assert.equal(b.length, a.length, "memory size");
  let differ = 0;
  let first = -1;
  const forgotten = [];
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) {
      const name = forgottenName(a, b, i);
      if (name !== null) {
        forgotten.push(name);
        continue;
      }
      differ++;
      if (first < 0) first = i;
    }
  }
  assert.equal(differ, 0, `${differ} bytes differ, the first at ${first}`);
  // The test app names few natives: many are cut, and each is forgotten.
  assert.ok(forgotten.length > 10, `natives forgotten: ${forgotten.join(", ")}`);
  assert.equal(imaged.snapshot.length, booted.snapshot.length, "the snapshot's end (heap high-water mark)");
  assert.deepEqual(imaged.tail, booted.tail);
  assertTailCoversMemory(imaged);
});

test("a boot image is refused by a module it was not made for", { skip }, async () => {
  const logger = recordingLogger();
  const res = await handleRequest(new Request("http://w.test/health"), {}, collectingCtx(), {
    wasmModule: getBooting().wasmModule,
    bootImage: getApp().bootImage,
    logger,
  });
  assert.equal(res.status, 500);
  assert.match(logger.err.join("\n"), /boot\.bin \(build [0-9a-f]{32}\) was not made for this atomvm\.wasm \(build none\)/);
  const damaged = getApp().bootImage.slice(0, 100);
  const res2 = await handleRequest(new Request("http://w.test/health"), {}, collectingCtx(), {
    wasmModule: getApp().wasmModule,
    bootImage: damaged,
    logger,
  });
  assert.equal(res2.status, 500);
  assert.match(logger.err.join("\n"), /boot\.bin is damaged/);
});

test("the boot snapshot holds every nonzero byte of the booted VM's memory", { skip }, () => {
  const rt = new AppRuntime(getBooting().wasmModule, getBooting().avmBytes);
  const logger = recordingLogger();
  assert.equal(rt.boot(logger), null, logger.err.join("\n"));
  assertTailCoversMemory(rt);
  assert.ok(rt.snapshot.length < 4 * 1024 * 1024, `dense snapshot of ${rt.snapshot.length} B`);
});

test("concurrent requests share the isolate's memory safely, across binding passes", { skip }, async () => {
  // KV reads that resolve after a delay, so other requests run between a
  // request's two passes on the same reused memory.
  const slow = {
    async get(key) {
      await new Promise((r) => setTimeout(r, 5 + (key.length % 7)));
      return key.startsWith("user") ? "v-" + key : null;
    },
  };
  const jobs = [];
  for (let i = 0; i < 24; i++) {
    if (i % 3 === 0) jobs.push(serve("GET", `/kv/user${i}`, { env: { CACHE: slow } }).then((r) => ["kv", i, r]));
    else if (i % 3 === 1) jobs.push(serve("GET", `/users/${i}`).then((r) => ["user", i, r]));
    else jobs.push(serve("GET", "/state/concurrent").then((r) => ["state", i, r]));
  }
  for (const [kind, i, r] of await Promise.all(jobs)) {
    assert.equal(r.res.status, 200, `${kind} ${i}: ${r.text}`);
    if (kind === "kv") assert.deepEqual(r.json(), { key: `user${i}`, value: `v-user${i}`, found: true });
    if (kind === "user") assert.deepEqual(r.json(), { id: String(i) });
    if (kind === "state") assert.deepEqual(r.json(), { atom_existed: false, registered: false });
  }
});

test("a 5 KB HTML page with escaped text", { skip }, async () => {
  const r = await serve("GET", "/page");
  assert.equal(r.res.headers.get("content-type"), "text/html; charset=utf-8");
  assert.ok(r.bytes.length >= 4800 && r.bytes.length <= 5400, `${r.bytes.length} B`);
  assert.match(r.text, /<td>item &lt;52&gt; &amp; &quot;friends&quot;<\/td>/);
  const st = await serve("GET", "/page_static");
  assert.equal(st.bytes.length, 4999);
  assert.match(st.text, /<h1>Static page<\/h1>/);
});

test("route shapes: params, nested params, globs, percent-decoding, any-method routes", { skip }, async () => {
  assert.deepEqual((await serve("GET", "/users/42")).json(), { id: "42" });
  assert.deepEqual((await serve("GET", "/users/7/posts/9")).json(), { id: "7", post_id: "9" });
  assert.deepEqual((await serve("GET", "/files/a/b/c.txt")).json(), { path: ["a", "b", "c.txt"] });
  assert.deepEqual((await serve("GET", "/users/j%C3%B6rg")).json(), { id: "jörg" });
  assert.deepEqual((await serve("PUT", "/users/5")).json(), { updated: "5" });
  assert.equal((await serve("DELETE", "/any")).text, "any DELETE");
  assert.equal((await serve("GET", "/")).text, "home");
});

test("404, 405 with allow, HEAD without a body", { skip }, async () => {
  const nf = await serve("GET", "/no/such/page");
  assert.equal(nf.res.status, 404);
  assert.deepEqual(nf.json(), { error: "not_found", path: "/no/such/page" });
  const na = await serve("PATCH", "/users/1");
  assert.equal(na.res.status, 405);
  assert.equal(na.res.headers.get("allow"), "GET, PUT");
  const head = await serve("HEAD", "/health");
  assert.equal(head.res.status, 200);
  assert.equal(head.bytes.length, 0);
});

test("query strings, worker vars, redirects, statuses, repeated headers", { skip }, async () => {
  assert.deepEqual((await serve("GET", "/query?a=1&b=two+words&c=%E2%98%83")).json(), { a: "1", b: "two words", c: "☃" });
  assert.deepEqual((await serve("GET", "/env/APP_NAME", { env: { APP_NAME: "demo", KV: new FakeKV() } })).json(), { value: "demo" });
  const redirect = await serve("GET", "/redirect");
  assert.equal(redirect.res.status, 302);
  assert.equal(redirect.res.headers.get("location"), "/health");
  const created = await serve("GET", "/status/201");
  assert.equal(created.res.status, 201);
  assert.equal(created.text, "status 201");
  assert.deepEqual((await serve("GET", "/cookies")).res.headers.getSetCookie(), ["a=1; Path=/", "b=2; Path=/"]);
});

function doc(size) {
  const items = [];
  let n = 0;
  while (JSON.stringify(items).length < size) {
    items.push({ id: n, name: `item ${n} "quoted" é ☃ 😀`, tags: ["a", "b\\c", "d/e"], score: n / 7, ok: n % 2 === 0, none: null });
    n++;
  }
  return items;
}

test("JSON echo of 1, 10 and 50 KB round-trips exactly", { skip }, async () => {
  for (const size of [1024, 10 * 1024, 50 * 1024]) {
    const data = doc(size);
    const r = await serve("POST", "/echo", { body: JSON.stringify(data), headers: JSON_CT });
    assert.equal(r.res.status, 200, r.text.slice(0, 200));
    assert.deepEqual(r.json(), data, `echo of ${size} B`);
  }
  const raw = JSON.stringify({ k: "v\n\"x\"" });
  const r = await serve("POST", "/echo_raw", { body: raw, headers: JSON_CT });
  assert.deepEqual(r.json(), { echo: raw, method: "POST", parsed_body: { k: 'v\n"x"' } });
});

test("\\u escapes decode to correct UTF-8, including surrogate pairs", { skip }, async () => {
  const body = '{"snow":"\\u2603","e":"\\u00e9","pair":"\\ud83d\\ude00","clef":"\\uD834\\uDD1E","lone":"\\ud83d!"}';
  const r = await serve("POST", "/echo", { body, headers: JSON_CT });
  assert.equal(r.res.status, 200);
  assert.deepEqual(r.json(), { snow: "☃", e: "é", pair: "😀", clef: "𝄞", lone: "\uFFFD!" });
  assert.ok(r.text.includes("☃") && r.text.includes("😀"), "sent as UTF-8, not escaped");
  const u = await serve("GET", "/unicode");
  assert.deepEqual(u.json(), { snowman: "☃", e: "é", emoji: "😀", float: 1.5, neg: -2 });
});

test("invalid JSON answers 400 with a JSON error; the depth limit holds", { skip }, async () => {
  for (const body of ['{"a":', "{'a':1}", "[1,]", '{"a":1} x', '"\\x"']) {
    const r = await serve("POST", "/echo", { body, headers: JSON_CT });
    assert.equal(r.res.status, 400, body);
    assert.equal(r.res.headers.get("content-type"), "application/json");
    assert.equal(r.json().error, "invalid_json");
    assert.match(r.json().message, /at byte \d+|unexpected end/);
  }
  const ok = "[".repeat(32) + "]".repeat(32);
  assert.equal((await serve("POST", "/echo", { body: ok, headers: JSON_CT })).res.status, 200);
  const deep = await serve("POST", "/echo", { body: "[".repeat(33) + "]".repeat(33), headers: JSON_CT });
  assert.equal(deep.res.status, 400);
  assert.match(deep.json().message, /nesting deeper than 32/);
  const strict = await serve("POST", "/strict_json", { body: "nope" });
  assert.equal(strict.res.status, 400);
});

test("bodies above 1 MB answer 413", { skip }, async () => {
  const r = await serve("POST", "/echo", { body: new Uint8Array(MAX_BODY_BYTES + 1), headers: JSON_CT });
  assert.equal(r.res.status, 413);
});

test("binary request and response bodies survive byte for byte", { skip }, async () => {
  const bytes = new Uint8Array(70000).map((_, i) => (i * 131 + (i >> 8)) % 256);
  bytes.set([0xff, 0xfe, 0x0a, 0x0a, 0x00, 0xc3], 0);
  const r = await serve("POST", "/binary", { body: bytes });
  assert.equal(r.res.headers.get("content-type"), "application/octet-stream");
  assert.deepEqual(r.bytes, bytes);
});

test("forms", { skip }, async () => {
  const r = await serve("POST", "/form", { body: "a=1&b=x+y&c=%C3%A9", headers: { "content-type": "application/x-www-form-urlencoded" } });
  assert.deepEqual(r.json(), { a: "1", b: "x y", c: "é" });
});

test("a crash answers 500 with a request id; the error and stack trace are logged", { skip }, async () => {
  const r = await serve("GET", "/crash", { headers: { "cf-ray": "ray-crash-1" } });
  assert.equal(r.res.status, 500);
  assert.deepEqual(r.json(), { error: "internal_error", request_id: "ray-crash-1" });
  const log = r.logger.err.join("\n");
  assert.match(log, /\[ray-crash-1\] GET \/crash crashed/);
  assert.match(log, /\*\* \(RuntimeError\) boom from TestApp/);
  assert.match(log, /TestApp\.Router\.crash\/1/);
  for (const [path, text] of [["/throw", /\*\* \(throw\) :thrown_value/], ["/badarith", /ArithmeticError|badarith/], ["/bad_return", /not_a_conn/]]) {
    const c = await serve("GET", path);
    assert.equal(c.res.status, 500, path);
    assert.match(c.logger.err.join("\n"), text, path);
  }
});

test("output on stdout and stderr is logged and never corrupts the response", { skip }, async () => {
  const r = await serve("GET", "/noisy");
  assert.equal(r.res.status, 200);
  assert.equal(r.text, "quiet");
  assert.ok(r.logger.out.some((l) => l.includes('"body":"from stdout"')));
  assert.ok(r.logger.err.some((l) => l.includes('{"status":998}')));
});

test("KV: a hit, and a miss that is a miss (nil, normal answer)", { skip }, async () => {
  const kv = new FakeKV({ user1: "alice" });
  const hit = await serve("GET", "/kv/user1", { env: { CACHE: kv } });
  assert.deepEqual(hit.json(), { key: "user1", value: "alice", found: true });
  const miss = await serve("GET", "/kv/nobody", { env: { CACHE: kv } });
  assert.equal(miss.res.status, 200);
  assert.equal(miss.res.headers.get("content-type"), "application/json");
  assert.deepEqual(miss.json(), { key: "nobody", value: null, found: false });
});

test("KV: independent reads share one pass, dependent reads take one each", { skip }, async () => {
  const kv = new FakeKV({ a: "1", b: "2", pointer: "t", t: "target!" });
  const two = await serve("GET", "/kv_two", { env: { CACHE: kv } });
  assert.deepEqual(two.json(), { a: "1", b: "2" });
  assert.deepEqual(kv.calls, [["get", "a"], ["get", "b"]]);
  kv.calls.length = 0;
  const chain = await serve("GET", "/kv_chain", { env: { CACHE: kv } });
  assert.deepEqual(chain.json(), { pointer: "t", target: "target!" });
  assert.deepEqual(kv.calls, [["get", "pointer"], ["get", "t"]]);
  const p1 = await serve("GET", "/kv_crash_pass1", { env: { CACHE: kv } });
  assert.equal(p1.text, "len 1");
  assert.equal(p1.logger.err.length, 0, "the crash on the first pass's placeholder is not reported");
});

test("KV: a route that keeps asking is stopped after a bounded number of passes", { skip }, async () => {
  const kv = new FakeKV();
  const r = await serve("GET", "/kv_greedy", { env: { CACHE: kv } });
  assert.equal(r.res.status, 500);
  assert.equal(r.json().error, "too_many_binding_passes");
  assert.equal(kv.calls.length, MAX_PASSES - 1);
  assert.ok(r.logger.err.some((l) => l.includes("still asking for bindings")));
});

test("KV: an unbound namespace answers 500 and says which", { skip }, async () => {
  const r = await serve("GET", "/kv_unbound", { env: {} });
  assert.equal(r.res.status, 500);
  assert.match(r.logger.err.join("\n"), /no KV namespace bound as \\?"NOT_BOUND/);
});

test("KV: metadata and listing", { skip }, async () => {
  const kv = new FakeKV({ "u:1": { value: "x", metadata: { role: "admin" } }, "u:2": "y", other: "z" });
  assert.deepEqual((await serve("GET", "/kv_meta/u:1", { env: { CACHE: kv } })).json(), { result: { value: "x", metadata: { role: "admin" } } });
  assert.deepEqual((await serve("GET", "/kv_meta/none", { env: { CACHE: kv } })).json(), { result: null });
  const list = (await serve("GET", "/kv_list?prefix=u:", { env: { CACHE: kv } })).json();
  assert.deepEqual(list.keys.map((k) => k.name), ["u:1", "u:2"]);
  assert.equal(list.list_complete, true);
});

test("KV: writes run after the response via ctx.waitUntil", { skip }, async () => {
  const kv = new FakeKV();
  const put = await serve("POST", "/kv/greeting", { body: "hello", env: { CACHE: kv } });
  assert.equal(put.res.status, 202);
  assert.equal(put.ctx.promises.length, 1);
  await put.ctx.settle();
  assert.deepEqual(kv.calls, [["put", "greeting", "hello", { expirationTtl: 60 }]]);
  const get = await serve("GET", "/kv/greeting", { env: { CACHE: kv } });
  assert.equal(get.json().value, "hello");
  const del = await serve("DELETE", "/kv/greeting", { env: { CACHE: kv } });
  await del.ctx.settle();
  assert.equal(kv.map.has("greeting"), false);
});

test("D1: query, query_one, exec and batch", { skip }, async () => {
  const db = new FakeD1([{ id: 1, name: "a" }, { id: 2, name: "b" }]);
  assert.deepEqual((await serve("GET", "/d1/users", { env: { DB: db } })).json(), { rows: db.rows });
  assert.deepEqual((await serve("GET", "/d1/user/2", { env: { DB: db } })).json(), { row: { id: 2, name: "b" } });
  assert.deepEqual((await serve("GET", "/d1/user/9", { env: { DB: db } })).json(), { row: null });
  db.log.length = 0;
  const ex = await serve("POST", "/d1/users", { body: '{"name":"z"}', headers: JSON_CT, env: { DB: db } });
  assert.equal(ex.res.status, 202);
  await ex.ctx.settle();
  assert.deepEqual(db.log, [["run", "INSERT INTO users (name) VALUES (?)", ["z"]]]);
  const b = await serve("POST", "/d1/batch", { env: { DB: db } });
  await b.ctx.settle();
  assert.deepEqual(db.log[1], ["batch", [["INSERT INTO users (name) VALUES (?)", ["x"]], ["DELETE FROM users WHERE name = ?", ["y"]]]]);
});

test("fetch: the upstream body comes back byte for byte; failures reach the route with their reason", { skip }, async () => {
  const up = await upstream();
  try {
    const r = await serve("GET", `/fetch?url=${encodeURIComponent(up.base + "/bytes")}`);
    assert.equal(r.res.status, 200, r.text);
    assert.deepEqual(r.bytes, ALL_BYTES);
    assert.equal(r.res.headers.get("x-upstream-status"), "200");
    assert.equal(r.res.headers.get("x-upstream-cookies"), "2");
    assert.equal(r.res.headers.get("x-pass"), "2");
    const body = Uint8Array.from({ length: 3000 }, (_, i) => (i * 31) % 256);
    const echo = await serve("POST", `/fetch?url=${encodeURIComponent(up.base + "/echo")}`, { body });
    assert.deepEqual(echo.bytes, body, "a binary body goes out and comes back unchanged");
    const slow = await serve("GET", `/fetch?timeout_ms=100&url=${encodeURIComponent(up.base + "/slow")}`);
    assert.equal(slow.res.status, 502);
    assert.equal(slow.json().error.reason, "timeout");
  } finally {
    await up.close();
  }
});

test("one round of KV, R2 and fetch is one extra pass; a dependent read one more", { skip }, async () => {
  const up = await upstream();
  try {
    const r2 = new FakeR2();
    await r2.put("k1", new Uint8Array(10));
    const env = { CACHE: new FakeKV({ k1: "v1" }), BUCKET: r2 };
    const round = await serve("GET", `/round/k1?url=${encodeURIComponent(up.base + "/bytes")}`, { env });
    assert.deepEqual(round.json(), { pass: 2, kv: "v1", r2_size: 10, fetch_status: 200 });
    const chain = await serve("GET", `/chain/k1?url=${encodeURIComponent(up.base + "/name")}`, { env });
    assert.deepEqual(chain.json(), { pass: 3, key: "k1", r2_size: 10 });
  } finally {
    await up.close();
  }
});

test("R2: 1 MB round-trips byte for byte; ranges, head, list, delete", { skip }, async () => {
  const r2 = new FakeR2();
  const env = { BUCKET: r2 };
  const big = Uint8Array.from({ length: MAX_BODY_BYTES }, (_, i) => (i * 7 + (i >> 8)) % 256);
  const put = await serve("PUT", "/r2/big", { body: big, env, headers: { "content-type": "application/x-big" } });
  assert.equal(put.res.status, 202, put.text);
  await put.ctx.settle();
  const get = await serve("GET", "/r2/big", { env });
  assert.equal(get.res.status, 200, get.text);
  assert.equal(get.res.headers.get("content-type"), "application/x-big");
  assert.equal(get.bytes.length, big.length);
  assert.ok(Buffer.from(get.bytes).equals(Buffer.from(big)), "the object came back byte for byte");
  const part = await serve("GET", "/r2/big?offset=1000&length=16", { env });
  assert.deepEqual(part.bytes, big.subarray(1000, 1016));
  const tail = await serve("GET", "/r2/big?suffix=5", { env });
  assert.deepEqual(tail.bytes, big.subarray(big.length - 5));
  assert.equal((await serve("GET", "/r2_head/big", { env })).json().size, big.length);
  assert.deepEqual((await serve("GET", "/r2_list?prefix=b", { env })).json().objects.map((o) => o.key), ["big"]);
  await (await serve("DELETE", "/r2/big", { env })).ctx.settle();
  assert.equal((await serve("GET", "/r2/big", { env })).res.status, 404);
});

test("queues: a route sends; the consumer gets the batch and settles it", { skip }, async () => {
  const jobs = new FakeQueue();
  const sent = await serve("POST", "/queue/send", { body: '{"id":"a"}', headers: JSON_CT, env: { JOBS: jobs } });
  assert.equal(sent.res.status, 202);
  await sent.ctx.settle();
  assert.deepEqual(jobs.sent, [{ body: { id: "a" }, contentType: "json" }]);

  const kv = new FakeKV();
  const batch = fakeBatch("jobs", [{ id: "a" }, { id: "b", retry_once: true }, new Uint8Array([0, 255])]);
  await handleQueue(batch, { CACHE: kv }, collectingCtx(), { ...getApp(), logger: recordingLogger() });
  assert.deepEqual(batch.verdicts, [["ack", "m1"], ["retry", "m2", undefined], ["ack", "m3"]]);
  assert.deepEqual(JSON.parse(kv.map.get("queue-a").value), { attempts: 1, body: { id: "a" }, queue: "jobs" });
  assert.equal(kv.map.get("queue-bytes").value, "00ff");
});

test("scheduled: the cron handler reads over passes and its write lands before it returns", { skip }, async () => {
  const kv = new FakeKV({ "cron-last": "earlier" });
  await handleScheduled({ cron: "*/5 * * * *", scheduledTime: 1_700_000_000_000 }, { CACHE: kv }, collectingCtx(), {
    ...getApp(),
    logger: recordingLogger(),
  });
  assert.deepEqual(JSON.parse(kv.map.get("cron-last").value), {
    cron: "*/5 * * * *",
    scheduled_time: 1_700_000_000_000,
    pass: 2,
    previous: "earlier",
  });
});

test("env: variables keep their JSON types", { skip }, async () => {
  const env = { N: 42, F: 2.5, B: true, OBJ: { a: [1, "x", null] }, S: "s" };
  for (const [name, value] of Object.entries(env)) {
    assert.deepEqual((await serve("GET", `/env/${name}`, { env })).json(), { value }, name);
  }
});
