// One invocation of the app, whatever started it (an HTTP request, a cron
// trigger, a queue batch): run the VM, fulfil what it asks for, run it
// again, until it answers or a limit stops it (PROTOCOL.md, "Bindings:
// needs and passes").

import { runInstance, DEFAULT_BUDGET, EXIT_BUDGET } from "./runtime.js";
import { encodeRequest, decodeResponse, ProtocolError } from "./protocol.js";
import { fulfilNeeds, newIo } from "./bindings.js";
import { DEFAULT_SUBREQUESTS } from "./fetch.js";

/** A route may ask for bindings this many times minus one; then it is stopped. */
export const MAX_PASSES = 4;

/**
 * Runs the app on `head` and `body` until it answers.
 *
 * @param {object} head the request head of pass 1 (PROTOCOL.md); `pass`,
 *   `bindings` and `body_size` are set here
 * @param {Uint8Array} body the request body
 * @param {object} env the worker env
 * @param {{wasmModule: WebAssembly.Module, avmBytes?: Uint8Array, bootImage?: ArrayBuffer|Uint8Array,
 *   logger?: Console, onRun?: (ms: number) => void, budget?: object}} app
 * @param {string} label what is running, for log lines ("GET /path", "queue jobs")
 * @param {{blobs: import("./bytes.js").BlobArea, subrequests: object}} [io] the
 *   invocation's blob area and subrequest count, when the head already
 *   points into the area (a queue batch's byte bodies); else a new one
 * @returns {Promise<{answer: {status: number, headers: Headers, body: Uint8Array, effects: object[]}, passes: number}
 *   | {failure: {status: number, error: string, passes?: number}}>}
 */
export async function runPasses(head, body, env, app, label, io) {
  const { wasmModule, avmBytes, bootImage, logger = console, onRun, budget } = app;
  const runBudget = { ...DEFAULT_BUDGET, ...budget };
  const shared = io ?? newIo(runBudget.subrequests ?? DEFAULT_SUBREQUESTS);
  const id = head.id;
  const bindings = {};
  for (let pass = 1; pass <= MAX_PASSES; pass++) {
    head.pass = pass;
    if (pass > 1) head.bindings = bindings;

    const stdin = encodeRequest(head, body, shared.blobs);
    const started = onRun ? performance.now() : 0;
    const run = runInstance(wasmModule, { avmBytes, bootImage }, stdin, logger, runBudget);
    if (onRun) onRun(performance.now() - started);
    if (run.exitCode === EXIT_BUDGET) {
      // The VM said which budget on stderr (already logged); the run's
      // response, if any, is from before it ran away and is not sent.
      logger.error(`[${id}] ${label}: stopped by its budget`);
      return { failure: { status: 500, error: "budget_exceeded" } };
    }
    if (run.response === null) {
      const how = run.trap !== null ? `trapped: ${run.trap}` : `exited with code ${run.exitCode}`;
      logger.error(`[${id}] ${label}: the VM ${how} without a response`);
      return { failure: { status: 500, error: "internal_error" } };
    }

    let answer;
    try {
      answer = decodeResponse(run.response);
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      logger.error(`[${id}] ${label}: ${e.message}`);
      return { failure: { status: 500, error: "internal_error" } };
    }

    if (answer.needs) {
      if (pass === MAX_PASSES) {
        const asked = answer.needs.map((n) => n.type + " " + (n.key ?? n.sql ?? n.url ?? n.path ?? "")).join(", ");
        logger.error(
          `[${id}] ${label}: still asking for bindings after ${MAX_PASSES} passes ` +
            `(last asked: ${asked}); a route may read at most ${MAX_PASSES - 1} times in sequence`,
        );
        return { failure: { status: 500, error: "too_many_binding_passes", passes: MAX_PASSES } };
      }
      Object.assign(bindings, await fulfilNeeds(answer.needs, env, shared));
      continue;
    }
    return { answer, passes: pass };
  }
  throw new Error("unreachable: the pass loop always returns");
}
