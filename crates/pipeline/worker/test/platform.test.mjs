// The worker's side of the Workers platform: outbound fetch against an HTTP
// server of the test's own on 127.0.0.1, R2 and queues against fakes, the
// blob area of the request message, typed env, and the cron and queue
// entry points with the WASI probe standing in for the VM.
import test from "node:test";
import assert from "node:assert/strict";
import { fulfilNeeds, newIo, runEffects } from "../src/bindings.js";
import { BlobArea, fromBase64 } from "../src/bytes.js";
import { encodeRequest } from "../src/protocol.js";
import { appEnv, handleRequest } from "../src/worker.js";
import { handleQueue, handleScheduled } from "../src/events.js";
import { readLimited } from "../src/fetch.js";
import { vmProbeModule, recordingLogger, collectingCtx, FakeKV, FakeR2, FakeQueue, fakeBatch, upstream, ALL_BYTES, canned } from "./helpers.mjs";

const dec = new TextDecoder();
const b64 = (bytes) => Buffer.from(bytes).toString("base64");

// The bytes of a result's [offset, size] in the blob area.
function blob(io, [at, size]) {
  const all = new Uint8Array(io.blobs.size);
  let o = 0;
  for (const p of io.blobs.parts) {
    all.set(p, o);
    o += p.length;
  }
  return all.subarray(at, at + size);
}

test("fetch: status, headers, cookies and a binary body in the blob area; method, headers and body go out", async () => {
  const up = await upstream();
  try {
    const io = newIo();
    const sent = new Uint8Array([0, 10, 255, 13, 10]);
    const out = await fulfilNeeds(
      [
        { id: "a", type: "fetch", url: `${up.base}/bytes`, method: "GET" },
        { id: "b", type: "fetch", url: `${up.base}/echo`, method: "PUT", headers: { "x-from": "app" }, body_base64: b64(sent) },
        { id: "c", type: "fetch", url: `${up.base}/missing`, method: "GET" },
      ],
      {},
      io,
    );
    const a = out.a.ok;
    assert.equal(a.status, 200);
    assert.equal(a.headers["content-type"], "application/x-all");
    assert.deepEqual(a.headers["set-cookie"], ["a=1", "b=2"]);
    assert.equal(a.url, `${up.base}/bytes`);
    assert.deepEqual(blob(io, a.body), ALL_BYTES);
    assert.deepEqual(blob(io, out.b.ok.body), sent);
    assert.equal(out.c.ok.status, 404, "an HTTP error status is a response");
    const put = up.seen.find((r) => r.method === "PUT");
    assert.equal(put.headers["x-from"], "app");
    assert.deepEqual(new Uint8Array(put.body), sent);
    assert.equal(io.subrequests.used, 3);
  } finally {
    await up.close();
  }
});

test("fetch failures carry a reason: timeout, subrequest limit, invalid, network", async () => {
  const up = await upstream();
  const closed = await upstream();
  await closed.close();
  try {
    const io = newIo(2);
    const started = Date.now();
    const out = await fulfilNeeds(
      [
        { id: "slow", type: "fetch", url: `${up.base}/slow`, method: "GET", timeout_ms: 100 },
        { id: "refused", type: "fetch", url: `${closed.base}/`, method: "GET" },
        { id: "over", type: "fetch", url: `${up.base}/bytes`, method: "GET" },
        { id: "bad", type: "fetch", url: "not a url", method: "GET" },
        { id: "get_body", type: "fetch", url: `${up.base}/echo`, method: "GET", body_base64: b64([1]) },
      ],
      {},
      io,
    );
    assert.equal(out.slow.reason, "timeout");
    assert.match(out.slow.error, /fetch GET http:\/\/127\.0\.0\.1:\d+\/slow: no complete answer within 100 ms/);
    assert.ok(Date.now() - started < 1900, "the timeout did not wait for the server");
    assert.equal(out.refused.reason, "network");
    assert.equal(out.over.reason, "subrequest_limit");
    assert.match(out.over.error, /already made 2 subrequests.*"budget": \{"subrequests": N\}/);
    assert.equal(out.bad.reason, "invalid");
    assert.equal(out.get_body.reason, "invalid", "fetch() refuses a GET with a body");
    assert.equal(io.subrequests.used, 2, "refused needs are not counted");
    assert.ok(!up.seen.some((r) => r.url === "/bytes"), "the fetch past the limit was not made");
  } finally {
    await up.close();
  }
});

test("readLimited refuses a body past its limit", async () => {
  await assert.rejects(readLimited(new Response(new Uint8Array(11)).body, 10, "x"), (e) => e.reason === "too_large");
  assert.equal((await readLimited(new Response(new Uint8Array(10)).body, 10, "x")).length, 10);
});

test("the request message carries the blob area after the body and says where the body ends", () => {
  const blobs = new BlobArea();
  assert.deepEqual(blobs.add(new Uint8Array([7, 8])), [0, 2]);
  assert.deepEqual(blobs.add(new Uint8Array([9])), [2, 1]);
  const bytes = encodeRequest({ id: "r" }, new Uint8Array([1, 2, 3]), blobs);
  const nl = bytes.indexOf(10);
  assert.deepEqual(JSON.parse(dec.decode(bytes.subarray(0, nl))), { id: "r", body_size: 3 });
  assert.deepEqual([...bytes.subarray(nl + 1)], [1, 2, 3, 7, 8, 9]);
  const plain = encodeRequest({ id: "r" }, new Uint8Array([1]), new BlobArea());
  assert.equal(dec.decode(plain), '{"id":"r"}\n\u0001');
});

test("base64 from the VM decodes byte for byte", () => {
  for (let n = 0; n < 70; n++) {
    const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) % 256);
    assert.deepEqual(fromBase64(b64(bytes)), bytes);
  }
  assert.throws(() => fromBase64("a$=="), /invalid character/);
});

test("R2: get with ranges into the blob area, head, list, put and delete", async () => {
  const r2 = new FakeR2();
  const env = { BUCKET: r2 };
  const failed = await runEffects(
    [
      { type: "r2_put", bucket: "BUCKET", key: "k", body_base64: b64(ALL_BYTES), http_metadata: { content_type: "x/y" }, custom_metadata: { a: "1" } },
      { type: "r2_put", bucket: "BUCKET", key: "k2", body_base64: "" },
    ],
    env,
  );
  assert.equal(failed, 0);
  assert.deepEqual(r2.calls[0], ["put", "k", { httpMetadata: { contentType: "x/y" }, customMetadata: { a: "1" } }]);
  const io = newIo();
  const out = await fulfilNeeds(
    [
      { id: "all", type: "r2_get", bucket: "BUCKET", key: "k" },
      { id: "mid", type: "r2_get", bucket: "BUCKET", key: "k", range: { offset: 250, length: 4 } },
      { id: "end", type: "r2_get", bucket: "BUCKET", key: "k", range: { suffix: 3 } },
      { id: "miss", type: "r2_get", bucket: "BUCKET", key: "nope" },
      { id: "head", type: "r2_head", bucket: "BUCKET", key: "k" },
      { id: "list", type: "r2_list", bucket: "BUCKET", prefix: "k", limit: 1 },
      { id: "unbound", type: "r2_get", bucket: "NOPE", key: "k" },
    ],
    env,
    io,
  );
  assert.deepEqual(blob(io, out.all.ok.body), ALL_BYTES);
  assert.deepEqual(out.all.ok.http_metadata, { content_type: "x/y" });
  assert.deepEqual(out.all.ok.custom_metadata, { a: "1" });
  assert.equal(out.all.ok.uploaded, "1970-01-01T00:00:00.000Z");
  assert.deepEqual([...blob(io, out.mid.ok.body)], [250, 251, 252, 253]);
  assert.deepEqual(out.mid.ok.range, { offset: 250, length: 4 });
  assert.deepEqual([...blob(io, out.end.ok.body)], [253, 254, 255]);
  assert.deepEqual(out.miss, { ok: null });
  assert.equal(out.head.ok.size, 256);
  assert.equal(out.head.ok.body, undefined);
  assert.deepEqual(out.list.ok.objects.map((o) => o.key), ["k"]);
  assert.equal(out.list.ok.truncated, true);
  assert.equal(out.list.ok.cursor, "1");
  assert.match(out.unbound.error, /no R2 bucket bound as "NOPE" \(add it to r2_buckets/);
  await runEffects([{ type: "r2_delete", bucket: "BUCKET", keys: ["k", "k2"] }], env);
  assert.equal(r2.objects.size, 0);
});

test("queue effects send JSON, text and bytes; verdicts outside a consumer are errors", async () => {
  const q = new FakeQueue();
  const logger = recordingLogger();
  const failed = await runEffects(
    [
      { type: "queue_send", queue: "JOBS", body: { a: 1 }, content_type: "json", delay_seconds: 5 },
      { type: "queue_send", queue: "JOBS", body_base64: b64([0, 255]), content_type: "bytes" },
      { type: "queue_send_batch", queue: "JOBS", messages: [{ body: "t", content_type: "text" }, { body: [1], content_type: "json" }] },
      { type: "queue_ack", id: "x" },
      { type: "queue_send", queue: "NOPE", body: 1 },
    ],
    { JOBS: q },
    logger,
  );
  assert.equal(failed, 2);
  assert.deepEqual(q.sent[0], { body: { a: 1 }, contentType: "json", delaySeconds: 5 });
  assert.deepEqual([...q.sent[1].body], [0, 255]);
  assert.equal(q.sent[1].contentType, "bytes");
  assert.deepEqual(q.sent[2], { batch: [{ body: "t", contentType: "text" }, { body: [1], contentType: "json" }] });
  assert.ok(logger.err.some((l) => l.includes("queue_ack outside a queue consumer")));
  assert.ok(logger.err.some((l) => l.includes('no queue producer bound as "NOPE"')));
});

test("env: variables keep their JSON types, secrets are strings, bindings stay out", () => {
  class Binding {
    get() {}
  }
  const env = {
    S: "text",
    N: 42,
    F: 1.5,
    B: true,
    NUL: null,
    OBJ: { a: [1, { b: "c" }] },
    ARR: [1, "x"],
    KV: new FakeKV(),
    R2: new Binding(),
    PLAIN_FAKE: { get: async () => null },
    FN: () => 1,
  };
  assert.deepEqual(appEnv(env), { S: "text", N: 42, F: 1.5, B: true, NUL: null, OBJ: { a: [1, { b: "c" }] }, ARR: [1, "x"] });
});

// The request heads the probe saw, pass by pass.
function heads(logger) {
  return logger.out
    .filter((l) => l.startsWith("stdin_hex="))
    .map((l) => {
      const bytes = Uint8Array.from(l.slice(10).match(/../g).map((h) => parseInt(h, 16)));
      return { head: JSON.parse(dec.decode(bytes.subarray(0, bytes.indexOf(10)))), bytes };
    });
}

test("the subrequest budget of the project is the limit of one request", async () => {
  const up = await upstream();
  try {
    const needs = JSON.stringify({
      _needs: [1, 2].map((i) => ({ id: `f${i}`, type: "fetch", url: `${up.base}/bytes?${i}`, method: "GET" })),
    });
    const logger = recordingLogger();
    const app = { wasmModule: vmProbeModule(), avmBytes: canned(needs + "\n", '{"status":200,"headers":{}}\nok'), logger, budget: { subrequests: 1 } };
    const res = await handleRequest(new Request("http://w.test/"), {}, collectingCtx(), app);
    assert.equal(await res.text(), "ok");
    const [, second] = heads(logger);
    assert.equal(second.head.bindings.f1.ok.status, 200);
    assert.equal(second.head.bindings.f2.reason, "subrequest_limit");
    assert.equal(second.head.body_size, 0, "the fetched body follows the (empty) request body");
    assert.deepEqual(second.head.bindings.f1.ok.body, [0, 256]);
  } finally {
    await up.close();
  }
});

test("scheduled: the app gets the cron event, its writes land before the handler returns", async () => {
  const kv = new FakeKV();
  const logger = recordingLogger();
  const answer = JSON.stringify({ status: 200, headers: {}, _effects: [{ type: "kv_put", ns: "KV", key: "ran", value: "yes" }] });
  const app = { wasmModule: vmProbeModule(), avmBytes: canned(answer + "\n"), logger };
  await handleScheduled({ cron: "*/5 * * * *", scheduledTime: 1_700_000_000_000 }, { KV: kv, N: 3 }, collectingCtx(), app);
  assert.equal(kv.map.get("ran").value, "yes");
  const [first] = heads(logger);
  assert.deepEqual(first.head.event, { type: "scheduled", cron: "*/5 * * * *", scheduled_time: 1_700_000_000_000 });
  assert.deepEqual(first.head.env, { N: 3 });
  assert.equal(first.head.method, undefined);

  const crashed = { wasmModule: vmProbeModule(), avmBytes: canned('{"status":500,"headers":{}}\n'), logger };
  await assert.rejects(handleScheduled({ cron: "x", scheduledTime: 0 }, {}, collectingCtx(), crashed), /scheduled x failed: the app answered 500/);
  const failedWrite = JSON.stringify({ status: 200, headers: {}, _effects: [{ type: "kv_put", ns: "NOPE", key: "k", value: "v" }] });
  const broken = { wasmModule: vmProbeModule(), avmBytes: canned(failedWrite + "\n"), logger };
  await assert.rejects(handleScheduled({ cron: "y", scheduledTime: 0 }, {}, collectingCtx(), broken), /1 of its writes failed/);
});

test("queue: the batch goes to the app, byte bodies in the blob area; verdicts settle it after the writes", async () => {
  const kv = new FakeKV();
  const logger = recordingLogger();
  const effects = [
    { type: "kv_put", ns: "KV", key: "done", value: "1" },
    { type: "queue_ack", id: "m1" },
    { type: "queue_retry", id: "m2", delay_seconds: 7 },
    { type: "queue_ack", id: "nope" },
  ];
  const app = { wasmModule: vmProbeModule(), avmBytes: canned(JSON.stringify({ status: 200, headers: {}, _effects: effects }) + "\n"), logger };
  const batch = fakeBatch("jobs", [{ n: 1 }, "text", new Uint8Array([0, 1, 255])]);
  await handleQueue(batch, { KV: kv }, collectingCtx(), app);
  assert.equal(kv.map.get("done").value, "1");
  assert.deepEqual(batch.verdicts, [["ack", "m1"], ["retry", "m2", { delaySeconds: 7 }]]);
  assert.ok(logger.err.some((l) => l.includes('queue_ack: no message "nope" in this batch')));
  const [first] = heads(logger);
  assert.deepEqual(first.head.event.messages, [
    { id: "m1", timestamp: 1_700_000_000_000, attempts: 1, body: { n: 1 } },
    { id: "m2", timestamp: 1_700_000_000_001, attempts: 1, body: "text" },
    { id: "m3", timestamp: 1_700_000_000_002, attempts: 1, body_bytes: [0, 3] },
  ]);
  assert.equal(first.head.body_size, 0);
  assert.deepEqual([...first.bytes.subarray(first.bytes.indexOf(10) + 1)], [0, 1, 255]);

  // A write that fails leaves the batch unsettled and throws: it is delivered again.
  const failing = [{ type: "kv_put", ns: "NOPE", key: "k", value: "v" }, { type: "queue_ack_all" }];
  const app2 = { wasmModule: vmProbeModule(), avmBytes: canned(JSON.stringify({ status: 200, headers: {}, _effects: failing }) + "\n"), logger };
  const batch2 = fakeBatch("jobs", [1]);
  await assert.rejects(handleQueue(batch2, {}, collectingCtx(), app2), /the batch goes back/);
  assert.deepEqual(batch2.verdicts, []);
});
