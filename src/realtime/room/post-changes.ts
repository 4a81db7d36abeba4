/**
 * Edits and deletions of posts: who may make them, and what each makes of the post. Pure rules over the
 * post as it is now, so the room decides at the very moment it logs the change (room/channel.ts), and
 * every way in (room-bound, multiplexed, LongPoll) meets the same ones.
 */
import { type DeletedBy, type Post, tombstone } from "../../shared/post";
import { RoomErrorReason } from "../../shared/room-contract";
import type { Role } from "./membership";

export type PostRefusal =
  | typeof RoomErrorReason.notFound
  | typeof RoomErrorReason.forbidden
  | typeof RoomErrorReason.editWindowClosed;

export type Decision = { ok: true; post: Post } | { ok: false; reason: PostRefusal };

/**
 * An edit of `post` by `userId` to `message` at `now`: its author's, of a post not deleted, within
 * `windowMs` of its posting (0: no window). The edited post keeps its id, time and author.
 */
export function decideEdit(
  post: Post | undefined,
  userId: number,
  message: string,
  now: Date,
  windowMs: number,
): Decision {
  if (!post || post.deleted_at !== undefined) return { ok: false, reason: RoomErrorReason.notFound };
  if (post.user.id !== userId) return { ok: false, reason: RoomErrorReason.forbidden };
  if (windowMs > 0 && now.getTime() - Date.parse(post.inserted_at) > windowMs) {
    return { ok: false, reason: RoomErrorReason.editWindowClosed };
  }
  return { ok: true, post: { ...post, message, edited_at: now.toISOString() } };
}

/**
 * A deletion of `post` by `userId` (whose role in the room is `role`) at `now`: by its author, or by a
 * moderator or the owner of the room, at any time; not of a post already deleted. What is left is its
 * tombstone.
 */
export function decideDelete(post: Post | undefined, userId: number, role: Role | undefined, now: Date): Decision {
  if (!post || post.deleted_at !== undefined) return { ok: false, reason: RoomErrorReason.notFound };
  const by: DeletedBy | undefined =
    post.user.id === userId ? "author" : role === "moderator" || role === "owner" ? "moderator" : undefined;
  if (!by) return { ok: false, reason: RoomErrorReason.forbidden };
  return { ok: true, post: tombstone(post, { deleted_by: by, deleted_at: now.toISOString() }) };
}
