/**
 * The `#posts` list inside the scrolling `#timeline`: server-rendered posts plus those the page receives,
 * in id order. Which posts to show (each once) is the {@link RoomFeed}'s business; this only draws them
 * and keeps the reader's place.
 */
import type { Post } from "../shared/post";
import { postAnchor, postClassName, type Reader } from "../shared/post-view";
import { formatPostTime } from "../shared/time";

/** How close to the bottom (px) still counts as reading the newest posts, which then stay in view. */
const FOLLOW_SLACK_PX = 48;

export class PostList {
  readonly #timeline: HTMLElement;
  readonly #list: HTMLOListElement;
  readonly #empty: HTMLElement | null;
  readonly #reader: Reader;

  constructor(timeline: HTMLElement, list: HTMLOListElement, empty: HTMLElement | null, reader: Reader) {
    this.#timeline = timeline;
    this.#list = list;
    this.#empty = empty;
    this.#reader = reader;
    for (const item of this.#items()) localizeTime(item);
  }

  /** The ids of the posts shown, e.g. those in the page as served. */
  get ids(): number[] {
    return this.#items().map((item) => Number(item.dataset.id));
  }

  get oldestId(): number | undefined {
    const first = this.#list.querySelector<HTMLLIElement>("li[data-id]");
    return first ? Number(first.dataset.id) : undefined;
  }

  /** Posts in any order relative to those shown; each goes to its place by id. */
  insert(posts: Post[]): void {
    const following = this.#atEnd();
    for (const post of posts) this.#list.insertBefore(renderPost(post, this.#reader), this.#placeFor(post.id));
    if (posts.length > 0 && this.#empty) this.#empty.hidden = true;
    // Follow new posts only when the reader is at the bottom; someone reading history stays put.
    if (following) this.scrollToEnd();
  }

  /** Posts older than all shown, put above them without moving what the reader is looking at. */
  prepend(posts: Post[]): void {
    if (posts.length === 0) return;
    const timeline = this.#timeline;
    const fromBottom = timeline.scrollHeight - timeline.scrollTop;
    const items = document.createDocumentFragment();
    for (const post of posts) items.append(renderPost(post, this.#reader));
    this.#list.prepend(items);
    timeline.scrollTop = timeline.scrollHeight - fromBottom;
  }

  #atEnd(): boolean {
    const timeline = this.#timeline;
    return timeline.scrollTop + timeline.clientHeight >= timeline.scrollHeight - FOLLOW_SLACK_PX;
  }

  scrollToEnd(): void {
    this.#timeline.scrollTop = this.#timeline.scrollHeight;
  }

  /** In mentions-only mode, posts that neither mention the viewer nor are theirs are hidden. */
  setMentionsOnly(on: boolean): void {
    this.#list.classList.toggle("mentions-only", on);
  }

  /** The item a post with this id goes before (null: the end). New posts belong at the end, so look from there. */
  #placeFor(id: number): Element | null {
    let next: Element | null = null;
    let child = this.#list.lastElementChild;
    while (child && idOf(child) > id) {
      next = child;
      child = child.previousElementSibling;
    }
    return next;
  }

  #items(): HTMLLIElement[] {
    return [...this.#list.querySelectorAll<HTMLLIElement>("li[data-id]")];
  }
}

function idOf(element: Element): number {
  return Number((element as HTMLElement).dataset.id);
}

/**
 * A post's list item, the same markup as `PostItem` in src/views/room.tsx: author, `detail` (its time, or
 * a pending post's delivery state), message. Built with text nodes only: never HTML.
 */
export function postItem(className: string, username: string, detail: HTMLElement, text: string): HTMLLIElement {
  const item = document.createElement("li");
  item.className = className;

  const author = document.createElement("span");
  author.className = "author";
  author.textContent = username;

  const message = document.createElement("p");
  message.className = "message";
  message.textContent = text;

  item.append(author, detail, message);
  return item;
}

function renderPost(post: Post, reader: Reader): HTMLLIElement {
  const time = document.createElement("time");
  time.dateTime = post.inserted_at;
  const item = postItem(postClassName(post, reader), post.user.username, time, post.message);
  item.dataset.id = String(post.id);
  item.id = postAnchor(post.id);
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
