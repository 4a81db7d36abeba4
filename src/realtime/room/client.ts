/**
 * How the worker and other Durable Objects reach a room: by its name, so no caller builds ids or stubs.
 */
import type { Post, PostsQuery } from "../../shared/post";
import { type Admission, admissionRequest } from "../access/admission";

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
 * A page of the room's posts, read through the room: it alone knows the posts it has stored and broadcast
 * but not yet copied to D1, so a page never misses one a member has already seen.
 */
export function roomPosts(env: Env, name: string, query: PostsQuery): Promise<Post[]> {
  return roomStub(env, name).posts(query);
}
