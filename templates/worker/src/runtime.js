// Runs atomvm.wasm once: a fresh instance of the compiled module per
// request (instances are cheap; a compiled module is not), the request on
// stdin, the response through the `elixir_workers.respond` import.
//
// The runtime ABI (argv, the /app preopen, the respond import) is fixed in
// the project's contracts; see PROTOCOL.md for what travels over it.

import { WasiHost } from "./wasi.js";

export const ARGV = ["atomvm", "/app/app.avm"];

/**
 * @param {WebAssembly.Module} wasmModule compiled atomvm.wasm
 * @param {Uint8Array} avmBytes the app archive
 * @param {Uint8Array} stdin the request bytes
 * @param {{log: Function, error: Function}} logger where stdout/stderr lines go
 * @returns {{exitCode: number|null, trap: string|null, response: Uint8Array|null}}
 */
export function runInstance(wasmModule, avmBytes, stdin, logger = console) {
  let response = null;
  const wasi = new WasiHost({
    args: ARGV,
    env: [],
    stdin,
    preopens: { "/app": { "app.avm": avmBytes } },
    stdout: (line) => logger.log(line),
    stderr: (line) => logger.error(line),
  });
  const imports = {
    wasi_snapshot_preview1: wasi.imports,
    elixir_workers: {
      // The last response handed over wins; it is copied out at once because
      // the guest may reuse the memory afterwards.
      respond(ptr, len) {
        response = wasi.copyOut(ptr, len);
      },
    },
  };
  const instance = new WebAssembly.Instance(wasmModule, imports);
  let exitCode = null;
  let trap = null;
  try {
    exitCode = wasi.start(instance);
  } catch (e) {
    trap = e && e.message ? e.message : String(e);
  }
  return { exitCode, trap, response };
}
