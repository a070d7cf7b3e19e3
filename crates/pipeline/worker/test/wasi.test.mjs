// The WASI layer against a real WASI program of our own (fixtures/wasi_probe.c).
import test from "node:test";
import assert from "node:assert/strict";
import { WasiHost, ERRNO } from "../src/wasi.js";
import { runInstance, AppRuntime, ARGV } from "../src/runtime.js";
import { probeModule, vmProbeModule, report, recordingLogger, assertTailCoversMemory } from "./helpers.mjs";

const enc = new TextEncoder();
const dec = new TextDecoder();

function runProbe({ args = ARGV, env = [], stdin = "", files = { "app.avm": enc.encode("ABCDEFGH") } } = {}) {
  const out = [];
  const err = [];
  let response = null;
  const wasi = new WasiHost({
    args,
    env,
    stdin: typeof stdin === "string" ? enc.encode(stdin) : stdin,
    preopens: { "/app": files },
    stdout: (l) => out.push(l),
    stderr: (l) => err.push(l),
  });
  const instance = new WebAssembly.Instance(probeModule(), {
    wasi_snapshot_preview1: wasi.imports,
    elixir_workers: { respond: (p, n) => (response = wasi.copyOut(p, n)) },
  });
  const code = wasi.start(instance);
  return { code, out, err, r: report(out), response };
}

test("argv, environ and stdin reach the program", () => {
  const { code, r } = runProbe({ args: ["prog", "/app/app.avm", "x y"], env: ["A=1", "B=two words"], stdin: "hello\nworld" });
  assert.equal(code, 0);
  assert.equal(r.argc, "3");
  assert.equal(r.arg0, "prog");
  assert.equal(r.arg2, "x y");
  assert.equal(r.envc, "2");
  assert.equal(r.env1, "B=two words");
  assert.equal(r.stdin_len, "11");
});

test("the preopened /app directory serves the archive read-only", () => {
  const { r } = runProbe();
  assert.equal(r.fstat_size, "8");
  assert.equal(r.fstat_regular, "1");
  assert.equal(r.read_len, "8");
  assert.equal(r.first4, "41424344");
  assert.equal(r.seek_end, "8");
  assert.equal(r.seek_set, "1");
  assert.equal(r.pread2, "43444546");
  assert.equal(r.close, "0");
  assert.equal(r.close_again_ebadf, "1");
  assert.equal(r.stat_size, "8");
  assert.equal(r.missing_enoent, "1");
  assert.equal(r.create_refused, "1");
  assert.equal(r.escape_refused, "1");
  assert.equal(r.outside_refused, "1");
});

test("a large archive is read whole", () => {
  const big = new Uint8Array(3 * 1024 * 1024 + 5).map((_, i) => i % 251);
  const { r } = runProbe({ files: { "app.avm": big } });
  assert.equal(r.read_len, String(big.length));
  assert.equal(r.pread2, "02030405");
});

test("a missing archive is ENOENT", () => {
  const { code, r } = runProbe({ files: {} });
  assert.equal(code, 3);
  assert.equal(r.open_errno, String(ERRNO.NOENT));
});

test("clocks and entropy work", () => {
  const { r } = runProbe();
  assert.equal(r.realtime_after_2020, "1");
  assert.equal(r.monotonic_ok, "1");
  assert.equal(r.entropy_ok, "1");
});

test("stdout and stderr are split into lines, partial lines flushed at exit", () => {
  const { out, err } = runProbe();
  assert.ok(err.includes("to stderr line 1"));
  assert.ok(err.includes("to stderr partial"));
  assert.ok(out.includes("unfinished line without newline"));
});

test("respond keeps the last bytes handed over", () => {
  const { response } = runProbe({ stdin: "the request" });
  assert.equal(dec.decode(response), "the request");
});

test("exit codes and traps", () => {
  assert.equal(runProbe({ stdin: "exit:7" }).code, 7);
  assert.equal(runProbe({ stdin: "exit:0" }).code, 0);
  const logger = recordingLogger();
  const run = runInstance(vmProbeModule(), { avmBytes: enc.encode("x") }, enc.encode("trap!"), logger);
  assert.equal(run.response, null);
  assert.equal(run.exitCode, null);
  assert.match(run.trap, /unreachable/);
  // proc_exit inside ew_run is the run's exit code.
  assert.equal(runInstance(vmProbeModule(), { avmBytes: enc.encode("x") }, enc.encode("exit:5"), logger).exitCode, 5);
});

test("runInstance uses the fixed argv, boots once and runs a fresh instance each time", () => {
  const logger = recordingLogger();
  const avm = enc.encode("12345678");
  const a = runInstance(vmProbeModule(), { avmBytes: avm }, enc.encode("one"), logger);
  const b = runInstance(vmProbeModule(), { avmBytes: avm }, enc.encode("two"), logger);
  assert.equal(dec.decode(a.response), "one");
  assert.equal(dec.decode(b.response), "two");
  const r = report(logger.out);
  assert.equal(r.arg0, "atomvm");
  assert.equal(r.arg1, "/app/app.avm");
  assert.equal(r.envc, "0");
  // Boot output appears once: the second run started from the snapshot.
  assert.equal(logger.out.filter((l) => l.startsWith("argc=")).length, 1);
  assert.equal(logger.out.filter((l) => l.startsWith("stdin_len=")).length, 2);
});

test("every run starts from the boot snapshot, whatever the last run did", () => {
  const rt = new AppRuntime(vmProbeModule(), enc.encode("ABCDEFGH"));
  assert.equal(rt.boot(recordingLogger()), null);
  assertTailCoversMemory(rt);
  const counts = [];
  const runs = ["plain", "trap!", "exit:9", "grow:3", "plain", "grow:3", "grow:3", "grow:12", "plain", "grow:3", "plain"];
  for (const stdin of runs) {
    const logger = recordingLogger();
    const run = rt.run(enc.encode(stdin), logger);
    const r = report(logger.out);
    counts.push(r.runs_since_boot);
    if (stdin.startsWith("grow:")) assert.equal(r.grew, String(Number(stdin.slice(5)) << 20));
    // What the last run wrote above the snapshot's heap was cleared. (A block
    // past the allocator's first region holds its old end marker, as it would
    // after a fresh boot: only blocks inside it are all zero.)
    if (stdin === "grow:3") assert.equal(r.grow_block_was_zero, "1", `${stdin} after ${counts.length - 1} runs`);
    if (stdin === "plain") assert.equal(dec.decode(run.response), "plain");
  }
  // The guest's run counter lives in its memory: reset before every run, it
  // reads 1 each time, after a trap, a proc_exit and runs that wrote the heap.
  assert.deepEqual(counts, runs.map(() => "1"));
  assert.equal(rt.boots, 1);
  // One memory from boot, one more after the run that grew it past 10 MiB.
  assert.equal(rt.memoriesCreated, 2);
  // The dense snapshot stops at the booted heap's high-water mark.
  assert.ok(rt.snapshot.length < rt.memoryBytes / 4, `${rt.snapshot.length} of ${rt.memoryBytes}`);
  // Above it, only the allocator's few words at the end of its region.
  assert.equal(rt.tail.length, 1);
  assert.ok(rt.tail[0].data.length <= 64 && rt.tail[0].at + rt.tail[0].data.length <= rt.memoryBytes, JSON.stringify(rt.tail));
});

test("a boot that fails is reported and retried by the next request", () => {
  // The probe's ew_boot fails with 6 when the archive starts with "NOBOOT".
  const rt = new AppRuntime(vmProbeModule(), enc.encode("NOBOOT"));
  const logger = recordingLogger();
  const run = rt.run(enc.encode("one"), logger);
  assert.equal(run.exitCode, 6);
  assert.equal(run.response, null);
  assert.ok(logger.err.includes("probe: boot refused"), logger.err.join("\n"));
  assert.equal(rt.run(enc.encode("two"), logger).exitCode, 6);
  assert.equal(rt.boots, 2);
  assert.equal(rt.snapshot, null);
});
