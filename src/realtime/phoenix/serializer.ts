/**
 * The serializer as a concept (Phoenix.Socket.Serializer): how one socket's frames are decoded and the
 * server's frames encoded. Two implement it, one per socket as its `vsn` chose (vsn.ts): V2 (v2.ts, JSON
 * arrays, what phoenix.js speaks) and V1 (v1.ts, JSON objects, what older and other clients speak).
 * Decoding is strict and says exactly what is wrong, so a client with a bug learns why instead of timing
 * out; encoding takes a payload already encoded as JSON, so one encoding of a payload serves every member
 * and both serializers.
 */
import type { Message, Payload, Ref, Reply } from "./protocol";
import { PHOENIX_TOPIC, PhoenixEvent } from "./protocol";
import { CloseCode, frameBytes, MAX_FRAME_BYTES } from "./transport";

/** The `vsn` of each serializer, as a socket's attachment remembers it. */
export type SerializerVersion = "1.0.0" | "2.0.0";

export type Decoded =
  /** A well-formed message. */
  | { kind: "message"; message: Message }
  /** A frame with a ref but fields of the wrong type: answerable with an error reply. */
  | InvalidFrame
  /** Not a frame of this serializer at all, or unanswerable (no ref): the socket is closed. */
  | { kind: "undecodable"; detail: string };

export interface InvalidFrame {
  kind: "invalid";
  joinRef: Ref;
  /** Never null: a frame without a ref cannot be answered. */
  ref: Ref;
  topic: string;
  /** What is wrong with it, for the error reply. */
  detail: string;
}

/** What a socket does with a frame it received: handle a message, answer a malformed one, or close. */
export type Intake =
  | Extract<Decoded, { kind: "message" | "invalid" }>
  | { kind: "close"; code: number; reason: string };

/**
 * A reply whose response is already JSON: one large response that many messages get (a room's join reply
 * between two posts) is encoded once, and each reply only wraps it in its own refs.
 */
export interface EncodedReply {
  readonly status: Reply["status"];
  readonly responseJson: string;
}

export abstract class Serializer {
  abstract readonly vsn: SerializerVersion;

  /** A client's frame, text or binary, as this serializer reads it. */
  abstract decode(raw: string | ArrayBuffer): Decoded;

  /** One frame of every field, the payload already JSON: what every frame below is made of. */
  abstract frame(joinRef: Ref, ref: Ref, topic: string, event: string, payloadJson: string): string;

  /**
   * True when `frame`, encoded by this serializer, certainly carries no ref (a push or a broadcast), told
   * without parsing it: the socket session reads the room's replies and skips the rest. False: read it.
   */
  abstract withoutRef(frame: string): boolean;

  /** `phx_reply {status, response}`: the answer to the message with `ref`. */
  reply(joinRef: Ref, ref: Ref, topic: string, reply: Reply | EncodedReply): string {
    const replyJson =
      "responseJson" in reply
        ? `{"status":${JSON.stringify(reply.status)},"response":${reply.responseJson}}`
        : JSON.stringify(reply);
    return this.frame(joinRef, ref, topic, PhoenixEvent.reply, replyJson);
  }

  /** The same frame for every member: no refs. The payload is encoded once, by the caller, for all. */
  broadcast(topic: string, event: string, payloadJson: string): string {
    return this.frame(null, null, topic, event, payloadJson);
  }

  /**
   * A push from one member's channel (Phoenix's `push/3`, and what an intercepted broadcast becomes in
   * `handle_out`): the channel's join_ref, no ref.
   */
  push(joinRef: Ref, topic: string, event: string, payloadJson: string): string {
    return this.frame(joinRef, null, topic, event, payloadJson);
  }

  /**
   * `phx_close` as Phoenix sends it when a channel ends (leave, duplicate join): both refs are the join ref
   * of the channel that ends, so only that channel instance on the client reacts.
   */
  close(joinRef: Ref, topic: string): string {
    return this.frame(joinRef, joinRef, topic, PhoenixEvent.close, "{}");
  }
}

/** The transport's limit, then the socket's serializer: the one intake of every socket, in a room or a session. */
export function readFrame(raw: string | ArrayBuffer, serializer: Serializer): Intake {
  if (frameBytes(raw) > MAX_FRAME_BYTES) {
    return { kind: "close", code: CloseCode.messageTooBig, reason: `frame exceeds ${MAX_FRAME_BYTES} bytes` };
  }
  const decoded = serializer.decode(raw);
  return decoded.kind === "undecodable"
    ? { kind: "close", code: CloseCode.invalidPayload, reason: decoded.detail }
    : decoded;
}

/**
 * pyre's bound on a ref: phoenix.js's are counters ("1", "2", …), its binary frames hold at most 255 bytes
 * per field, and a join_ref is kept in the socket's attachment. A string counts its characters, any other
 * value its JSON.
 */
export const MAX_REF_LENGTH = 255;

/**
 * The five fields of a frame, however it was encoded, checked as pyre reads them: a ref or join_ref may be
 * any JSON value (Phoenix reads them as they come), the topic and event non-empty strings, the payload an
 * object. A frame with a ref and a field wrong is answerable; without a ref it is not.
 */
export function checkFields(joinRef: Ref, ref: Ref, topic: unknown, event: unknown, payload: unknown): Decoded {
  const problem = describeProblem(joinRef, ref, topic, event, payload);
  if (problem === undefined) {
    return {
      kind: "message",
      message: { joinRef, ref, topic: topic as string, event: event as string, payload: payload as Payload },
    };
  }
  if (ref === null) return { kind: "undecodable", detail: problem };
  return { kind: "invalid", joinRef, ref, topic: typeof topic === "string" ? topic : PHOENIX_TOPIC, detail: problem };
}

function describeProblem(joinRef: Ref, ref: Ref, topic: unknown, event: unknown, payload: unknown): string | undefined {
  if (refLength(joinRef) > MAX_REF_LENGTH) return tooLong("join_ref", joinRef);
  if (refLength(ref) > MAX_REF_LENGTH) return tooLong("ref", ref);
  if (typeof topic !== "string" || topic === "") return "topic must be a non-empty string";
  if (typeof event !== "string" || event === "") return "event must be a non-empty string";
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) return "payload must be a JSON object";
  return undefined;
}

function refLength(ref: Ref): number {
  if (ref === null) return 0;
  return typeof ref === "string" ? ref.length : JSON.stringify(ref).length;
}

function tooLong(field: string, ref: Ref): string {
  return `${field} must be at most ${MAX_REF_LENGTH} characters${typeof ref === "string" ? "" : " of JSON"}`;
}
