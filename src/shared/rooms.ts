/**
 * Room ids and the channel topic that names a room. A public room's id is its name; a private room's (and
 * a direct message's) is `~` and an identifier minted by the server, so the two can never be confused.
 */

export const ROOM_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** `~`, 16 random bytes and a 9-byte tag, base64url: a character no name has, then 36 that names may have. */
export const PRIVATE_ROOM_ID_PATTERN = /^~[A-Za-z0-9_-]{34}$/;

export function isRoomName(value: unknown): value is string {
  return typeof value === "string" && ROOM_NAME_PATTERN.test(value);
}

/** Shaped like a private room's id; whether the server minted it is for the server to check. */
export function isPrivateRoomId(value: unknown): value is string {
  return typeof value === "string" && PRIVATE_ROOM_ID_PATTERN.test(value);
}

/** A public room's name or a private room's id, by shape. */
export function isRoomId(value: unknown): value is string {
  return isRoomName(value) || isPrivateRoomId(value);
}

export function roomTopic(room: string): string {
  return `room:${room}`;
}
