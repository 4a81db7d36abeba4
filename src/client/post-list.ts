/**
 * The `#posts` list: server-rendered posts plus live ones, each shown once (by id) and in id order,
 * whether it arrived in the join reply, as the reply to our own push, or as a broadcast.
 */
import type { Post } from "../shared/post";
import { postClassName, type Reader } from "../shared/post-view";
import { formatPostTime } from "../shared/time";

export class PostList {
  readonly #list: HTMLOListElement;
  readonly #empty: HTMLElement | null;
  readonly #reader: Reader;
  readonly #ids = new Set<number>();
  /**
   * Every post up to this id has been received. Only complete sources (join replies, and broadcasts
   * while not filtering by mentions) move it, so rejoining with `last_seen_id` = this never leaves a gap.
   */
  #completeThrough: number | undefined;

  constructor(list: HTMLOListElement, empty: HTMLElement | null, reader: Reader) {
    this.#list = list;
    this.#empty = empty;
    this.#reader = reader;
    for (const item of list.querySelectorAll<HTMLLIElement>("li[data-id]")) {
      const id = Number(item.dataset.id);
      this.#ids.add(id);
      this.#completeThrough = Math.max(this.#completeThrough ?? 0, id);
      localizeTime(item);
    }
  }

  get completeThrough(): number | undefined {
    return this.#completeThrough;
  }

  /** Posts that are all there is after `completeThrough`: a join reply, or an unfiltered broadcast. */
  addComplete(posts: Post[]): void {
    for (const post of posts) {
      this.add(post);
      this.#completeThrough = Math.max(this.#completeThrough ?? 0, post.id);
    }
  }

  add(post: Post): void {
    if (this.#ids.has(post.id)) return;
    this.#ids.add(post.id);
    const list = this.#list;
    // Follow new posts only when the reader is at the bottom; someone reading history stays put.
    const following = list.scrollTop + list.clientHeight >= list.scrollHeight - 48;
    const item = renderPost(post, this.#reader);
    const later = [...list.children].find((child) => Number((child as HTMLElement).dataset.id) > post.id);
    list.insertBefore(item, later ?? null);
    if (this.#empty) this.#empty.hidden = true;
    if (!later && following) list.scrollTop = list.scrollHeight;
  }

  /** In mentions-only mode, posts that neither mention the viewer nor are theirs are hidden. */
  setMentionsOnly(on: boolean): void {
    this.#list.classList.toggle("mentions-only", on);
  }
}

/** The same markup as `PostItem` in src/views/room.tsx, built with text nodes only: never HTML. */
function renderPost(post: Post, reader: Reader): HTMLLIElement {
  const item = document.createElement("li");
  item.className = postClassName(post, reader);
  item.dataset.id = String(post.id);

  const author = document.createElement("span");
  author.className = "author";
  author.textContent = post.user.username;

  const time = document.createElement("time");
  time.dateTime = post.inserted_at;

  const message = document.createElement("p");
  message.className = "message";
  message.textContent = post.message;

  item.append(author, time, message);
  localizeTime(item);
  return item;
}

/** The server writes times in UTC; the reader sees their own time zone. */
function localizeTime(item: HTMLElement): void {
  const time = item.querySelector("time");
  if (!time) return;
  time.textContent = formatPostTime(time.dateTime);
  time.title = new Date(time.dateTime).toLocaleString();
}
