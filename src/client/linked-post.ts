/**
 * A link to one post (`/rooms/ROOM#post-ID`, from search results or mentions): the page shows that post,
 * marked, in the middle of the timeline rather than the newest posts at the bottom. A post older than the
 * page holds is loaded first, scrolling back a page at a time (at most {@link LINKED_POST_MAX_PAGES}).
 */
import { postAnchor } from "../shared/post-view";
import type { OlderPosts } from "./older-posts";

/** 20 pages of 50: a link to a post further back than 1,000 posts opens that far back, at the oldest loaded. */
export const LINKED_POST_MAX_PAGES = 20;

/** Shows post `id`; false when it could not be found (deleted, or further back than the pages allowed). */
export async function showLinkedPost(id: number, older: OlderPosts): Promise<boolean> {
  await older.reach(id, LINKED_POST_MAX_PAGES);
  const item = document.getElementById(postAnchor(id));
  if (!item) return false;
  item.classList.add("linked");
  item.scrollIntoView({ block: "center" });
  return true;
}
