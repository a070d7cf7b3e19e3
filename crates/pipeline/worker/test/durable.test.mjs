// Durable Objects in the shim, with the WASI probe standing in for the VM:
// an object class runs the app with its event and storage, its writes land
// before its response, and a route's call to an object is a need.
import test from "node:test";
import assert from "node:assert/strict";
import { objectClass } from "../src/durable.js";
import { fulfilNeeds, newIo } from "../src/bindings.js";
import { vmProbeModule, recordingLogger, canned } from "./helpers.mjs";

// The platform's storage as far as the shim uses it; writes are recorded
// and can be made to wait, to see that the response waits for them.
class FakeStorage {
  constructor(entries = {}) {
    this.map = new Map(Object.entries(entries));
    this.log = [];
    this.fail = false;
  }
  async get(key) {
    this.log.push(["get", key]);
    return this.map.get(key);
  }
  async list(opts) {
    this.log.push(["list", opts]);
    return new Map([...this.map].filter(([k]) => k.startsWith(opts.prefix ?? "")).sort());
  }
  async put(key, value) {
    await new Promise((r) => setTimeout(r, 5));
    if (this.fail) throw new Error("storage is full");
    this.log.push(["put", key, value]);
    this.map.set(key, value);
  }
  async delete(key) {
    this.log.push(["delete", key]);
    return this.map.delete(key);
  }
}

function object(avmBytes, storage, name = "global") {
  const Counter = objectClass("Counter", { wasmModule: vmProbeModule(), avmBytes, logger: recordingLogger() });
  const id = { toString: () => "ab".repeat(32), name };
  return new Counter({ id, storage }, {});
}

test("an object's run reads its storage over passes and its writes are in before the response", async () => {
  const needs = '{"_needs":[{"id":"g","type":"do_storage_get","key":"count"},{"id":"l","type":"do_storage_list","prefix":"c"}]}\n';
  const effects = [
    { type: "do_storage_put", key: "count", value: { n: 42 } },
    { type: "do_storage_delete", key: "old" },
  ];
  const storage = new FakeStorage({ count: { n: 41 }, old: 1 });
  const counter = object(canned(needs, JSON.stringify({ status: 200, headers: {}, _effects: effects }) + "\n42"), storage);
  const res = await counter.fetch(new Request("https://durable-object/increment", { method: "POST" }));
  assert.equal(res.status, 200);
  assert.equal(await res.text(), "42");
  assert.deepEqual(storage.log, [
    ["get", "count"],
    ["list", { prefix: "c" }],
    ["put", "count", { n: 42 }],
    ["delete", "old"],
  ]);
});

test("the run's head carries the object's event beside the request", async () => {
  const logger = recordingLogger();
  const app = { wasmModule: vmProbeModule(), avmBytes: canned('{"status":200,"headers":{}}\n'), logger };
  const Counter = objectClass("Counter", app);
  const counter = new Counter({ id: { toString: () => "cd".repeat(32), name: "room-1" }, storage: new FakeStorage() }, {});
  const res = await counter.fetch(new Request("https://durable-object/x?y=1", { method: "PUT", body: "b" }));
  assert.equal(res.status, 200);
  // The probe reports the request message it was given.
  const hex = logger.out.find((l) => l.startsWith("stdin_hex=")).slice(10);
  const stdin = Uint8Array.from(hex.match(/../g).map((h) => parseInt(h, 16)));
  const head = JSON.parse(new TextDecoder().decode(stdin.subarray(0, stdin.indexOf(10))));
  assert.deepEqual(head.event, { type: "durable_object", class: "Counter", id: "cd".repeat(32), name: "room-1" });
  assert.equal(head.method, "PUT");
  assert.equal(head.url, "/x?y=1");
});

test("a failing storage write answers 500 effects_failed instead of the app's answer", async () => {
  const storage = new FakeStorage();
  storage.fail = true;
  const effects = [{ type: "do_storage_put", key: "count", value: 1 }];
  const counter = object(canned(JSON.stringify({ status: 200, headers: {}, _effects: effects }) + "\n1"), storage);
  const res = await counter.fetch(new Request("https://durable-object/increment", { method: "POST" }));
  assert.equal(res.status, 500);
  assert.equal((await res.json()).error, "effects_failed");
});

test("do_fetch calls the object by name or id; storage needs outside an object fail", async () => {
  const seen = [];
  const ns = {
    idFromName: (n) => ({ by: "name", n }),
    idFromString: (s) => {
      if (!/^[0-9a-f]{64}$/.test(s)) throw new Error("Invalid Durable Object ID");
      return { by: "id", s };
    },
    get: (id) => ({
      fetch: async (req) => {
        seen.push([id, req.method, new URL(req.url).pathname, await req.text()]);
        return new Response("hi", { status: 201, headers: { "x-obj": "1" } });
      },
    }),
  };
  const io = newIo(10);
  const out = await fulfilNeeds(
    [
      { id: "1", type: "do_fetch", binding: "COUNTER", object_name: "a", method: "POST", path: "/inc", body_base64: "Ym9keQ==" },
      { id: "2", type: "do_fetch", binding: "COUNTER", object_id: "ef".repeat(32), method: "GET", path: "/" },
      { id: "3", type: "do_fetch", binding: "COUNTER", object_id: "nope", method: "GET", path: "/" },
      { id: "4", type: "do_fetch", binding: "MISSING", object_name: "a", method: "GET", path: "/" },
      { id: "5", type: "do_storage_get", key: "k" },
    ],
    { COUNTER: ns },
    io,
  );
  assert.equal(out["1"].ok.status, 201);
  assert.equal(out["1"].ok.headers["x-obj"], "1");
  // Made in parallel: in whatever order they finished.
  const byMethod = Object.fromEntries(seen.map((s) => [s[1], s]));
  assert.deepEqual(byMethod.POST, [{ by: "name", n: "a" }, "POST", "/inc", "body"]);
  assert.deepEqual(byMethod.GET, [{ by: "id", s: "ef".repeat(32) }, "GET", "/", ""]);
  assert.equal(seen.length, 2, "a malformed id is not called");
  assert.equal(out["3"].reason, "invalid");
  assert.equal(out["4"].reason, "invalid");
  assert.match(out["4"].error, /no Durable Object namespace bound as "MISSING"/);
  assert.match(out["5"].error, /only there in a run of a Durable Object/);
  assert.equal(io.subrequests.used, 2, "each call made is a subrequest");
});
