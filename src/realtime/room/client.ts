/**
 * A room's history as the worker reads it: through the room, which alone knows the posts it has stored
 * and broadcast but not yet copied to D1, so a page never misses one a member has already seen.
 */
import type { Post } from "../../shared/post";
import type { HistoryQuery } from "./live-room";

export function roomHistory(env: Env, room: string, query: HistoryQuery): Promise<Post[]> {
  return env.ROOMS.get(env.ROOMS.idFromName(room)).history(query);
}
