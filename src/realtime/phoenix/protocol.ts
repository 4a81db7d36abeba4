/**
 * The Phoenix Channels V2 message model (Phoenix.Socket.Message / Reply / Broadcast), independent of how
 * it is encoded. See serializer.ts for the wire forms and shared/room-contract.ts for pyre's own events.
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

/** The `vsn` of the only serializer pyre speaks (V2 JSON, with V2 binary pushes); a missing vsn means it. */
export const SERIALIZER_VERSION = "2.0.0";

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

/** A client-to-server message: the decoded `[join_ref, ref, topic, event, payload]` frame. */
export interface Message {
  joinRef: string | null;
  ref: string | null;
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
