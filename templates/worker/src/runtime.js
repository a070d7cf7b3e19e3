// Runs atomvm.wasm for one request: a fresh instance of the compiled module
// per request, started from a snapshot of the booted VM, the request on
// stdin, the response through the `elixir_workers.respond` import.
//
// The module is a WASI reactor (runtime/atomvm-wasi/src/main.c): `ew_boot`
// loads the archive and every module in it, `ew_run` runs start/0. Between
// the two the VM holds no process and no C frame, so the instance's whole
// state is its linear memory. The first request of an isolate boots once and
// copies that memory; every request then gets a fresh instance whose memory
// is reset to the copy before it runs, so no request sees anything an
// earlier one did and none pays for loading the app again.
//
// The memory is imported (`elixir_workers.memory`) so that one
// WebAssembly.Memory can serve request after request: resetting pages that
// are already mapped is a plain copy, where a new memory costs a page fault
// on the first touch of every page (~0.7 ms per MB here). A run that grows
// the memory gets a new one next time: dlmalloc inside must find the heap
// exactly where the snapshot left it.
//
// The runtime ABI (argv, the /app preopen, the imports and exports) is fixed
// in the project's contracts; see PROTOCOL.md for what travels over it.

import { WasiHost } from "./wasi.js";

export const ARGV = ["atomvm", "/app/app.avm"];

const PAGE = 65536;
// The module's memory minimum (its stack and static data) is below this;
// `cargo xtask runtime` links it so.
export const BOOT_MEMORY_PAGES = 16;

/** What one run gave back: exit code or trap, and the last response. */
function outcome(exitCode, trap, response) {
  return { exitCode, trap, response };
}

function trapMessage(e) {
  return e && e.message ? e.message : String(e);
}

/**
 * A booted app: the compiled module, the archive, and the snapshot of the
 * VM's memory right after `ew_boot`.
 */
export class AppRuntime {
  /**
   * @param {WebAssembly.Module} wasmModule compiled atomvm.wasm
   * @param {Uint8Array} avmBytes the app archive
   */
  constructor(wasmModule, avmBytes) {
    this.wasmModule = wasmModule;
    this.avmBytes = avmBytes;
    /** @type {Uint8Array|null} the memory right after a successful boot */
    this.snapshot = null;
    /** @type {WebAssembly.Memory|null} a memory holding exactly the snapshot, or null */
    this.memory = null;
    /** Boots so far (a failed boot is retried by the next request). */
    this.boots = 0;
    /** Memories created from the snapshot (the first, and one after each run that grew). */
    this.memoriesCreated = 0;
  }

  #instantiate(memory, logger, onRespond) {
    const wasi = new WasiHost({
      args: ARGV,
      env: [],
      stdin: this.stdin ?? new Uint8Array(0),
      preopens: { "/app": { "app.avm": this.avmBytes } },
      stdout: (line) => logger.log(line),
      stderr: (line) => logger.error(line),
    });
    const imports = {
      wasi_snapshot_preview1: wasi.imports,
      elixir_workers: {
        memory,
        // The last response handed over wins; it is copied out at once
        // because the guest may reuse the memory afterwards.
        respond(ptr, len) {
          onRespond(wasi.copyOut(ptr, len));
        },
      },
    };
    const instance = new WebAssembly.Instance(this.wasmModule, imports);
    wasi.memory = memory;
    return { wasi, instance };
  }

  // Boots into a new memory; on success keeps the snapshot. Returns null or
  // the failed outcome (exit code 2 with the VM's reason on stderr, or a trap).
  #boot(logger) {
    this.boots++;
    const memory = new WebAssembly.Memory({ initial: BOOT_MEMORY_PAGES });
    this.stdin = null;
    const { wasi, instance } = this.#instantiate(memory, logger, () => {});
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
    this.snapshot = new Uint8Array(memory.buffer).slice();
    this.memory = memory;
    this.memoriesCreated++;
    return null;
  }

  // A memory holding exactly the snapshot: the one kept from the last run
  // (reset), or a new one when that run grew it.
  #freshMemory() {
    if (this.memory !== null && this.memory.buffer.byteLength === this.snapshot.length) {
      return this.memory;
    }
    const memory = new WebAssembly.Memory({ initial: this.snapshot.length / PAGE });
    new Uint8Array(memory.buffer).set(this.snapshot);
    this.memoriesCreated++;
    this.memory = memory;
    return memory;
  }

  /**
   * Runs the app once on `stdin`.
   * @param {Uint8Array} stdin the request bytes
   * @param {{log: Function, error: Function}} logger where stdout/stderr lines go
   * @returns {{exitCode: number|null, trap: string|null, response: Uint8Array|null}}
   */
  run(stdin, logger = console) {
    if (this.snapshot === null) {
      const failed = this.#boot(logger);
      if (failed !== null) return failed;
    }
    const memory = this.#freshMemory();
    let response = null;
    this.stdin = stdin;
    const { wasi, instance } = this.#instantiate(memory, logger, (bytes) => {
      response = bytes;
    });
    this.stdin = null;
    // Instantiation wrote the module's data segments into the memory again;
    // the snapshot goes over them (and over everything the last run left).
    new Uint8Array(memory.buffer).set(this.snapshot);
    let exitCode = null;
    let trap = null;
    try {
      exitCode = wasi.call(() => instance.exports.ew_run());
    } catch (e) {
      trap = trapMessage(e);
    }
    return outcome(exitCode, trap, response);
  }
}

// One booted runtime per (module, archive) pair, for as long as both live.
const runtimes = new WeakMap();

/** The AppRuntime for this module and archive, booting it on first use. */
export function appRuntime(wasmModule, avmBytes) {
  let byArchive = runtimes.get(wasmModule);
  if (!byArchive) {
    byArchive = new WeakMap();
    runtimes.set(wasmModule, byArchive);
  }
  let rt = byArchive.get(avmBytes);
  if (!rt) {
    rt = new AppRuntime(wasmModule, avmBytes);
    byArchive.set(avmBytes, rt);
  }
  return rt;
}

/**
 * Runs the app once: `appRuntime(wasmModule, avmBytes).run(stdin, logger)`.
 * @returns {{exitCode: number|null, trap: string|null, response: Uint8Array|null}}
 */
export function runInstance(wasmModule, avmBytes, stdin, logger = console) {
  return appRuntime(wasmModule, avmBytes).run(stdin, logger);
}
