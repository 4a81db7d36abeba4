/**
 * The user channel's contract (topic `user:ID`), on top of the Phoenix protocol: a person's own topic, on
 * which their unread and mention counts arrive (`read_state`) while they look at another room. Shared by the
 * worker and the browser so both sides name the topic, the event and the fields the same way.
 */
import { SocketErrorReason } from "../realtime/phoenix/protocol";

/** Every user topic starts so; what follows must be the joiner's own user id. */
export const USER_TOPIC_PREFIX = "user:";

export const UserEvent = {
  /** Pushed on `user:ID` whenever one of that person's counts in a room may have changed: {@link RoomReadState}. */
  readState: "read_state",
} as const;

/**
 * What the sidebar shows of one room: the join reply's `rooms` entries and the `read_state` push. A push
 * with `last_read_id: null` (and zero counts) says the room is no longer yours to read: drop it.
 */
export interface RoomReadState {
  room: string;
  /** The id of the last post you have read (0: none); null once you may not read the room any more. */
  last_read_id: number | null;
  /** Posts after it by others, not deleted; at most 100 ("99+"). */
  unread: number;
  /** Those of them that mention you; at most 100. */
  mentions: number;
}

/** The join reply of `user:ID`: every room you have a read position in and may read. */
export interface UserJoinResponse {
  rooms: Array<RoomReadState & { last_read_id: number }>;
}

/** Error `reason`s the user channel replies with: the socket's own (Phoenix's), then its own. */
export const UserErrorReason = {
  ...SocketErrorReason,
  /** `user:ID` of another user than the socket's: only your own topic may be joined. */
  forbidden: "forbidden",
  /** More joins of your user topic than the join allowance; `retry_after_ms` says when the next is taken. */
  rateLimited: "rate_limited",
  /** Your counts could not be read (or the socket is ending); join again. */
  unavailable: "unavailable",
  /** An event the user channel does not handle (it takes none from clients); `event` names it. */
  unknownEvent: "unknown event",
} as const;

export function userTopic(userId: number): string {
  return `${USER_TOPIC_PREFIX}${userId}`;
}

/** Whether the user channel answers `topic` (well formed or not): it starts with `user:`. */
export function isUserTopic(topic: string): boolean {
  return topic.startsWith(USER_TOPIC_PREFIX);
}

/**
 * The user id `topic` names, written as the server writes it (a positive integer in decimal, no sign, no
 * leading zero); undefined for anything else (`user:abc`, `user:007`, `user:`), which no channel matches.
 */
export function userIdOfTopic(topic: string): number | undefined {
  if (!isUserTopic(topic)) return undefined;
  const digits = topic.slice(USER_TOPIC_PREFIX.length);
  if (!/^[1-9][0-9]{0,15}$/.test(digits)) return undefined;
  const id = Number(digits);
  return Number.isSafeInteger(id) ? id : undefined;
}
