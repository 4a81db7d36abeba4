/**
 * The room channel's own contract (topic `room:ROOM`), on top of the Phoenix protocol. Shared by the
 * Durable Object and the browser client so both sides name events and fields the same way.
 */
import type { Post } from "./post";

export const RoomEvent = {
  /** Client push `{message}`, replied with the stored Post; also the broadcast of every stored Post. */
  newPost: "new_post",
} as const;

/** The most posts a catch-up join reply holds; a client that gets this many may have missed more. */
export const CATCH_UP_LIMIT = 500;

/** `phx_join` payload; every field is optional. */
export interface JoinParams {
  /** Receive only posts that `@mention` you (the join reply's history is not filtered). */
  mentions_only?: boolean;
  /** Catch up: the join reply holds the posts with a greater id (exclusive), up to 500. */
  last_seen_id?: number;
}

export interface JoinResponse {
  posts: Post[];
}

export interface NewPostParams {
  message: string;
}

/** Error `reason`s a room channel replies with. */
export const RoomErrorReason = {
  /** The payload failed validation; `errors` maps each field to what is wrong with it. */
  invalid: "invalid",
  /** Storage failed; nothing was stored or broadcast, so the client may retry. */
  unavailable: "unavailable",
  /** The topic is not this socket's room, or the channel is not joined. */
  unmatchedTopic: "unmatched topic",
  /** The event is not one the room channel handles; `event` names it. */
  unknownEvent: "unknown event",
  /** The frame had a ref but fields of the wrong type; `detail` says which. */
  malformedFrame: "malformed frame",
  /**
   * The socket's token was revoked (logout) or has expired; `detail` says which. The room then closes
   * the socket with {@link SESSION_ENDED_CLOSE_CODE}.
   */
  unauthorized: "unauthorized",
  /** A bug on the server; the message was not handled. */
  internalError: "internal error",
} as const;

/**
 * The close code of a socket whose token was revoked or expired. Reconnecting with the same token is
 * refused (403), so a page should stop and ask the person to reload or log in again.
 */
export const SESSION_ENDED_CLOSE_CODE = 4001;
