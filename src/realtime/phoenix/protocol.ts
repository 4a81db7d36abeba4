/**
 * The Phoenix Channels message model (Phoenix.Socket.Message / Reply / Broadcast), independent of how it is
 * encoded: serializer.ts and its two implementations (v1.ts, v2.ts) are the wire forms, and
 * shared/room-contract.ts has pyre's own events.
 */

/** Events the protocol itself defines; everything else belongs to a channel. */
export const PhoenixEvent = {
  join: "phx_join",
  leave: "phx_leave",
  reply: "phx_reply",
  close: "phx_close",
  error: "phx_error",
  heartbeat: "heartbeat",
} as const;

/** The topic of socket-level messages (heartbeats), as opposed to channel topics. */
export const PHOENIX_TOPIC = "phoenix";

/**
 * Error `reason`s the socket itself answers with, before any channel is involved (Phoenix.Socket's own);
 * a channel adds its own reasons (see shared/room-contract.ts).
 */
export const SocketErrorReason = {
  /** The topic is not one this socket can join, or the channel is not joined. */
  unmatchedTopic: "unmatched topic",
  /** The push carried the join_ref of an earlier join of this topic; it was discarded, as Phoenix does. */
  staleJoin: "stale join_ref",
  /** The frame had a ref but fields of the wrong type; `detail` says which. */
  malformedFrame: "malformed frame",
  /** A bug on the server; the message was not handled. */
  internalError: "internal error",
  /** A join beyond Phoenix's `max_channels_per_transport` topics on one socket. */
  tooManyChannels: "too many channels joined",
  /** The channel failed before it answered a join (Phoenix's reply when a channel's join crashes). */
  joinCrashed: "join crashed",
} as const;

export type Payload = Record<string, unknown>;

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * A ref or join_ref as the client sent it: any JSON value (phoenix.js sends strings, "1", "2", …; other
 * clients numbers), echoed back as it came, as Phoenix does. `null` is none: a message without a ref asks
 * for no reply.
 */
export type Ref = JsonValue;

/** Whether two refs are the same value (Phoenix compares them with `===`; objects and arrays by content). */
export function sameRef(a: Ref, b: Ref): boolean {
  if (a === b) return true;
  return typeof a === "object" && typeof b === "object" && a !== null && b !== null && refKey(a) === refKey(b);
}

/** A ref as a string, for keeping refs in a Set or a Map: its JSON. */
export function refKey(ref: Ref): string {
  return JSON.stringify(ref);
}

/** A client-to-server message, however it was encoded: `[join_ref, ref, topic, event, payload]` in V2. */
export interface Message {
  joinRef: Ref;
  ref: Ref;
  topic: string;
  event: string;
  /** A JSON object, or the bytes of a V2 binary push (Phoenix's `{:binary, data}`). */
  payload: Payload | ArrayBuffer;
}

/** What a handler answers to a message with a ref: `phx_reply {status, response}`. */
export type Reply = { status: "ok"; response: object } | { status: "error"; response: ErrorResponse };

/** Every error reply names a `reason`; pyre adds fields that say precisely what was wrong. */
export interface ErrorResponse extends Payload {
  reason: string;
}

export function ok(response: object = {}): Reply {
  return { status: "ok", response };
}

export function error(reason: string, details: Payload = {}): Reply {
  return { status: "error", response: { ...details, reason } };
}

export function isBinary(payload: Payload | ArrayBuffer): payload is ArrayBuffer {
  return payload instanceof ArrayBuffer;
}
