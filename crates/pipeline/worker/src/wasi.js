// A WASI preview1 host written for this worker: just what AtomVM needs to
// boot from a read-only preopened directory, read a request from stdin and
// log to stdout/stderr. Everything else answers ENOSYS (or EBADF for a file
// descriptor that does not exist), so a call we did not plan for fails
// loudly inside the VM instead of pretending to work.
//
// Spec: https://github.com/WebAssembly/WASI/blob/main/legacy/preview1/docs.md
// All pointers, lengths and fds arrive as i32 and are read unsigned (>>> 0),
// so fd -1 is 0xFFFFFFFF (a bad descriptor), not stdio. Every guest buffer
// is checked against the current memory size first: one out of range is
// FAULT and nothing is read or written.

export const ERRNO = Object.freeze({
  SUCCESS: 0,
  ACCES: 2,
  BADF: 8,
  EXIST: 20,
  FAULT: 21,
  INVAL: 28,
  ISDIR: 31,
  NOENT: 44,
  NOSYS: 52,
  NOTDIR: 54,
  PERM: 63,
  ROFS: 69,
  SPIPE: 70,
  NOTCAPABLE: 76,
});

const FILETYPE_CHARACTER_DEVICE = 2;
const FILETYPE_DIRECTORY = 3;
const FILETYPE_REGULAR_FILE = 4;

const OFLAGS_CREAT = 1;
const OFLAGS_DIRECTORY = 2;
const OFLAGS_EXCL = 4;
const OFLAGS_TRUNC = 8;

// The largest file position we accept: offsets past it are INVAL (they could
// not be held exactly in a JS number, and no preopened file is that large).
const MAX_OFFSET = BigInt(Number.MAX_SAFE_INTEGER);

const RIGHTS_ALL = 0xffffffffffffffffn;
const EVENTTYPE_CLOCK = 0;
const EVENTTYPE_FD_READ = 1;
const EVENTTYPE_FD_WRITE = 2;

// Thrown by proc_exit to unwind out of _start; caught by `start`.
export class ProcExit extends Error {
  constructor(code) {
    super(`proc_exit(${code})`);
    this.code = code;
  }
}

const utf8 = new TextEncoder();
const utf8d = new TextDecoder();

// Splits output into lines for console.log/console.error; a partial line is
// kept until the next newline or `flush`.
// Each sink has its own streaming decoder: a character split across two
// writes must not leak its first bytes into another stream (or a path).
class LineSink {
  constructor(emit) {
    this.emit = emit;
    this.pending = "";
    this.decoder = new TextDecoder();
  }
  write(bytes) {
    const text = this.pending + this.decoder.decode(bytes, { stream: true });
    const lines = text.split("\n");
    this.pending = lines.pop();
    for (const line of lines) this.emit(line);
  }
  flush() {
    // Ends the stream too: incomplete bytes come out as U+FFFD here rather
    // than at the start of the next request's first line.
    const text = this.pending + this.decoder.decode();
    if (text !== "") this.emit(text);
    this.pending = "";
  }
}

/**
 * One WASI environment = one instance run.
 *
 * options:
 *   args:     string[] (argv)
 *   env:      string[] of "KEY=VALUE"
 *   stdin:    Uint8Array
 *   preopens: { "/app": { "app.avm": Uint8Array, ... } } — read-only, flat
 *   stdout, stderr: (line: string) => void
 *   now:      () => bigint nanoseconds since the epoch (default Date.now)
 */
export class WasiHost {
  constructor(options) {
    this.args = (options.args ?? []).map((a) => utf8.encode(a + "\0"));
    this.env = (options.env ?? []).map((e) => utf8.encode(e + "\0"));
    this.stdin = options.stdin ?? new Uint8Array(0);
    this.stdinPos = 0;
    this.stdout = new LineSink(options.stdout ?? ((l) => console.log(l)));
    this.stderr = new LineSink(options.stderr ?? ((l) => console.error(l)));
    this.now = options.now ?? (() => BigInt(Date.now()) * 1000000n);
    this.memory = null;
    // fd -> { kind: "dir", name, files } | { kind: "file", data, pos }
    this.fds = new Map();
    let fd = 3;
    for (const [name, files] of Object.entries(options.preopens ?? {})) {
      this.fds.set(fd++, { kind: "dir", name: utf8.encode(name), files: new Map(Object.entries(files)) });
    }
    this.nextFd = fd;
    this.firstFreeFd = fd;
    this.imports = this.#makeImports();
  }

  /**
   * Makes the host as it was new, for another run of the instance it serves:
   * `stdin` read from its start, and no file open but the preopened
   * directories.
   */
  reset(stdin) {
    this.stdin = stdin;
    this.stdinPos = 0;
    // Files get fds in order, so those a run opened are [firstFreeFd, nextFd).
    for (let fd = this.firstFreeFd; fd < this.nextFd; fd++) this.fds.delete(fd);
    this.nextFd = this.firstFreeFd;
  }

  /** Runs the command's `_start`; returns the exit code (0 when _start returns). */
  start(instance) {
    this.memory = instance.exports.memory;
    return this.call(() => {
      instance.exports._start();
      return 0;
    });
  }

  /**
   * Calls into the guest (a reactor's export): returns what `fn` returns,
   * or the code the guest passed to proc_exit. Output is flushed either way;
   * a trap is rethrown. `this.memory` must be set first.
   */
  call(fn) {
    try {
      return fn();
    } catch (e) {
      if (e instanceof ProcExit) return e.code;
      throw e;
    } finally {
      this.flush();
    }
  }

  flush() {
    this.stdout.flush();
    this.stderr.flush();
  }

  /** A copy of guest memory [ptr, ptr + len). */
  copyOut(ptr, len) {
    return new Uint8Array(this.memory.buffer, ptr >>> 0, len >>> 0).slice();
  }

  #makeImports() {
    const self = this;
    // The memory can grow during a call (detaching old views), so views are
    // made per call.
    const view = () => new DataView(self.memory.buffer);
    const bytes = () => new Uint8Array(self.memory.buffer);
    // Whether guest memory [ptr, ptr + len) exists; ptr is an i32 read
    // unsigned, len a non-negative count of bytes.
    const inRange = (ptr, len) => (ptr >>> 0) + len <= self.memory.buffer.byteLength;

    // iovec arrays: [{ buf: u32, buf_len: u32 }]. Returns null when the
    // array or any buffer it names is out of range, so a call can refuse
    // before touching anything.
    const iovecs = (iovs, n) => {
      n >>>= 0;
      if (!inRange(iovs, n * 8)) return null;
      const dv = view();
      const list = [];
      for (let i = 0; i < n; i++) {
        const at = (iovs >>> 0) + i * 8;
        const buf = dv.getUint32(at, true);
        const len = dv.getUint32(at + 4, true);
        if (!inRange(buf, len)) return null;
        list.push([buf, len]);
      }
      return list;
    };

    // Copies src[pos..] into the iovecs; returns the count, or -1 on FAULT.
    const readInto = (src, pos, iovs, n) => {
      const list = iovecs(iovs, n);
      if (!list) return -1;
      const mem = bytes();
      let total = 0;
      for (const [buf, len] of list) {
        if (len === 0) continue;
        const take = Math.min(len, src.length - pos - total);
        if (take <= 0) break;
        mem.set(src.subarray(pos + total, pos + total + take), buf);
        total += take;
        if (take < len) break;
      }
      return total;
    };

    const sizesGet = (list) => (countPtr, sizePtr) => {
      if (!inRange(countPtr, 4) || !inRange(sizePtr, 4)) return ERRNO.FAULT;
      const dv = view();
      dv.setUint32(countPtr >>> 0, list.length, true);
      dv.setUint32(sizePtr >>> 0, list.reduce((s, a) => s + a.length, 0), true);
      return ERRNO.SUCCESS;
    };
    const listGet = (list) => (ptrsPtr, bufPtr) => {
      const size = list.reduce((s, a) => s + a.length, 0);
      if (!inRange(ptrsPtr, list.length * 4) || !inRange(bufPtr, size)) return ERRNO.FAULT;
      const dv = view();
      const mem = bytes();
      let p = ptrsPtr >>> 0;
      let b = bufPtr >>> 0;
      for (const item of list) {
        dv.setUint32(p, b, true);
        mem.set(item, b);
        p += 4;
        b += item.length;
      }
      return ERRNO.SUCCESS;
    };

    const resolve = (dirFd, pathPtr, pathLen) => {
      const dir = self.fds.get(dirFd >>> 0);
      if (!dir) return { errno: ERRNO.BADF };
      if (dir.kind !== "dir") return { errno: ERRNO.NOTDIR };
      if (!inRange(pathPtr, pathLen >>> 0)) return { errno: ERRNO.FAULT };
      let path = utf8d.decode(bytes().subarray(pathPtr >>> 0, (pathPtr >>> 0) + (pathLen >>> 0)));
      const parts = path.split("/").filter((p) => p !== "" && p !== ".");
      if (parts.includes("..")) return { errno: ERRNO.NOTCAPABLE };
      path = parts.join("/");
      if (path === "") return { dir };
      const data = dir.files.get(path);
      if (!data) return { errno: ERRNO.NOENT };
      return { data };
    };

    // Callers check inRange(ptr, 64) first.
    const writeFilestat = (ptr, filetype, size) => {
      const dv = view();
      bytes().fill(0, ptr >>> 0, (ptr >>> 0) + 64);
      dv.setBigUint64((ptr >>> 0) + 24, 1n, true); // nlink
      dv.setUint8((ptr >>> 0) + 16, filetype);
      dv.setBigUint64((ptr >>> 0) + 32, BigInt(size), true);
    };

    const nosys = () => ERRNO.NOSYS;
    // stdio (0..2) or a descriptor we handed out.
    const isOpen = (fd) => (fd >>> 0) <= 2 || self.fds.has(fd >>> 0);

    return {
      args_sizes_get: sizesGet(self.args),
      args_get: listGet(self.args),
      environ_sizes_get: sizesGet(self.env),
      environ_get: listGet(self.env),

      clock_res_get(_id, resPtr) {
        if (!inRange(resPtr, 8)) return ERRNO.FAULT;
        view().setBigUint64(resPtr >>> 0, 1000n, true);
        return ERRNO.SUCCESS;
      },
      clock_time_get(id, _precision, timePtr) {
        if (id >>> 0 > 3) return ERRNO.INVAL;
        if (!inRange(timePtr, 8)) return ERRNO.FAULT;
        view().setBigUint64(timePtr >>> 0, self.now(), true);
        return ERRNO.SUCCESS;
      },

      random_get(bufPtr, len) {
        // getRandomValues fills at most 65536 bytes per call.
        let p = bufPtr >>> 0;
        let left = len >>> 0;
        if (!inRange(p, left)) return ERRNO.FAULT;
        while (left > 0) {
          const n = Math.min(left, 65536);
          crypto.getRandomValues(new Uint8Array(self.memory.buffer, p, n));
          p += n;
          left -= n;
        }
        return ERRNO.SUCCESS;
      },

      proc_exit(code) {
        throw new ProcExit(code);
      },
      proc_raise: nosys,
      sched_yield: () => ERRNO.SUCCESS,

      fd_prestat_get(fd, bufPtr) {
        const f = self.fds.get(fd >>> 0);
        if (!f || f.kind !== "dir") return ERRNO.BADF;
        if (!inRange(bufPtr, 8)) return ERRNO.FAULT;
        const dv = view();
        dv.setUint32(bufPtr >>> 0, 0, true); // preopentype dir
        dv.setUint32((bufPtr >>> 0) + 4, f.name.length, true);
        return ERRNO.SUCCESS;
      },
      fd_prestat_dir_name(fd, pathPtr, pathLen) {
        const f = self.fds.get(fd >>> 0);
        if (!f || f.kind !== "dir") return ERRNO.BADF;
        if (!inRange(pathPtr, pathLen >>> 0)) return ERRNO.FAULT;
        bytes().set(f.name.subarray(0, pathLen >>> 0), pathPtr >>> 0);
        return ERRNO.SUCCESS;
      },

      fd_fdstat_get(fd, bufPtr) {
        fd >>>= 0;
        let filetype;
        if (fd <= 2) filetype = FILETYPE_CHARACTER_DEVICE;
        else {
          const f = self.fds.get(fd);
          if (!f) return ERRNO.BADF;
          filetype = f.kind === "dir" ? FILETYPE_DIRECTORY : FILETYPE_REGULAR_FILE;
        }
        if (!inRange(bufPtr, 24)) return ERRNO.FAULT;
        const dv = view();
        bytes().fill(0, bufPtr >>> 0, (bufPtr >>> 0) + 24);
        dv.setUint8(bufPtr >>> 0, filetype);
        dv.setBigUint64((bufPtr >>> 0) + 8, RIGHTS_ALL, true);
        dv.setBigUint64((bufPtr >>> 0) + 16, RIGHTS_ALL, true);
        return ERRNO.SUCCESS;
      },
      fd_fdstat_set_flags: (fd) => (isOpen(fd) ? ERRNO.SUCCESS : ERRNO.BADF),

      fd_filestat_get(fd, bufPtr) {
        fd >>>= 0;
        if (!isOpen(fd)) return ERRNO.BADF;
        if (!inRange(bufPtr, 64)) return ERRNO.FAULT;
        if (fd <= 2) {
          writeFilestat(bufPtr, FILETYPE_CHARACTER_DEVICE, 0);
          return ERRNO.SUCCESS;
        }
        const f = self.fds.get(fd);
        if (f.kind === "dir") writeFilestat(bufPtr, FILETYPE_DIRECTORY, 0);
        else writeFilestat(bufPtr, FILETYPE_REGULAR_FILE, f.data.length);
        return ERRNO.SUCCESS;
      },
      path_filestat_get(fd, _flags, pathPtr, pathLen, bufPtr) {
        const r = resolve(fd, pathPtr, pathLen);
        if (r.errno) return r.errno;
        if (!inRange(bufPtr, 64)) return ERRNO.FAULT;
        if (r.dir) writeFilestat(bufPtr, FILETYPE_DIRECTORY, 0);
        else writeFilestat(bufPtr, FILETYPE_REGULAR_FILE, r.data.length);
        return ERRNO.SUCCESS;
      },

      path_open(dirFd, _dirflags, pathPtr, pathLen, oflags, _rightsBase, _rightsInh, _fdflags, fdPtr) {
        const r = resolve(dirFd, pathPtr, pathLen);
        // The tree is read-only: creating or truncating is refused.
        if (oflags & (OFLAGS_CREAT | OFLAGS_TRUNC | OFLAGS_EXCL)) {
          return [ERRNO.BADF, ERRNO.NOTDIR, ERRNO.FAULT].includes(r.errno) ? r.errno : ERRNO.ROFS;
        }
        if (r.errno) return r.errno;
        if (r.dir) return ERRNO.ISDIR;
        if (oflags & OFLAGS_DIRECTORY) return ERRNO.NOTDIR;
        if (!inRange(fdPtr, 4)) return ERRNO.FAULT;
        const fd = self.nextFd++;
        self.fds.set(fd, { kind: "file", data: r.data, pos: 0 });
        view().setUint32(fdPtr >>> 0, fd, true);
        return ERRNO.SUCCESS;
      },

      fd_close(fd) {
        fd >>>= 0;
        const f = self.fds.get(fd);
        if (!f || f.kind !== "file") return ERRNO.BADF;
        self.fds.delete(fd);
        return ERRNO.SUCCESS;
      },

      fd_read(fd, iovs, iovsLen, nreadPtr) {
        fd >>>= 0;
        const f = fd === 0 ? { data: self.stdin, pos: self.stdinPos } : self.fds.get(fd);
        if (!f) return ERRNO.BADF;
        if (f.kind === "dir") return ERRNO.ISDIR;
        if (!inRange(nreadPtr, 4)) return ERRNO.FAULT;
        const n = readInto(f.data, f.pos, iovs, iovsLen);
        if (n < 0) return ERRNO.FAULT;
        if (fd === 0) self.stdinPos += n;
        else f.pos += n;
        view().setUint32(nreadPtr >>> 0, n, true);
        return ERRNO.SUCCESS;
      },
      fd_pread(fd, iovs, iovsLen, offset, nreadPtr) {
        fd >>>= 0;
        if (fd <= 2) return ERRNO.SPIPE;
        const f = self.fds.get(fd);
        if (!f) return ERRNO.BADF;
        if (f.kind !== "file") return ERRNO.ISDIR;
        // filesize is u64: a "negative" i64 is a huge offset, never one
        // counted from the end.
        const off = BigInt.asUintN(64, offset);
        if (off > MAX_OFFSET) return ERRNO.INVAL;
        if (!inRange(nreadPtr, 4)) return ERRNO.FAULT;
        const n = readInto(f.data, Number(off), iovs, iovsLen);
        if (n < 0) return ERRNO.FAULT;
        view().setUint32(nreadPtr >>> 0, n, true);
        return ERRNO.SUCCESS;
      },
      fd_seek(fd, offset, whence, newOffsetPtr) {
        fd >>>= 0;
        if (fd <= 2) return ERRNO.SPIPE;
        const f = self.fds.get(fd);
        if (!f) return ERRNO.BADF;
        if (f.kind !== "file") return ERRNO.ISDIR;
        whence >>>= 0;
        const base = whence === 0 ? 0 : whence === 1 ? f.pos : whence === 2 ? f.data.length : -1;
        if (base < 0) return ERRNO.INVAL;
        // The delta is a signed filedelta (SEEK_END - 4 is legal); the
        // result is computed exactly in BigInt and must land in [0, MAX_OFFSET].
        const pos = BigInt(base) + BigInt.asIntN(64, offset);
        if (pos < 0n || pos > MAX_OFFSET) return ERRNO.INVAL;
        if (!inRange(newOffsetPtr, 8)) return ERRNO.FAULT;
        f.pos = Number(pos);
        view().setBigUint64(newOffsetPtr >>> 0, pos, true);
        return ERRNO.SUCCESS;
      },
      fd_tell(fd, offsetPtr) {
        fd >>>= 0;
        if (fd <= 2) return ERRNO.SPIPE;
        const f = self.fds.get(fd);
        if (!f) return ERRNO.BADF;
        if (f.kind !== "file") return ERRNO.ISDIR;
        if (!inRange(offsetPtr, 8)) return ERRNO.FAULT;
        view().setBigUint64(offsetPtr >>> 0, BigInt(f.pos), true);
        return ERRNO.SUCCESS;
      },

      fd_write(fd, iovs, iovsLen, nwrittenPtr) {
        fd >>>= 0;
        let sink;
        if (fd === 1) sink = self.stdout;
        else if (fd === 2) sink = self.stderr;
        else return self.fds.has(fd) ? ERRNO.PERM : ERRNO.BADF;
        // Everything is checked before the first byte reaches the sink.
        const list = iovecs(iovs, iovsLen);
        if (!list || !inRange(nwrittenPtr, 4)) return ERRNO.FAULT;
        const mem = bytes();
        let total = 0;
        for (const [buf, len] of list) {
          if (len === 0) continue;
          sink.write(mem.subarray(buf, buf + len));
          total += len;
        }
        view().setUint32(nwrittenPtr >>> 0, total, true);
        return ERRNO.SUCCESS;
      },
      fd_sync: (fd) => (isOpen(fd) ? ERRNO.SUCCESS : ERRNO.BADF),
      fd_datasync: (fd) => (isOpen(fd) ? ERRNO.SUCCESS : ERRNO.BADF),

      // Nothing here can block: every clock subscription has expired and
      // every fd is ready, so a guest waiting for an event never hangs the
      // request (a request has no reason to sleep).
      poll_oneoff(inPtr, outPtr, nsubs, neventsPtr) {
        nsubs >>>= 0;
        if (!inRange(inPtr, nsubs * 48) || !inRange(outPtr, nsubs * 32) || !inRange(neventsPtr, 4)) {
          return ERRNO.FAULT;
        }
        const dv = view();
        let n = 0;
        for (let i = 0; i < nsubs; i++) {
          const sub = (inPtr >>> 0) + i * 48;
          const ev = (outPtr >>> 0) + n * 32;
          const tag = dv.getUint8(sub + 8);
          bytes().fill(0, ev, ev + 32);
          dv.setBigUint64(ev, dv.getBigUint64(sub, true), true); // userdata
          dv.setUint8(ev + 10, tag);
          if (tag === EVENTTYPE_FD_READ || tag === EVENTTYPE_FD_WRITE) {
            const fd = dv.getUint32(sub + 16, true);
            if (fd > 2 && !self.fds.has(fd)) dv.setUint16(ev + 8, ERRNO.BADF, true);
            else if (tag === EVENTTYPE_FD_READ && fd === 0)
              dv.setBigUint64(ev + 16, BigInt(self.stdin.length - self.stdinPos), true);
          } else if (tag !== EVENTTYPE_CLOCK) {
            dv.setUint16(ev + 8, ERRNO.INVAL, true);
          }
          n++;
        }
        dv.setUint32(neventsPtr >>> 0, n, true);
        return ERRNO.SUCCESS;
      },

      fd_advise: nosys,
      fd_allocate: nosys,
      fd_fdstat_set_rights: nosys,
      fd_filestat_set_size: nosys,
      fd_filestat_set_times: nosys,
      fd_pwrite: nosys,
      fd_readdir: nosys,
      fd_renumber: nosys,
      path_create_directory: nosys,
      path_filestat_set_times: nosys,
      path_link: nosys,
      path_readlink: nosys,
      path_remove_directory: nosys,
      path_rename: nosys,
      path_symlink: nosys,
      path_unlink_file: nosys,
      sock_accept: nosys,
      sock_recv: nosys,
      sock_send: nosys,
      sock_shutdown: nosys,
    };
  }
}
