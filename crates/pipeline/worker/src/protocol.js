// The framing between the shim and the Elixir framework (PROTOCOL.md):
// a message is one line of JSON (the head), "\n", then raw body bytes.
// JSON.stringify never emits a raw newline, so the first "\n" always ends
// the head and the body needs neither escaping nor base64.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Request bytes: the head object as one JSON line, then the body, then the
 * blob area when it holds anything (the head then says where the body ends,
 * `body_size`).
 * @param {object} head
 * @param {Uint8Array} body
 * @param {import("./bytes.js").BlobArea} [blobs]
 */
export function encodeRequest(head, body, blobs) {
  const extra = blobs ? blobs.size : 0;
  if (extra > 0) head.body_size = body.length;
  else delete head.body_size;
  const json = encoder.encode(JSON.stringify(head));
  const out = new Uint8Array(json.length + 1 + body.length + extra);
  out.set(json, 0);
  out[json.length] = 0x0a;
  out.set(body, json.length + 1);
  if (extra > 0) {
    let at = json.length + 1 + body.length;
    for (const part of blobs.parts) {
      out.set(part, at);
      at += part.length;
    }
  }
  return out;
}

export class ProtocolError extends Error {}

/** Splits response bytes into the parsed head and the body bytes. */
export function decodeResponse(bytes) {
  const nl = bytes.indexOf(0x0a);
  const headBytes = nl < 0 ? bytes : bytes.subarray(0, nl);
  let head;
  try {
    head = JSON.parse(decoder.decode(headBytes));
  } catch (e) {
    throw new ProtocolError(`response head is not JSON: ${e.message}`);
  }
  if (head === null || typeof head !== "object" || Array.isArray(head)) {
    throw new ProtocolError("response head is not a JSON object");
  }
  const body = nl < 0 ? new Uint8Array(0) : bytes.subarray(nl + 1);
  if (Array.isArray(head._needs)) return { needs: head._needs };
  const status = head.status;
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    throw new ProtocolError(`response status must be an integer 200..599, got ${JSON.stringify(status)}`);
  }
  const headers = new Headers();
  for (const [name, value] of Object.entries(head.headers ?? {})) {
    if (Array.isArray(value)) for (const v of value) headers.append(name, String(v));
    else if (value !== null && value !== undefined) headers.set(name, String(value));
  }
  const effects = Array.isArray(head._effects) ? head._effects : [];
  return { status, headers, body, effects };
}
