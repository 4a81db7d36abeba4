/**
 * Phoenix's V2 serializer (Phoenix.Socket.V2.JSONSerializer). Text frames are JSON arrays
 * `[join_ref, ref, topic, event, payload]`; binary frames are V2 binary pushes, which the official
 * client sends for a push whose payload is an ArrayBuffer. Decoding is strict and says exactly what is
 * wrong, so a client with a bug learns why instead of timing out.
 */
import type { Message, Payload, Reply } from "./protocol";
import { PhoenixEvent } from "./protocol";
import { CloseCode, frameBytes, MAX_FRAME_BYTES } from "./transport";

export type Decoded =
  /** A well-formed message. */
  | { kind: "message"; message: Message }
  /** A frame with a string ref but fields of the wrong type: answerable with an error reply. */
  | InvalidFrame
  /** Not a V2 frame at all (not JSON, not a 5-array, not a binary push, or unanswerable): the socket is closed. */
  | { kind: "undecodable"; detail: string };

export interface InvalidFrame {
  kind: "invalid";
  joinRef: string | null;
  ref: string;
  topic: string;
  /** What is wrong with it, for the error reply. */
  detail: string;
}

/** What a socket does with a frame it received: handle a message, answer a malformed one, or close. */
export type Intake =
  | Extract<Decoded, { kind: "message" | "invalid" }>
  | { kind: "close"; code: number; reason: string };

/** The transport's limit, then the serializer: the one intake of every socket, in a room or a session. */
export function readFrame(raw: string | ArrayBuffer): Intake {
  if (frameBytes(raw) > MAX_FRAME_BYTES) {
    return { kind: "close", code: CloseCode.messageTooBig, reason: `frame exceeds ${MAX_FRAME_BYTES} bytes` };
  }
  const decoded = decode(raw);
  return decoded.kind === "undecodable"
    ? { kind: "close", code: CloseCode.invalidPayload, reason: decoded.detail }
    : decoded;
}

export function decode(raw: string | ArrayBuffer): Decoded {
  return typeof raw === "string" ? decodeText(raw) : decodeBinary(raw);
}

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
  const [joinRef, ref, topic, event, payload] = frame as unknown[];
  const problem = describeProblem(joinRef, ref, topic, event, payload);
  if (problem === undefined) {
    return {
      kind: "message",
      message: {
        joinRef: joinRef as string | null,
        ref: ref as string | null,
        topic: topic as string,
        event: event as string,
        payload: payload as Payload,
      },
    };
  }
  if (typeof ref !== "string") return { kind: "undecodable", detail: problem };
  return {
    kind: "invalid",
    joinRef: typeof joinRef === "string" ? joinRef : null,
    ref,
    topic: typeof topic === "string" ? topic : "phoenix",
    detail: problem,
  };
}

/** Refs are counters ("1", "2", …); phoenix.js's binary frames hold at most 255 bytes per field. */
export const MAX_REF_LENGTH = 255;

function describeProblem(
  joinRef: unknown,
  ref: unknown,
  topic: unknown,
  event: unknown,
  payload: unknown,
): string | undefined {
  if (joinRef !== null && typeof joinRef !== "string") return "join_ref must be a string or null";
  if (ref !== null && typeof ref !== "string") return "ref must be a string or null";
  // The binary format cannot carry longer ones either; a join_ref is also kept in the socket's attachment.
  if (typeof joinRef === "string" && joinRef.length > MAX_REF_LENGTH) {
    return `join_ref must be at most ${MAX_REF_LENGTH} characters`;
  }
  if (typeof ref === "string" && ref.length > MAX_REF_LENGTH) return `ref must be at most ${MAX_REF_LENGTH} characters`;
  if (typeof topic !== "string" || topic === "") return "topic must be a non-empty string";
  if (typeof event !== "string" || event === "") return "event must be a non-empty string";
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) return "payload must be a JSON object";
  return undefined;
}

/** The kind byte of a V2 binary frame sent by a client: a push (replies and broadcasts only go the other way). */
const BINARY_PUSH = 0;
const BINARY_HEADER_BYTES = 5;
const fatalUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

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

/**
 * A reply whose response is already JSON: one large response that many messages get (a room's join reply
 * between two posts) is encoded once, and each reply only wraps it in its own refs.
 */
export interface EncodedReply {
  readonly status: Reply["status"];
  readonly responseJson: string;
}

/** `[join_ref, ref, topic, "phx_reply", {status, response}]`: the answer to the message with `ref`. */
export function encodeReply(joinRef: string | null, ref: string, topic: string, reply: Reply | EncodedReply): string {
  if (!("responseJson" in reply)) return JSON.stringify([joinRef, ref, topic, PhoenixEvent.reply, reply]);
  const head = JSON.stringify([joinRef, ref, topic, PhoenixEvent.reply]).slice(0, -1);
  return `${head},{"status":${JSON.stringify(reply.status)},"response":${reply.responseJson}}]`;
}

/** `[null, null, topic, event, payload]`: the same string goes to every member, so it is encoded once. */
export function encodeBroadcast(topic: string, event: string, payload: object): string {
  return JSON.stringify([null, null, topic, event, payload]);
}

/**
 * `[join_ref, null, topic, event, payload]`: a push from one member's channel (Phoenix's `push/3`, and
 * what an intercepted broadcast becomes in `handle_out`). Takes the payload already encoded, so a
 * broadcast that reaches many members through their own channels is still serialised only once.
 */
export function encodePush(joinRef: string, topic: string, event: string, payloadJson: string): string {
  return `[${JSON.stringify(joinRef)},null,${JSON.stringify(topic)},${JSON.stringify(event)},${payloadJson}]`;
}

/**
 * `phx_close` as Phoenix sends it when a channel ends (leave, duplicate join): both refs are the join ref
 * of the channel that ends, so only that channel instance on the client reacts.
 */
export function encodeClose(joinRef: string, topic: string): string {
  return JSON.stringify([joinRef, joinRef, topic, PhoenixEvent.close, {}]);
}
