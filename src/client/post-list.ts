/**
 * The `#posts` list inside the scrolling `#timeline`: server-rendered posts plus those the page receives,
 * in id order, each as it now is (edited, or its tombstone). Which posts to show (each once, never an
 * older version over a newer) is the {@link RoomFeed}'s business; this only draws them and keeps the
 * reader's place.
 */
import type { Post } from "../shared/post";
import { ACTION_LABELS, postActions, postAnchor, postClassName, type Reader, tombstoneText } from "../shared/post-view";
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

  /** The posts shown, e.g. those in the page as served, read back from their markup. */
  get posts(): Post[] {
    return this.#items().map(postOf);
  }

  get newestId(): number | undefined {
    const items = this.#list.querySelectorAll<HTMLLIElement>("li[data-id]");
    const last = items[items.length - 1];
    return last ? Number(last.dataset.id) : undefined;
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

  /** A post already shown, drawn again as it now is, in its place. */
  replace(post: Post): void {
    const item = this.#list.querySelector<HTMLLIElement>(`li[data-id="${post.id}"]`);
    item?.replaceWith(renderPost(post, this.#reader));
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
    // Past anything that is not a post (the "New messages" line).
    while (child && (!(child as HTMLElement).dataset.id || idOf(child) > id)) {
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

/** The same markup as `PostItem` in src/views/room.tsx: "edited" with its time, a tombstone's words, the reader's actions. */
function renderPost(post: Post, reader: Reader): HTMLLIElement {
  const deleted = post.deleted_at !== undefined;
  const time = document.createElement("time");
  time.dateTime = post.inserted_at;
  const item = postItem(
    postClassName(post, reader),
    post.user.username,
    time,
    deleted ? tombstoneText(post) : post.message,
  );
  item.dataset.id = String(post.id);
  item.id = postAnchor(post.id);
  item.dataset.userId = String(post.user.id);
  const message = item.querySelector(".message") as HTMLElement;
  if (deleted) message.classList.add("tombstone");
  if (post.edited_at !== undefined && !deleted) {
    const edited = document.createElement("time");
    edited.className = "edited";
    edited.dateTime = post.edited_at;
    message.before(edited);
  }
  const actions = postActions(post, reader);
  if (actions.length > 0) {
    const span = document.createElement("span");
    span.className = "actions";
    for (const action of actions) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "link";
      button.dataset.action = action;
      button.textContent = ACTION_LABELS[action];
      span.append(button);
    }
    item.append(span);
  }
  localizeTime(item);
  return item;
}

/**
 * A post read back from its item (as the server or {@link renderPost} drew it): enough to edit it and to
 * draw its tombstone. (A tombstone reads back as its words: it has nothing left to change.)
 */
function postOf(item: HTMLLIElement): Post {
  return {
    id: Number(item.dataset.id),
    message: item.querySelector(".message")?.textContent ?? "",
    inserted_at: item.querySelector("time")?.dateTime ?? "",
    user: { id: Number(item.dataset.userId), username: item.querySelector(".author")?.textContent ?? "" },
  };
}

/** The server writes times in UTC; the reader sees their own time zone. */
function localizeTime(item: HTMLElement): void {
  for (const time of item.querySelectorAll("time")) {
    const at = formatPostTime(time.dateTime);
    time.textContent = time.classList.contains("edited") ? `edited ${at}` : at;
    time.title = new Date(time.dateTime).toLocaleString();
  }
}
