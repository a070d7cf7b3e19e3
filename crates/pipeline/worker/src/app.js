// What every run of the app needs: the VM's module, the boot image and the
// budget. wrangler bundles atomvm.wasm as a compiled WebAssembly.Module
// (rule CompiledWasm) and boot.bin, the VM booted on the app at build time,
// as an ArrayBuffer (rule Data); both are set up once per isolate and
// shared by every request, cron trigger, queue batch and Durable Object.
// app.avm is inside the image and is not bundled.

import wasmModule from "../atomvm.wasm";
import bootImage from "../boot.bin";
// Written by `elixir-workers build` from the project's `budget` setting.
import { BUDGET as budget } from "./budget.js";

export const app = { wasmModule, bootImage, budget };
