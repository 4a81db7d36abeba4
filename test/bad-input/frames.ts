/** Frames a well-behaved client would not send, built byte for byte. Shared by the bad-input tests and the fuzzers. */

/**
 * A V2 binary push as phoenix.js's serializer encodes one: `<kind, 4 sizes, join_ref, ref, topic, event,
 * data>`. `kind` other than 0 makes it something a client never sends.
 */
export function binaryPush(
  joinRef: string,
  ref: string,
  topic: string,
  event: string,
  data: Uint8Array,
  kind = 0,
): ArrayBuffer {
  const encoder = new TextEncoder();
  const fields = [joinRef, ref, topic, event].map((field) => encoder.encode(field));
  const header = [kind, ...fields.map((field) => field.byteLength)];
  const bytes = new Uint8Array(header.length + fields.reduce((sum, f) => sum + f.byteLength, 0) + data.byteLength);
  bytes.set(header, 0);
  let offset = header.length;
  for (const field of [...fields, data]) {
    bytes.set(field, offset);
    offset += field.byteLength;
  }
  return bytes.buffer;
}

/** UTF-8 size of a text frame, the measure the 64 KiB limit uses. */
export function utf8Bytes(text: string): number {
  return new TextEncoder().encode(text).byteLength;
}
