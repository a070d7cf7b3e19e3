// The app's runs that are not HTTP requests: cron triggers (`scheduled`)
// and queue batches (`queue`). Each is one invocation of the app with an
// `event` in the head instead of a request (PROTOCOL.md, "Events"); it may
// read bindings over passes as a route does. Its writes run before the
// handler returns, so that a trigger or a batch is done only once they
// have landed; a crash or a failed write is thrown, which the platform
// records as a failed run (and, for a batch, delivers it again).

import { runPasses } from "./passes.js";
import { newIo, runEffects } from "./bindings.js";
import { appEnv } from "./worker.js";
import { batchEvent, settleBatch, VERDICTS } from "./queues.js";
import { DEFAULT_SUBREQUESTS } from "./fetch.js";

/** What went wrong in an event run, thrown to the platform. */
export class EventFailed extends Error {}

async function runEvent(event, env, app, label, io) {
  const logger = app.logger ?? console;
  const id = crypto.randomUUID();
  const head = { id, pass: 1, env: appEnv(env), event };
  const outcome = await runPasses(head, new Uint8Array(0), env, app, label, io);
  if (outcome.failure) {
    throw new EventFailed(`${label} failed: ${outcome.failure.error} (run ${id}; the log above says why)`);
  }
  const { answer } = outcome;
  if (answer.status >= 500) {
    throw new EventFailed(`${label} failed: the app answered ${answer.status} (run ${id})`);
  }
  return { answer, id, logger };
}

/**
 * Runs the app's scheduled handler for a cron trigger.
 * @param {{cron: string, scheduledTime: number}} controller
 */
export async function handleScheduled(controller, env, ctx, app) {
  const event = { type: "scheduled", cron: controller.cron, scheduled_time: controller.scheduledTime };
  const label = `scheduled ${controller.cron}`;
  const { answer, id, logger } = await runEvent(event, env, app, label);
  const failed = await runEffects(answer.effects, env, logger, id);
  if (failed > 0) throw new EventFailed(`${label}: ${failed} of its writes failed (run ${id})`);
}

/**
 * Runs the app's queue consumer on a batch, then settles the batch with the
 * consumer's verdicts once its writes have landed.
 * @param {{queue: string, messages: object[], ackAll: Function, retryAll: Function}} batch
 */
export async function handleQueue(batch, env, ctx, app) {
  const label = `queue ${batch.queue}`;
  const io = newIo(app.budget?.subrequests ?? DEFAULT_SUBREQUESTS);
  const event = batchEvent(batch, io.blobs);
  const { answer, id, logger } = await runEvent(event, env, app, label, io);
  const writes = answer.effects.filter((e) => !VERDICTS.has(e.type));
  const failed = await runEffects(writes, env, logger, id);
  if (failed > 0) throw new EventFailed(`${label}: ${failed} of its writes failed, the batch goes back (run ${id})`);
  settleBatch(
    batch,
    answer.effects.filter((e) => VERDICTS.has(e.type)),
    logger,
    id,
  );
}
