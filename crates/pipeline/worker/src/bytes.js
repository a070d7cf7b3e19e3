// Bytes between the worker and the VM (PROTOCOL.md, "Bytes").
//
// Toward the VM, bytes a binding result carries (a fetched body, an R2
// object, a queue message) are appended after the request body, in the
// request's blob area, and the result names them by [offset, size]: no
// encoding, and the framework slices them without a copy.
//
// Toward the worker, bytes ride inside the JSON of needs and effects as
// base64 (a need's id is made from its fields, so they cannot be
// positions in a side area). Workers and Node both have atob, but it goes
// through a one-char-per-byte string; this table does not.

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const DECODE = new Int16Array(256).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

/**
 * Reads a stream's reader to its end into one Uint8Array, stopping as soon
 * as more than `limit` bytes have come: then `body` is null and `size` what
 * was read so far, and the caller drains or cancels the rest.
 * @returns {Promise<{body: Uint8Array|null, size: number}>}
 */
export async function readUpTo(reader, limit) {
  const chunks = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) return { body: null, size };
    chunks.push(value);
  }
  if (chunks.length === 1) return { body: chunks[0], size };
  const body = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    body.set(c, at);
    at += c.length;
  }
  return { body, size };
}

/**
 * Decodes base64 text (padding optional, no whitespace) into bytes.
 * @param {string} text
 * @returns {Uint8Array}
 */
export function fromBase64(text) {
  if (typeof text !== "string") throw new TypeError("base64 data must be a string");
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 61 /* = */) end--;
  if (end % 4 === 1) throw new TypeError("base64 data has a stray character at the end");
  const out = new Uint8Array(Math.floor((end * 3) / 4));
  let o = 0;
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    const v = c < 256 ? DECODE[c] : -1;
    if (v < 0) throw new TypeError(`base64 data has an invalid character at ${i}`);
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  return out;
}

/** Any binary value (ArrayBuffer or a view of one) as a Uint8Array over the same bytes. */
export function asBytes(value) {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  return null;
}

/**
 * The bytes sent after the request body over the passes of one request.
 * Results of earlier passes are sent again with the later ones, so a range
 * handed out stays valid: the area only grows.
 */
export class BlobArea {
  constructor() {
    this.parts = [];
    this.size = 0;
  }

  /** Appends `bytes`; returns their [offset, size] in the area. */
  add(bytes) {
    const at = this.size;
    if (bytes.length > 0) this.parts.push(bytes);
    this.size += bytes.length;
    return [at, bytes.length];
  }
}
