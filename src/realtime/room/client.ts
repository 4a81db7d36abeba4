/**
 * How the worker and other Durable Objects reach a room: by its name, so no caller builds ids or stubs.
 */
import type { ChangesQuery } from "../../db/posts";
import type { Post, PostsQuery } from "../../shared/post";
import type { Change } from "../../shared/room-contract";
import { type Admission, admissionRequest } from "../access/admission";
import { isKnownRoomId } from "../access/room-id";

export type RoomStub = ReturnType<Env["ROOMS"]["get"]>;

/** The room named `name` (one Durable Object per name). */
export function roomStub(env: Env, name: string): RoomStub {
  return env.ROOMS.get(env.ROOMS.idFromName(name));
}

/** Hands an admitted socket to its room: 101 with the socket, or the room's refusal. */
export function admitToRoom(env: Env, admission: Admission): Promise<Response> {
  return roomStub(env, admission.room).fetch(admissionRequest(admission));
}

/**
 * A page of the room's posts as `viewerId` may read them, through the room: it alone knows the posts it has
 * stored and broadcast but not yet copied to D1, so a page never misses one a member has already seen.
 * Undefined when the viewer may not read the room: a private room they are not in, as if it did not exist;
 * "banned" when the room banned them.
 */
export async function roomPosts(
  env: Env,
  id: string,
  query: PostsQuery,
  viewerId: number,
): Promise<Post[] | undefined | "banned"> {
  if (!(await isKnownRoomId(env, id))) return undefined;
  return roomStub(env, id).posts(query, viewerId);
}

/**
 * A page of the room's changes (new posts, edits, deletions, …) as `viewerId` may read them, through the
 * room, for the same reason as {@link roomPosts}; undefined when the viewer may not read the room, "banned"
 * to someone the room banned.
 */
export async function roomChanges(
  env: Env,
  id: string,
  query: ChangesQuery,
  viewerId: number,
): Promise<{ changes: Change[]; has_more: boolean } | undefined | "banned"> {
  if (!(await isKnownRoomId(env, id))) return undefined;
  return roomStub(env, id).changes(query, viewerId);
}

/** The room of `id`, if a request may reach it at all (see `isKnownRoomId`). */
export async function knownRoom(env: Env, id: string): Promise<RoomStub | undefined> {
  return (await isKnownRoomId(env, id)) ? roomStub(env, id) : undefined;
}

/** A new private room's id (`~…`), minted here so that only ids the server gave out reach a room. */
export { mintPrivateRoomId } from "../access/room-id";
export type { InviteView, MemberView, Outcome, Refusal, RoomView } from "./governance";
export { checkTitle, INVALID_INVITE, NO_SUCH_ROOM, YOU_ARE_BANNED } from "./governance";
export type { RoomCreation } from "./live-room";
export type { Role } from "./membership";
export type { RoomModes } from "./moderation";
export type { BanView, LogEntryView, ModerationView, MuteView } from "./moderation-actions";
