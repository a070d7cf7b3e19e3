// The request path (handleRequest) with the WASI probe standing in for the
// VM: canned answers exercise framing, bindings, effects and every error
// branch of the shim without AtomVM.
import test from "node:test";
import assert from "node:assert/strict";
import { handleRequest, MAX_BODY_BYTES, MAX_PASSES } from "../src/worker.js";
import { encodeRequest, decodeResponse, ProtocolError } from "../src/protocol.js";
import { fulfilNeeds, runEffects } from "../src/bindings.js";
import { AppRuntime } from "../src/runtime.js";
import { vmProbeModule, recordingLogger, collectingCtx, FakeKV, FakeD1, canned, report } from "./helpers.mjs";

const enc = new TextEncoder();
const dec = new TextDecoder();

async function serve(avmBytes, request, env = {}) {
  const logger = recordingLogger();
  const ctx = collectingCtx();
  const res = await handleRequest(request, env, ctx, { wasmModule: vmProbeModule(), avmBytes, logger });
  return { res, logger, ctx };
}

test("protocol: request framing and response parsing", () => {
  const bytes = encodeRequest({ a: "x\ny" }, new Uint8Array([10, 0, 255]));
  const nl = bytes.indexOf(10);
  assert.deepEqual(JSON.parse(dec.decode(bytes.subarray(0, nl))), { a: "x\ny" });
  assert.deepEqual([...bytes.subarray(nl + 1)], [10, 0, 255]);

  const r = decodeResponse(enc.encode('{"status":201,"headers":{"x":"1","set-cookie":["a=1","b=2"]},"_effects":[{"type":"kv_delete"}]}\n\nbody\n'));
  assert.equal(r.status, 201);
  assert.equal(r.headers.get("x"), "1");
  assert.deepEqual(r.headers.getSetCookie(), ["a=1", "b=2"]);
  assert.equal(dec.decode(r.body), "\nbody\n");
  assert.equal(r.effects.length, 1);
  assert.deepEqual(decodeResponse(enc.encode('{"_needs":[{"id":"i"}]}\n')), { needs: [{ id: "i" }] });
  assert.throws(() => decodeResponse(enc.encode("{not json\n")), ProtocolError);
  assert.throws(() => decodeResponse(enc.encode('{"status":99}\n')), /200..599/);
  assert.throws(() => decodeResponse(enc.encode("[1]\n")), /not a JSON object/);
});

test("a canned response becomes the HTTP response; logs cannot corrupt it", async () => {
  const avm = canned('{"status":202,"headers":{"content-type":"text/plain","x-a":"b"}}\nhello {"status":999}');
  const { res, logger } = await serve(avm, new Request("http://w.test/path?q=1", { method: "POST", body: "abc" }));
  assert.equal(res.status, 202);
  assert.equal(res.headers.get("x-a"), "b");
  assert.equal(await res.text(), 'hello {"status":999}');
  assert.ok(logger.out.includes('{"status":999}'), "the probe's stdout went to the log");
});

test("the request head carries method, target, headers, vars, and the raw body after it", async () => {
  const request = new Request("http://w.test/a/b?x=%20y", { method: "PUT", headers: { "x-h": "v" }, body: new Uint8Array([0, 10, 255]) });
  const { res, logger } = await serve(canned('{"status":200,"headers":{}}\n'), request, { NAME: "demo", KV: new FakeKV() });
  assert.equal(res.status, 200);
  const hex = logger.out.find((l) => l.startsWith("stdin_hex=")).slice(10);
  const stdin = Uint8Array.from(hex.match(/../g).map((h) => parseInt(h, 16)));
  const nl = stdin.indexOf(10);
  const head = JSON.parse(dec.decode(stdin.subarray(0, nl)));
  assert.equal(head.pass, 1);
  assert.equal(head.method, "PUT");
  assert.equal(head.url, "/a/b?x=%20y");
  assert.equal(head.headers["x-h"], "v");
  assert.deepEqual(head.env, { NAME: "demo" }, "bindings stay on the JS side");
  assert.match(head.id, /^[0-9a-f-]{36}$/);
  assert.equal(head.bindings, undefined);
  assert.deepEqual([...stdin.subarray(nl + 1)], [0, 10, 255]);
});

test("bodies above 1 MB answer 413 without running the VM", async () => {
  const big = new Uint8Array(MAX_BODY_BYTES + 1);
  const { res, logger } = await serve(canned('{"status":200,"headers":{}}\n'), new Request("http://w.test/", { method: "POST", body: big }));
  assert.equal(res.status, 413);
  assert.equal((await res.json()).error, "payload_too_large");
  assert.equal(logger.out.length, 0, "the VM did not run");

  // Streamed without content-length: counted while reading.
  const stream = new ReadableStream({
    start(c) {
      for (let i = 0; i < 17; i++) c.enqueue(new Uint8Array(65536));
      c.close();
    },
  });
  const r2 = await serve(canned('{"status":200,"headers":{}}\n'), new Request("http://w.test/", { method: "POST", body: stream, duplex: "half" }));
  assert.equal(r2.res.status, 413);

  const ok = await serve(canned('{"status":200,"headers":{}}\n'), new Request("http://w.test/", { method: "POST", body: new Uint8Array(MAX_BODY_BYTES) }));
  assert.equal(ok.res.status, 200);
});

test("binding needs are fulfilled in parallel and the app runs again with the results", async () => {
  const needs = '{"_needs":[{"id":"n1","type":"kv_get","ns":"KV","key":"a"},{"id":"n2","type":"kv_get","ns":"KV","key":"zz"},{"id":"n3","type":"d1_query","db":"DB","sql":"SELECT 1","params":[]}]}\n';
  const avm = canned(needs, '{"status":200,"headers":{"content-type":"text/plain"}}\nsecond pass');
  const kv = new FakeKV({ a: "1" });
  const db = new FakeD1([{ id: 1 }]);
  const { res } = await serve(avm, new Request("http://w.test/"), { KV: kv, DB: db });
  assert.equal(res.status, 200);
  assert.equal(await res.text(), "second pass");
  assert.deepEqual(kv.calls, [["get", "a"], ["get", "zz"]]);
  assert.equal(db.log.length, 1);
});

test("fulfilNeeds: results, misses and errors", async () => {
  const kv = new FakeKV({ a: "1", "u:1": { value: "x", metadata: { m: 1 } } });
  const out = await fulfilNeeds(
    [
      { id: "1", type: "kv_get", ns: "KV", key: "a" },
      { id: "2", type: "kv_get", ns: "KV", key: "missing" },
      { id: "3", type: "kv_get", ns: "NOPE", key: "a" },
      { id: "4", type: "kv_get_with_metadata", ns: "KV", key: "u:1" },
      { id: "5", type: "kv_list", ns: "KV", prefix: "u:" },
      { id: "6", type: "d1_query", db: "DB", sql: "SELECT * FROM t WHERE id = ?", params: [2] },
      { id: "7", type: "teleport" },
    ],
    { KV: kv, DB: new FakeD1([{ id: 1 }, { id: 2 }]) },
  );
  assert.deepEqual(out["1"], { ok: "1" });
  assert.deepEqual(out["2"], { ok: null });
  assert.match(out["3"].error, /no KV namespace bound as "NOPE"/);
  assert.deepEqual(out["4"], { ok: { value: "x", metadata: { m: 1 } } });
  assert.deepEqual(out["5"].ok.keys.map((k) => k.name), ["u:1"]);
  assert.deepEqual(out["6"], { ok: [{ id: 2 }] });
  assert.match(out["7"].error, /unknown need type/);
});

test("a route that keeps asking for bindings is stopped after a bounded number of passes", async () => {
  const needs = '{"_needs":[{"id":"n","type":"kv_get","ns":"KV","key":"k"}]}\n';
  const { res, logger } = await serve(canned(needs, needs), new Request("http://w.test/loop"), { KV: new FakeKV() });
  assert.equal(res.status, 500);
  const body = await res.json();
  assert.equal(body.error, "too_many_binding_passes");
  assert.equal(body.passes, MAX_PASSES);
  assert.ok(logger.err.some((l) => l.includes(`still asking for bindings after ${MAX_PASSES} passes`)));
  assert.equal(logger.out.filter((l) => l.startsWith("stdin_len=")).length, MAX_PASSES, "ran exactly MAX_PASSES times");
});

test("effects run after the response through ctx.waitUntil, in order", async () => {
  const effects = [
    { type: "kv_put", ns: "KV", key: "k", value: "v", expiration_ttl: 60 },
    { type: "kv_delete", ns: "KV", key: "old" },
    { type: "d1_exec", db: "DB", sql: "INSERT INTO t VALUES (?)", params: [1] },
    { type: "d1_batch", db: "DB", statements: [{ sql: "DELETE FROM t", params: [] }] },
    { type: "kv_put", ns: "MISSING", key: "k", value: "v" },
  ];
  const kv = new FakeKV({ old: "x" });
  const db = new FakeD1();
  const avm = canned(JSON.stringify({ status: 200, headers: {}, _effects: effects }) + "\nok");
  const { res, ctx, logger } = await serve(avm, new Request("http://w.test/"), { KV: kv, DB: db });
  assert.equal(await res.text(), "ok");
  assert.equal(ctx.promises.length, 1);
  await ctx.settle();
  assert.deepEqual(kv.calls, [["put", "k", "v", { expirationTtl: 60 }], ["delete", "old"]]);
  assert.deepEqual(db.log, [["run", "INSERT INTO t VALUES (?)", [1]], ["batch", [["DELETE FROM t", []]]]]);
  assert.ok(logger.err.some((l) => l.includes("effect kv_put failed: no KV namespace bound as \"MISSING\"")));
});

test("runEffects without ctx still runs them", async () => {
  const kv = new FakeKV();
  await runEffects([{ type: "kv_put", ns: "KV", key: "a", value: "b" }], { KV: kv });
  assert.equal(kv.map.get("a").value, "b");
});

test("no response, a trap or a bad response head answer 500 and log why", async () => {
  for (const [avm, body, why] of [
    [canned('{"status":200}\n'), "exit:3", "exited with code 3"],
    [canned('{"status":200}\n'), "trap!", "trapped"],
    [canned("not json at all"), "x", "response head is not JSON"],
    [canned('{"status":"ok"}\n'), "x", "status must be an integer"],
  ]) {
    const { res, logger } = await serve(avm, new Request("http://w.test/", { method: "POST", body }));
    assert.equal(res.status, 500);
    const j = await res.json();
    assert.equal(j.error, "internal_error");
    assert.ok(j.request_id);
    assert.ok(logger.err.some((l) => l.includes(why)), `${why} in ${logger.err.join("|")}`);
  }
});

test("a run past its heap budget answers 500 budget_exceeded and the next run is served", async () => {
  const avm = canned('{"status":200,"headers":{}}\nfine');
  const logger = recordingLogger();
  const app = { wasmModule: vmProbeModule(), avmBytes: avm, logger, budget: { memoryBytes: 16 << 20 } };
  const over = await handleRequest(new Request("http://w.test/", { method: "POST", body: "grow:32" }), {}, collectingCtx(), app);
  assert.equal(over.status, 500);
  const j = await over.json();
  assert.equal(j.error, "budget_exceeded");
  assert.ok(j.request_id);
  assert.ok(logger.err.some((l) => l.includes("budget: stopped when the heap would reach")), logger.err.join("|"));
  const next = await handleRequest(new Request("http://w.test/"), {}, collectingCtx(), app);
  assert.equal(next.status, 200);
  assert.equal(await next.text(), "fine");
});

test("cf-ray is the request id; HEAD and 204 answers have no body", async () => {
  const { res } = await serve(canned('{"status":204,"headers":{}}\nignored'), new Request("http://w.test/", { headers: { "cf-ray": "ray-1" } }));
  assert.equal(res.status, 204);
  assert.equal(res.body, null);
  const head = await serve(canned('{"status":200,"headers":{}}\nbody'), new Request("http://w.test/", { method: "HEAD" }));
  assert.equal(head.res.status, 200);
  assert.equal(await head.res.text(), "");
  const crash = await serve(canned("bad"), new Request("http://w.test/", { headers: { "cf-ray": "ray-2" } }));
  assert.equal((await crash.res.json()).request_id, "ray-2");
});

test("binary response bodies pass byte for byte", async () => {
  const bytes = new Uint8Array(300).map((_, i) => (i * 7) % 256);
  const head = enc.encode('{"status":200,"headers":{"content-type":"application/octet-stream"}}\n');
  const resp = new Uint8Array(head.length + bytes.length);
  resp.set(head);
  resp.set(bytes, head.length);
  // The probe's canned format splits at NUL, so send bytes without 0 in the first response.
  const safe = resp.map((b) => (b === 0 ? 1 : b));
  const { res } = await serve(canned(safe), new Request("http://w.test/"));
  assert.deepEqual(new Uint8Array(await res.arrayBuffer()), safe.subarray(head.length));
});

test("one instance serves run after run, each from the snapshot and the top of its stack", () => {
  const rt = new AppRuntime(vmProbeModule(), enc.encode("app"));
  const logger = recordingLogger();
  const run = (stdin) => {
    logger.out.length = 0;
    const r = rt.run(enc.encode(stdin), logger);
    return { ...r, seen: report(logger.out) };
  };
  const first = run("hello");
  assert.equal(first.exitCode, 0);
  const instance = rt.live.instance;
  const sp = instance.exports.__stack_pointer;
  // An exit from deep in the stack (a budget's exit is one) leaves the
  // stack pointer below where it starts; the next run must start where the
  // first did.
  const deep = run("deep_exit:4");
  assert.equal(deep.exitCode, 4);
  assert.ok(sp.value < rt.live.stackPointer, `stack pointer ${sp.value} after the exit, ${rt.live.stackPointer} before`);
  for (const stdin of ["again", "trap!", "and again"]) {
    const r = run(stdin);
    if (stdin === "trap!") {
      assert.match(r.trap, /unreachable/);
      continue;
    }
    assert.equal(r.exitCode, 0);
    assert.equal(r.seen.stack_at, first.seen.stack_at, `the stack of run "${stdin}"`);
    assert.equal(r.seen.runs_since_boot, "1", "static memory came from the snapshot");
  }
  assert.equal(rt.live.instance, instance, "no new instance");
  assert.equal(rt.memoriesCreated, 1);
});
