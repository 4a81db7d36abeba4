/**
 * Phoenix's V1 serializer (Phoenix.Socket.V1.JSONSerializer), which Phoenix serves by default (`vsn=1.0.0`,
 * or no vsn) and which older phoenix.js and most other clients speak. A frame is a JSON object
 * `{"topic", "event", "payload", "ref", "join_ref"?}`, in a text frame or a binary one (Phoenix reads a
 * binary frame as JSON too); `join_ref` may be left out (Phoenix's `Message.from_map!`). The server's frames
 * are `{"topic", "event", "payload", "ref"}`, without `join_ref`, as Phoenix encodes them: a broadcast and a
 * push carry `"ref": null`, a reply the client's ref.
 */
import type { JsonValue, Ref } from "./protocol";
import { checkFields, type Decoded, Serializer } from "./serializer";

const SHAPE = "a V1 frame is a JSON object {topic, event, payload, ref, join_ref?}";
/** The keys Phoenix requires, in the order it looks for them. */
const REQUIRED_KEYS = ["topic", "event", "payload", "ref"] as const;
const fatalUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** How every frame `frame` writes ends when its ref is null: the ref is its last key. */
const NULL_REF_END = ',"ref":null}';

class V1JsonSerializer extends Serializer {
  readonly vsn = "1.0.0";

  decode(raw: string | ArrayBuffer): Decoded {
    if (typeof raw === "string") return decodeText(raw);
    let text: string;
    try {
      text = fatalUtf8.decode(raw);
    } catch {
      return { kind: "undecodable", detail: "binary frame is not UTF-8 text: V1 reads it as JSON" };
    }
    return decodeText(text);
  }

  frame(_joinRef: Ref, ref: Ref, topic: string, event: string, payloadJson: string): string {
    return `{"topic":${JSON.stringify(topic)},"event":${JSON.stringify(event)},"payload":${payloadJson},"ref":${JSON.stringify(ref)}}`;
  }

  withoutRef(frame: string): boolean {
    return frame.endsWith(NULL_REF_END);
  }
}

export const v1Json: Serializer = new V1JsonSerializer();

function decodeText(raw: string): Decoded {
  let frame: unknown;
  try {
    frame = JSON.parse(raw);
  } catch {
    return { kind: "undecodable", detail: "frame is not valid JSON" };
  }
  if (typeof frame !== "object" || frame === null || Array.isArray(frame)) {
    return { kind: "undecodable", detail: `frame must be a JSON object: ${SHAPE}` };
  }
  const fields = frame as Record<string, JsonValue>;
  const missing = REQUIRED_KEYS.find((key) => !Object.hasOwn(fields, key));
  if (missing !== undefined) return { kind: "undecodable", detail: `frame has no "${missing}": ${SHAPE}` };
  const joinRef = Object.hasOwn(fields, "join_ref") ? (fields.join_ref as Ref) : null;
  return checkFields(joinRef, fields.ref as Ref, fields.topic, fields.event, fields.payload);
}
