// The WASI imports called directly on a bare WebAssembly.Memory, to reach the
// malformed arguments a well-behaved C program never passes: buffers past
// the end of memory, fd -1, oversized offsets and empty iovecs.
import test from "node:test";
import assert from "node:assert/strict";
import { WasiHost, ERRNO } from "../src/wasi.js";

const PAGE = 65536;

function host(files = { "app.avm": new TextEncoder().encode("ABCDEFGH") }) {
  const out = [];
  const err = [];
  const wasi = new WasiHost({
    stdin: new TextEncoder().encode("stdin-bytes"),
    preopens: { "/app": files },
    stdout: (l) => out.push(l),
    stderr: (l) => err.push(l),
  });
  wasi.memory = new WebAssembly.Memory({ initial: 1 });
  const dv = new DataView(wasi.memory.buffer);
  const mem = new Uint8Array(wasi.memory.buffer);
  const iov = (at, list) => list.forEach(([buf, len], i) => {
    dv.setUint32(at + i * 8, buf, true);
    dv.setUint32(at + i * 8 + 4, len, true);
  });
  return { wasi, out, err, dv, mem, iov, w: wasi.imports };
}

function openApp(h) {
  h.mem.set(new TextEncoder().encode("app.avm"), 200);
  assert.equal(h.w.path_open(3, 0, 200, 7, 0, 0n, 0n, 0, 300), ERRNO.SUCCESS);
  return h.dv.getUint32(300, true);
}

test("an fd_write iovec past the end of memory is FAULT and writes nothing", () => {
  const h = host();
  h.mem.set(new TextEncoder().encode("ok\n"), 100);
  h.dv.setUint32(40, 0xdead, true);
  h.iov(0, [[100, 3], [PAGE - 2, 10]]);
  assert.equal(h.w.fd_write(1, 0, 2, 40), ERRNO.FAULT);
  h.wasi.flush();
  assert.deepEqual(h.out, []);
  assert.equal(h.dv.getUint32(40, true), 0xdead, "nwritten untouched");
  // A pointer that wraps past 2^32 is out of range too.
  h.iov(0, [[0xfffffff0, 0x20]]);
  assert.equal(h.w.fd_write(2, 0, 1, 40), ERRNO.FAULT);
  // The iovec array itself out of range.
  assert.equal(h.w.fd_write(1, PAGE - 4, 1, 40), ERRNO.FAULT);
  assert.equal(h.w.fd_write(1, 0, 1, PAGE - 2), ERRNO.FAULT);
});

test("other syscalls answer FAULT for out-of-range buffers instead of throwing", () => {
  const h = host();
  const fd = openApp(h);
  h.iov(0, [[PAGE - 4, 8]]);
  assert.equal(h.w.fd_read(fd, 0, 1, 40), ERRNO.FAULT);
  assert.equal(h.w.fd_read(0, 0, 1, 40), ERRNO.FAULT);
  assert.equal(h.w.fd_pread(fd, 0, 1, 0n, 40), ERRNO.FAULT);
  assert.equal(h.w.path_open(3, 0, PAGE - 3, 7, 0, 0n, 0n, 0, 300), ERRNO.FAULT);
  assert.equal(h.w.path_filestat_get(3, 0, 200, 7, PAGE - 8), ERRNO.FAULT);
  assert.equal(h.w.fd_filestat_get(fd, PAGE - 63), ERRNO.FAULT);
  assert.equal(h.w.fd_fdstat_get(1, PAGE - 1), ERRNO.FAULT);
  assert.equal(h.w.fd_prestat_get(3, PAGE - 4), ERRNO.FAULT);
  assert.equal(h.w.fd_prestat_dir_name(3, PAGE - 1, 4), ERRNO.FAULT);
  assert.equal(h.w.fd_seek(fd, 0n, 0, PAGE - 4), ERRNO.FAULT);
  assert.equal(h.w.fd_tell(fd, -1), ERRNO.FAULT);
  assert.equal(h.w.clock_time_get(0, 0n, PAGE - 4), ERRNO.FAULT);
  assert.equal(h.w.clock_res_get(0, PAGE), ERRNO.FAULT);
  assert.equal(h.w.random_get(PAGE - 10, 11), ERRNO.FAULT);
  assert.equal(h.w.args_sizes_get(PAGE, 0), ERRNO.FAULT);
  assert.equal(h.w.environ_get(PAGE - 2, 0), ERRNO.SUCCESS, "an empty list touches nothing");
  assert.equal(h.w.poll_oneoff(PAGE - 40, 0, 1, 100), ERRNO.FAULT);
});

test("fd -1 (0xFFFFFFFF) is a bad descriptor, not stdio", () => {
  const h = host();
  h.mem.set(new TextEncoder().encode("x\n"), 100);
  h.iov(0, [[100, 2]]);
  for (const fd of [-1, 0xffffffff]) {
    assert.equal(h.w.fd_write(fd, 0, 1, 40), ERRNO.BADF);
    assert.equal(h.w.fd_read(fd, 0, 1, 40), ERRNO.BADF);
    assert.equal(h.w.fd_pread(fd, 0, 1, 0n, 40), ERRNO.BADF);
    assert.equal(h.w.fd_seek(fd, 0n, 0, 40), ERRNO.BADF);
    assert.equal(h.w.fd_tell(fd, 40), ERRNO.BADF);
    assert.equal(h.w.fd_fdstat_get(fd, 40), ERRNO.BADF);
    assert.equal(h.w.fd_filestat_get(fd, 40), ERRNO.BADF);
    assert.equal(h.w.fd_fdstat_set_flags(fd, 0), ERRNO.BADF);
    assert.equal(h.w.fd_sync(fd), ERRNO.BADF);
    assert.equal(h.w.fd_datasync(fd), ERRNO.BADF);
    assert.equal(h.w.fd_close(fd), ERRNO.BADF);
  }
  h.wasi.flush();
  assert.deepEqual(h.out, []);
});

test("zero-length iovecs are skipped, not taken as end of data", () => {
  const h = host();
  const fd = openApp(h);
  h.iov(0, [[500, 0], [500, 3], [600, 0], [600, 10]]);
  assert.equal(h.w.fd_read(fd, 0, 4, 40), ERRNO.SUCCESS);
  assert.equal(h.dv.getUint32(40, true), 8);
  const dec = new TextDecoder();
  assert.equal(dec.decode(h.mem.subarray(500, 503)), "ABC");
  assert.equal(dec.decode(h.mem.subarray(600, 605)), "DEFGH");
  assert.equal(h.w.fd_read(0, 0, 4, 40), ERRNO.SUCCESS);
  assert.equal(h.dv.getUint32(40, true), 11);
  assert.equal(h.w.fd_pread(fd, 0, 2, 2n, 40), ERRNO.SUCCESS);
  assert.equal(h.dv.getUint32(40, true), 3);
  assert.equal(dec.decode(h.mem.subarray(500, 503)), "CDE");
  h.mem.set(new TextEncoder().encode("hi\n"), 700);
  h.iov(0, [[0, 0], [700, 3]]);
  assert.equal(h.w.fd_write(1, 0, 2, 40), ERRNO.SUCCESS);
  assert.equal(h.dv.getUint32(40, true), 3);
  h.wasi.flush();
  assert.deepEqual(h.out, ["hi"]);
});

test("pread and seek offsets are 64-bit: a negative offset never reads from the end", () => {
  const h = host();
  const fd = openApp(h);
  h.iov(0, [[500, 4]]);
  h.mem.fill(0x7a, 500, 504);
  // -2 as an i64 is 2^64 - 2 unsigned: far past any file.
  assert.equal(h.w.fd_pread(fd, 0, 1, -2n, 40), ERRNO.INVAL);
  assert.equal(h.w.fd_pread(fd, 0, 1, 1n << 62n, 40), ERRNO.INVAL);
  assert.equal(new TextDecoder().decode(h.mem.subarray(500, 504)), "zzzz");
  // Past the end but representable: reads nothing.
  assert.equal(h.w.fd_pread(fd, 0, 1, 100n, 40), ERRNO.SUCCESS);
  assert.equal(h.dv.getUint32(40, true), 0);
  // Seek deltas are signed, but the result must stay in range.
  assert.equal(h.w.fd_seek(fd, -2n, 2, 40), ERRNO.SUCCESS);
  assert.equal(h.dv.getBigUint64(40, true), 6n);
  assert.equal(h.w.fd_seek(fd, -7n, 1, 40), ERRNO.INVAL);
  assert.equal(h.w.fd_seek(fd, (1n << 63n) - 1n, 2, 40), ERRNO.INVAL);
  assert.equal(h.w.fd_tell(fd, 40), ERRNO.SUCCESS);
  assert.equal(h.dv.getBigUint64(40, true), 6n, "a refused seek leaves the position alone");
});
