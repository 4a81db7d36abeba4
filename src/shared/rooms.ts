/** Room names and the channel topic that names a room. Shared by the worker and the browser. */

export const ROOM_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export function isRoomName(value: unknown): value is string {
  return typeof value === "string" && ROOM_NAME_PATTERN.test(value);
}

export function roomTopic(room: string): string {
  return `room:${room}`;
}
