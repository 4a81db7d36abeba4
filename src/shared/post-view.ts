import { mentions } from "./mentions";
import type { Post } from "./post";

/** Who is reading: the page's logged-in user, and whether they moderate the room (owner or moderator). */
export interface Reader {
  id: number;
  username: string;
  moderates?: boolean;
}

/**
 * The class list of a post's `<li>`, computed the same way by the server's `PostItem` and the browser's
 * live rendering: `mention` when it mentions the reader, `own` when the reader wrote it, `deleted` for a
 * tombstone.
 */
export function postClassName(post: Post, reader: Reader): string {
  let className = "post";
  if (mentions(post.message, reader.username)) className += " mention";
  if (post.user.id === reader.id) className += " own";
  if (post.deleted_at !== undefined) className += " deleted";
  return className;
}

/** A post's element id in its room page, `post-ID`: what links to a post (search, mentions) point at. */
export function postAnchor(id: number): string {
  return `post-${id}`;
}

/** The post id a page's `#post-ID` fragment names, if it names one. */
export function anchoredPostId(hash: string): number | undefined {
  const match = /^#post-([1-9][0-9]{0,15})$/.exec(hash);
  return match ? Number(match[1]) : undefined;
}

/** What a tombstone shows in place of its text. */
export function tombstoneText(post: Post): string {
  return post.deleted_by === "moderator" ? "removed by a moderator" : "message deleted";
}

export type PostAction = "edit" | "delete" | "unread";

/**
 * What the reader may do to a post, as the room decides it: edit and delete their own; delete anyone's
 * when they moderate; mark someone else's post and what follows it unread; nothing to a tombstone. (The
 * room still decides: the edit window, a role just lost.)
 */
export function postActions(post: Post, reader: Reader): PostAction[] {
  if (post.deleted_at !== undefined) return [];
  if (post.user.id === reader.id) return ["edit", "delete"];
  return reader.moderates ? ["unread", "delete"] : ["unread"];
}

/** A button's label for each action. */
export const ACTION_LABELS: Record<PostAction, string> = { edit: "Edit", delete: "Delete", unread: "Mark unread" };
