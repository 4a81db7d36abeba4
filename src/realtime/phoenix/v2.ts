/**
 * Phoenix's V2 serializer (Phoenix.Socket.V2.JSONSerializer), what phoenix.js speaks (`vsn=2.0.0`). Text
 * frames are JSON arrays `[join_ref, ref, topic, event, payload]`; binary frames are V2 binary pushes, which
 * phoenix.js sends for a push whose payload is an ArrayBuffer.
 */
import type { Ref } from "./protocol";
import { checkFields, type Decoded, Serializer } from "./serializer";

/** The kind byte of a V2 binary frame sent by a client: a push (replies and broadcasts only go the other way). */
const BINARY_PUSH = 0;
const BINARY_HEADER_BYTES = 5;
const fatalUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Frames whose ref is null (`[join_ref, null, ...`) as `frame` writes them: pushes and broadcasts. */
const WITHOUT_REF = /^\[(?:null|"(?:[^"\\]|\\.)*"),null,/;

class V2JsonSerializer extends Serializer {
  readonly vsn = "2.0.0";

  decode(raw: string | ArrayBuffer): Decoded {
    return typeof raw === "string" ? decodeText(raw) : decodeBinary(raw);
  }

  frame(joinRef: Ref, ref: Ref, topic: string, event: string, payloadJson: string): string {
    return `[${JSON.stringify(joinRef)},${JSON.stringify(ref)},${JSON.stringify(topic)},${JSON.stringify(event)},${payloadJson}]`;
  }

  withoutRef(frame: string): boolean {
    return WITHOUT_REF.test(frame);
  }
}

export const v2Json: Serializer = new V2JsonSerializer();

function decodeText(raw: string): Decoded {
  let frame: unknown;
  try {
    frame = JSON.parse(raw);
  } catch {
    return { kind: "undecodable", detail: "frame is not valid JSON" };
  }
  if (!Array.isArray(frame) || frame.length !== 5) {
    return { kind: "undecodable", detail: "frame must be a JSON array [join_ref, ref, topic, event, payload]" };
  }
  const [joinRef, ref, topic, event, payload] = frame as [Ref, Ref, unknown, unknown, unknown];
  return checkFields(joinRef, ref, topic, event, payload);
}

/**
 * `<0, join_ref size, ref size, topic size, event size, join_ref, ref, topic, event, data>`, as phoenix.js
 * encodes it. An empty join_ref or ref means none (the client has no way to send null in this form).
 */
function decodeBinary(raw: ArrayBuffer): Decoded {
  const bytes = new Uint8Array(raw);
  if (bytes.byteLength < BINARY_HEADER_BYTES || bytes[0] !== BINARY_PUSH) {
    return { kind: "undecodable", detail: "binary frames must be Phoenix V2 binary pushes (kind 0)" };
  }
  const sizes = [bytes[1], bytes[2], bytes[3], bytes[4]] as [number, number, number, number];
  const fields: string[] = [];
  let offset = BINARY_HEADER_BYTES;
  for (const size of sizes) {
    if (offset + size > bytes.byteLength) {
      return { kind: "undecodable", detail: "binary push is shorter than its header says" };
    }
    try {
      fields.push(fatalUtf8.decode(bytes.subarray(offset, offset + size)));
    } catch {
      return { kind: "undecodable", detail: "binary push has a header field that is not UTF-8" };
    }
    offset += size;
  }
  const [joinRef, ref, topic, event] = fields as [string, string, string, string];
  if (topic === "" || event === "") return { kind: "undecodable", detail: "binary push needs a topic and an event" };
  return {
    kind: "message",
    message: {
      joinRef: joinRef === "" ? null : joinRef,
      ref: ref === "" ? null : ref,
      topic,
      event,
      payload: raw.slice(offset),
    },
  };
}
