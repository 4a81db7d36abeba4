/**
 * Phoenix's V2 JSON serializer (Phoenix.Socket.V2.JSONSerializer): frames are JSON arrays
 * `[join_ref, ref, topic, event, payload]`. Decoding is strict and says exactly what is wrong, so a
 * client with a bug learns why instead of timing out.
 */
import type { Message, Payload, Reply } from "./protocol";
import { PhoenixEvent } from "./protocol";

export type Decoded =
  /** A well-formed message. */
  | { kind: "message"; message: Message }
  /** A frame with a string ref but fields of the wrong type: answerable with an error reply. */
  | { kind: "invalid"; joinRef: string | null; ref: string; topic: string; detail: string }
  /** Not a V2 frame at all (not JSON, not a 5-array, binary, or unanswerable): the socket is closed. */
  | { kind: "undecodable"; detail: string };

export function decode(raw: string | ArrayBuffer): Decoded {
  if (typeof raw !== "string") {
    return { kind: "undecodable", detail: "binary frames are not supported; send JSON text frames" };
  }
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

function describeProblem(
  joinRef: unknown,
  ref: unknown,
  topic: unknown,
  event: unknown,
  payload: unknown,
): string | undefined {
  if (joinRef !== null && typeof joinRef !== "string") return "join_ref must be a string or null";
  if (ref !== null && typeof ref !== "string") return "ref must be a string or null";
  if (typeof topic !== "string" || topic === "") return "topic must be a non-empty string";
  if (typeof event !== "string" || event === "") return "event must be a non-empty string";
  if (typeof payload !== "object" || payload === null || Array.isArray(payload)) return "payload must be a JSON object";
  return undefined;
}

/** `[join_ref, ref, topic, "phx_reply", {status, response}]`: the answer to the message with `ref`. */
export function encodeReply(joinRef: string | null, ref: string, topic: string, reply: Reply): string {
  return JSON.stringify([joinRef, ref, topic, PhoenixEvent.reply, reply]);
}

/** `[null, null, topic, event, payload]`: the same string goes to every member, so it is encoded once. */
export function encodeBroadcast(topic: string, event: string, payload: object): string {
  return JSON.stringify([null, null, topic, event, payload]);
}

/**
 * `phx_close` as Phoenix sends it when a channel ends (leave, duplicate join): both refs are the join ref
 * of the channel that ends, so only that channel instance on the client reacts.
 */
export function encodeClose(joinRef: string, topic: string): string {
  return JSON.stringify([joinRef, joinRef, topic, PhoenixEvent.close, {}]);
}
