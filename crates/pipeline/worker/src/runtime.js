// Runs atomvm.wasm for one request: an instance of the compiled module reset
// to a snapshot of the booted VM, the request on stdin, the response through
// the `elixir_workers.respond` import.
//
// The module is a WASI reactor (crates/runtime/atomvm-wasi/src/main.c): `ew_boot`
// loads the archive and every module in it, `ew_run` runs start/0. Between
// the two the VM holds no process and no C frame, so the instance's whole
// state is its linear memory and its one mutable global, the stack pointer
// (the module never writes its function table). The first request of an
// isolate boots once and copies that memory; every request then runs on an
// instance whose memory is reset to the copy and whose stack pointer is put
// back where instantiation sets it, so no request sees anything an earlier
// one did and none pays for loading the app again. The instance is the same
// one from request to request (a new one costs about 80 µs and the garbage
// of its wrappers, which showed as collector pauses among a new isolate's
// first hundred requests); it is made anew with a new memory, and for a
// module that does not export `__stack_pointer`.
//
// A built worker does not boot at all: `elixir-workers build` boots the VM
// on the app once (crates/pipeline/src/boot.rs) and ships what the boot
// changed in the memory as boot.bin, paired with atomvm.wasm by a build id
// in the module's custom section BOOT_ID_SECTION. The first request of an
// isolate then instantiates the module into a fresh memory and applies the
// image: the same bytes a boot would have left (a test compares them), with
// no module loaded, no loader compiled and no archive read.
//
// The memory is imported (`elixir_workers.memory`) so that one
// WebAssembly.Memory can serve request after request: resetting pages that
// are already mapped is a plain copy, where a new memory costs a page fault
// on the first touch of every page (~0.7 ms per MB here). The VM boots in
// BOOT_MEMORY_PAGES, and wasi-libc's allocator takes all of it as its first
// heap, so requests find megabytes free above the booted heap. A reset copies
// the snapshot up to the booted heap's end and zeroes what the last run wrote
// above it (putting back the few nonzero words the allocator keeps there), up
// to the heap's high-water mark the guest reports
// (`ew_heap_high_water`, crates/runtime/atomvm-wasi/src/heap_mark.c). A run that
// grows the memory gets a new one next time: the allocator inside must find
// the heap exactly where the snapshot left it.
//
// The runtime ABI (argv, the /app preopen, the imports and exports) is fixed
// in the project's contracts; see PROTOCOL.md for what travels over it.

import { WasiHost } from "./wasi.js";

export const ARGV = ["atomvm", "/app/app.avm"];

const PAGE = 65536;
/**
 * The memory the VM boots in (10 MiB): the module's minimum (its stack and
 * static data) is below it, which `cargo xtask runtime` checks, and the rest
 * is heap for boot and for requests.
 */
export const BOOT_MEMORY_PAGES = 160;
// Bytes above the high-water mark an allocator may still have written (the
// header of the chunk that follows the highest one).
const HIGH_WATER_MARGIN = 4096;

/** How atomvm.wasm exits when a run passes one of its budgets (budget.c). */
export const EXIT_BUDGET = 4;

/**
 * A run's budgets unless the project sets its own (`budget` in
 * elixir-workers.json): 50 million reductions, 3.7 s of an endless loop
 * measured in Node on a 2-core machine (Workers' default CPU limit is 30 s;
 * summing a range of ten million numbers takes about 40 million), and a heap
 * ceiling of 64 MiB of the VM's memory (Workers gives an isolate 128 MB in
 * all).
 */
export const DEFAULT_BUDGET = { reductions: 50_000_000, memoryBytes: 64 * 1024 * 1024 };

/** The custom section of atomvm.wasm holding its boot image's build id. */
export const BOOT_ID_SECTION = "elixir_workers.boot_id";
const BOOT_MAGIC = "EWBOOT01";

/**
 * Reads a boot image (the layout is in crates/pipeline/src/boot.rs).
 * @param {ArrayBuffer|Uint8Array} image
 * @returns {{id: Uint8Array, pages: number, dirty: number, ranges: {at: number, data: Uint8Array}[]}}
 */
export function parseBootImage(image) {
  const bytes = image instanceof Uint8Array ? image : new Uint8Array(image);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (what) => {
    throw new Error(`boot.bin is damaged: ${what}; run \`elixir-workers build\` again`);
  };
  if (bytes.length < 36 || String.fromCharCode(...bytes.subarray(0, 8)) !== BOOT_MAGIC) fail("not a boot image");
  const id = bytes.subarray(8, 24);
  const pages = dv.getUint32(24, true);
  const dirty = dv.getUint32(28, true);
  const count = dv.getUint32(32, true);
  const size = pages * PAGE;
  const ranges = [];
  let p = 36;
  let end = 0;
  for (let i = 0; i < count; i++) {
    if (p + 8 > bytes.length) fail("it ends early");
    const at = dv.getUint32(p, true);
    const len = dv.getUint32(p + 4, true);
    p += 8;
    if (at < end || at + len > size || p + len > bytes.length) fail(`range ${i} is out of place`);
    ranges.push({ at, data: bytes.subarray(p, p + len) });
    p += len;
    end = at + len;
  }
  if (p !== bytes.length || dirty > size) fail("its header does not match its size");
  return { id, pages, dirty, ranges };
}

// The build id `build` appended to atomvm.wasm, or null.
function moduleBootId(wasmModule) {
  const sections = WebAssembly.Module.customSections(wasmModule, BOOT_ID_SECTION);
  return sections.length === 1 ? new Uint8Array(sections[0]) : null;
}

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

const roundUp = (n, to) => Math.ceil(n / to) * to;

// The nonzero bytes of the booted memory above `from` (the heap's
// high-water mark): wasi-libc's allocator writes nothing there but a few
// words at the end of its region, so they are found by scanning back from the
// end of the memory until a long run of zeros. Reading the whole 9 MB would
// cost a page fault per page in a cold isolate (10-30 ms here); this reads a
// few kilobytes. Returns [{at, data}].
function tailAbove(bytes, from, zeroRun = 4096) {
  const words = new BigUint64Array(bytes.buffer, bytes.byteOffset + from, (bytes.length - from) / 8);
  let end = words.length;
  while (end > 0 && words[end - 1] === 0n) end--;
  if (end === 0) return [];
  let start = end - 1;
  for (let i = start - 1, zeros = 0; i >= 0 && zeros * 8 < zeroRun; i--) {
    if (words[i] === 0n) zeros++;
    else {
      start = i;
      zeros = 0;
    }
  }
  return [{ at: from + start * 8, data: bytes.slice(from + start * 8, from + end * 8) }];
}

// What a run may have written: everything below the heap's high-water mark
// (plus the margin), or the whole memory when the guest cannot say.
function dirtyEnd(instance, memoryBytes) {
  let mark = memoryBytes;
  try {
    mark = instance.exports.ew_heap_high_water() >>> 0;
  } catch {
    // A guest that cannot answer: assume everything.
  }
  return Math.min(memoryBytes, roundUp(mark + HIGH_WATER_MARGIN, 8));
}

/** What one run gave back: exit code or trap, and the last response. */
function outcome(exitCode, trap, response) {
  return { exitCode, trap, response };
}

function trapMessage(e) {
  return e && e.message ? e.message : String(e);
}

/**
 * A booted app: the compiled module, the archive or the boot image, and the
 * snapshot of the VM's memory right after `ew_boot`.
 */
export class AppRuntime {
  /**
   * @param {WebAssembly.Module} wasmModule compiled atomvm.wasm
   * @param {Uint8Array|null} avmBytes the app archive, booted on the first run
   * @param {ArrayBuffer|Uint8Array|null} bootImage the booted memory made by
   *   `build` (boot.bin); when given, the archive is not needed
   */
  constructor(wasmModule, avmBytes, bootImage = null) {
    this.wasmModule = wasmModule;
    this.avmBytes = avmBytes;
    this.bootImage = bootImage;
    /** @type {Uint8Array|null} the booted memory up to its heap's high-water mark */
    this.snapshot = null;
    /** @type {{at: number, data: Uint8Array}[]} the booted memory's nonzero bytes above that */
    this.tail = [];
    /** The booted memory's size in bytes. */
    this.memoryBytes = 0;
    /** @type {WebAssembly.Memory|null} the memory the next run resets and uses */
    this.memory = null;
    /** Where this.memory may differ from the snapshot: [0, dirty). */
    this.dirty = 0;
    /** Boots so far (a failed boot is retried by the next request). */
    this.boots = 0;
    /** Memories created (the boot's, and one after each run that grew its memory). */
    this.memoriesCreated = 0;
    /** @type {{wasi: WasiHost, instance: WebAssembly.Instance, memory: WebAssembly.Memory, stackPointer: number|null}|null} */
    this.live = null;
  }

  /** Where the running instance's output and response go. */
  #io = { logger: console, onRespond: () => {} };

  #instantiate(memory, stdin, logger, onRespond) {
    const wasi = new WasiHost({
      args: ARGV,
      env: [],
      stdin,
      preopens: { "/app": this.avmBytes ? { "app.avm": this.avmBytes } : {} },
      stdout: (line) => this.#io.logger.log(line),
      stderr: (line) => this.#io.logger.error(line),
    });
    this.#io = { logger, onRespond };
    const imports = {
      wasi_snapshot_preview1: wasi.imports,
      elixir_workers: {
        memory,
        // The last response handed over wins; it is copied out at once
        // because the guest may reuse the memory afterwards.
        respond: (ptr, len) => {
          this.#io.onRespond(wasi.copyOut(ptr, len));
        },
      },
    };
    const instance = new WebAssembly.Instance(this.wasmModule, imports);
    wasi.memory = memory;
    const sp = instance.exports.__stack_pointer;
    const stackPointer = sp instanceof WebAssembly.Global ? sp.value : null;
    return { wasi, instance, memory, stackPointer };
  }

  // The instance for the next run on `memory`: the last one, made as new
  // (its stack pointer back where instantiation put it, its WASI host
  // reset), or a new one when the memory is new or the module does not
  // export its stack pointer. The linear memory and that global are all the
  // state an instance has: the module's table is never written.
  #instanceFor(memory, stdin, logger, onRespond) {
    const live = this.live;
    if (live !== null && live.memory === memory && live.stackPointer !== null) {
      live.instance.exports.__stack_pointer.value = live.stackPointer;
      live.wasi.reset(stdin);
      this.#io = { logger, onRespond };
      return live;
    }
    this.live = this.#instantiate(memory, stdin, logger, onRespond);
    return this.live;
  }

  /**
   * Boots into a new memory and keeps the snapshot (the first run does this
   * by itself). Returns null, or the failed outcome: exit code 2 with the
   * VM's reason on stderr, or a trap.
   */
  boot(logger = console) {
    if (this.bootImage !== null) return this.#bootFromImage(logger);
    this.boots++;
    const memory = new WebAssembly.Memory({ initial: BOOT_MEMORY_PAGES });
    this.memoriesCreated++;
    this.live = this.#instantiate(memory, new Uint8Array(0), logger, () => {});
    const { wasi, instance } = this.live;
    let code;
    try {
      code = wasi.call(() => {
        instance.exports._initialize();
        return instance.exports.ew_boot();
      });
    } catch (e) {
      return outcome(null, trapMessage(e), null);
    }
    if (code !== 0) return outcome(code, null, null);
    const bytes = new Uint8Array(memory.buffer);
    // The snapshot: every byte up to the heap's high-water mark, and above it
    // the few nonzero words the allocator keeps at the end of its region;
    // the rest is zero (a test holds this against a scan of every byte).
    const size = bytes.length;
    const end = dirtyEnd(instance, size);
    this.snapshot = bytes.slice(0, end);
    this.tail = tailAbove(bytes, end);
    this.memoryBytes = size;
    this.memory = memory;
    this.dirty = end;
    return null;
  }

  // The boot made at build time: a fresh memory, the module's data segments
  // written by instantiating it, then the image's ranges over them. Returns
  // null, or the failed outcome (an image that is damaged or belongs to
  // another atomvm.wasm) as a trap.
  #bootFromImage(logger) {
    this.boots++;
    let image;
    try {
      image = parseBootImage(this.bootImage);
      const id = moduleBootId(this.wasmModule);
      if (id === null || hex(id) !== hex(image.id)) {
        throw new Error(
          `boot.bin (build ${hex(image.id)}) was not made for this atomvm.wasm ` +
            `(build ${id === null ? "none" : hex(id)}); run \`elixir-workers build\` again`,
        );
      }
    } catch (e) {
      return outcome(null, trapMessage(e), null);
    }
    const memory = new WebAssembly.Memory({ initial: image.pages });
    this.memoriesCreated++;
    this.live = this.#instantiate(memory, new Uint8Array(0), logger, () => {});
    const bytes = new Uint8Array(memory.buffer);
    for (const { at, data } of image.ranges) bytes.set(data, at);
    this.snapshot = bytes.slice(0, image.dirty);
    this.tail = tailAbove(bytes, image.dirty);
    this.memoryBytes = bytes.length;
    this.memory = memory;
    this.dirty = image.dirty;
    return null;
  }

  // The memory for the next run: the one kept from the last run, or a new
  // one (zeroed, so only the snapshot's bytes need writing) when that run
  // grew it.
  #nextMemory() {
    if (this.memory === null || this.memory.buffer.byteLength !== this.memoryBytes) {
      this.memory = new WebAssembly.Memory({ initial: this.memoryBytes / PAGE });
      this.memoriesCreated++;
      const bytes = new Uint8Array(this.memory.buffer);
      for (const { at, data } of this.tail) bytes.set(data, at);
      this.dirty = this.snapshot.length;
    }
    return this.memory;
  }

  /**
   * Runs the app once on `stdin`.
   * @param {Uint8Array} stdin the request bytes
   * @param {{log: Function, error: Function}} logger where stdout/stderr lines go
   * @param {{reductions: number, memoryBytes: number}} budget the run's budgets
   *   (0 = none); past one the VM exits with EXIT_BUDGET
   * @returns {{exitCode: number|null, trap: string|null, response: Uint8Array|null}}
   */
  run(stdin, logger = console, budget = DEFAULT_BUDGET) {
    return this.#call("ew_run", stdin, logger, budget);
  }

  /**
   * What an isolate does when it starts, before any request: boots (from
   * the image) and, when the module has `ew_warm`, runs it (no app code, see
   * crates/runtime/atomvm-wasi/src/main.c), so that V8 has compiled the
   * interpreter loop and the process machinery by the first request. The
   * next run resets the memory as after any run. Returns null, or the failed
   * outcome (the first request then tries again, as without this): an exit
   * other than 0, a trap, or a response, which only app code would give.
   */
  warm(logger = console) {
    if (this.snapshot === null) {
      const failed = this.boot(logger);
      if (failed !== null) return failed;
    }
    if (typeof this.live?.instance.exports.ew_warm !== "function") return null;
    const warmed = this.#call("ew_warm", new Uint8Array(0), logger, DEFAULT_BUDGET);
    return warmed.exitCode === 0 && warmed.response === null ? null : warmed;
  }

  // One call of `name` (ew_run, or ew_warm) from the boot snapshot.
  #call(name, stdin, logger, budget) {
    if (this.snapshot === null) {
      const failed = this.boot(logger);
      if (failed !== null) return failed;
    }
    const memory = this.#nextMemory();
    let response = null;
    const { wasi, instance } = this.#instanceFor(memory, stdin, logger, (bytes) => {
      response = bytes;
    });
    // A new instance wrote the module's data segments into the memory again;
    // either way the snapshot goes over everything the last run left.
    const bytes = new Uint8Array(memory.buffer);
    bytes.set(this.snapshot);
    if (this.dirty > this.snapshot.length) {
      bytes.fill(0, this.snapshot.length, this.dirty);
      for (const { at, data } of this.tail) if (at < this.dirty) bytes.set(data, at);
    }
    // The budget lives in the memory just restored: set it for this run.
    instance.exports.ew_set_budget(budget.reductions >>> 0, budget.memoryBytes >>> 0);
    let exitCode = null;
    let trap = null;
    try {
      exitCode = wasi.call(() => instance.exports[name]());
    } catch (e) {
      trap = trapMessage(e);
    }
    this.dirty = Math.max(this.snapshot.length, dirtyEnd(instance, memory.buffer.byteLength));
    return outcome(exitCode, trap, response);
  }
}

// One booted runtime per (module, image or archive) pair, for as long as both live.
const runtimes = new WeakMap();

/**
 * The AppRuntime for this module and app, booting it on first use.
 * @param {WebAssembly.Module} wasmModule
 * @param {{avmBytes?: Uint8Array, bootImage?: ArrayBuffer|Uint8Array}} app
 *   the boot image if there is one, else the archive
 */
export function appRuntime(wasmModule, { avmBytes = null, bootImage = null }) {
  const key = bootImage ?? avmBytes;
  let byApp = runtimes.get(wasmModule);
  if (!byApp) {
    byApp = new WeakMap();
    runtimes.set(wasmModule, byApp);
  }
  let rt = byApp.get(key);
  if (!rt) {
    rt = new AppRuntime(wasmModule, avmBytes, bootImage);
    byApp.set(key, rt);
  }
  return rt;
}

/**
 * Starts an isolate's runtime for this module and app before any request
 * (`AppRuntime.warm`). Returns null, or the failed outcome.
 */
export function warmRuntime(wasmModule, app, logger = console) {
  return appRuntime(wasmModule, app).warm(logger);
}

/**
 * Runs the app once: `appRuntime(wasmModule, app).run(stdin, logger, budget)`.
 * @returns {{exitCode: number|null, trap: string|null, response: Uint8Array|null}}
 */
export function runInstance(wasmModule, app, stdin, logger = console, budget = DEFAULT_BUDGET) {
  return appRuntime(wasmModule, app).run(stdin, logger, budget);
}
