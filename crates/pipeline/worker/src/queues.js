// Cloudflare Queues on behalf of the VM (PROTOCOL.md): sending is an
// effect; a consumer's batch is an event, and the consumer's verdicts
// (ack, retry) come back as effects the worker applies to the batch.

import { asBytes, fromBase64 } from "./bytes.js";

function producer(env, name) {
  const queue = env?.[name];
  if (!queue || typeof queue.send !== "function" || typeof queue.sendBatch !== "function") {
    throw new Error(`no queue producer bound as "${name}" (add it to queues.producers in wrangler.jsonc)`);
  }
  return queue;
}

// One message as Queue.send/sendBatch take it: the body and its options.
function outgoing(message) {
  const options = { contentType: message.content_type ?? "json" };
  if (message.delay_seconds != null) options.delaySeconds = message.delay_seconds;
  const body = options.contentType === "bytes" ? fromBase64(message.body_base64 ?? "") : message.body;
  return { body, options };
}

/** Runs a queue_send or queue_send_batch effect. */
export async function queueEffect(effect, env) {
  const queue = producer(env, effect.queue);
  switch (effect.type) {
    case "queue_send": {
      const { body, options } = outgoing(effect);
      await queue.send(body, options);
      return;
    }
    case "queue_send_batch": {
      const messages = (effect.messages ?? []).map((m) => {
        const { body, options } = outgoing(m);
        return { body, ...options };
      });
      const options = {};
      if (effect.delay_seconds != null) options.delaySeconds = effect.delay_seconds;
      await queue.sendBatch(messages, options);
      return;
    }
    default:
      throw new Error(`unknown effect type ${JSON.stringify(effect.type)}`);
  }
}

/** The effects that settle a consumer's batch rather than write anywhere. */
export const VERDICTS = new Set(["queue_ack", "queue_retry", "queue_ack_all", "queue_retry_all"]);

/**
 * The `event` of a queue run's head: the batch's messages, byte bodies added
 * to `blobs` (everything else travels as JSON).
 */
export function batchEvent(batch, blobs) {
  return {
    type: "queue",
    queue: batch.queue,
    messages: batch.messages.map((m) => {
      const head = {
        id: m.id,
        timestamp: m.timestamp instanceof Date ? m.timestamp.getTime() : m.timestamp,
        attempts: m.attempts,
      };
      const bytes = asBytes(m.body);
      if (bytes !== null) head.body_bytes = blobs.add(bytes);
      else head.body = m.body === undefined ? null : m.body;
      return head;
    }),
  };
}

/**
 * Applies the consumer's verdicts to the batch. Messages it named neither
 * way are left alone: the platform treats them as done when the consumer
 * returns.
 */
export function settleBatch(batch, verdicts, logger, id) {
  const byId = new Map(batch.messages.map((m) => [m.id, m]));
  for (const v of verdicts) {
    const options = v.delay_seconds != null ? { delaySeconds: v.delay_seconds } : undefined;
    switch (v.type) {
      case "queue_ack_all":
        batch.ackAll();
        break;
      case "queue_retry_all":
        batch.retryAll(options);
        break;
      default: {
        const message = byId.get(v.id);
        if (!message) {
          logger.error(`[${id}] ${v.type}: no message ${JSON.stringify(v.id)} in this batch`);
        } else if (v.type === "queue_ack") {
          message.ack();
        } else {
          message.retry(options);
        }
      }
    }
  }
}
