import { mentions } from "./mentions";
import type { Post } from "./post";

/** Who is reading: the page's logged-in user. */
export interface Reader {
  id: number;
  username: string;
}

/**
 * The class list of a post's `<li>`, computed the same way by the server's `PostItem` and the browser's
 * live rendering: `mention` when it mentions the reader, `own` when the reader wrote it.
 */
export function postClassName(post: Post, reader: Reader): string {
  let className = "post";
  if (mentions(post.message, reader.username)) className += " mention";
  if (post.user.id === reader.id) className += " own";
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
