/**
 * The Phoenix Channels V2 message model (Phoenix.Socket.Message / Reply / Broadcast), independent of how
 * it is encoded. See serializer.ts for the wire forms and ../shared/room-channel.ts for pyre's own events.
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
