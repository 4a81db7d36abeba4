/**
 * Where the reader is, in this room and in their others (issue 17): the counts beside each room (the
 * sidebar, from the `user:ID` topic), the "New messages" line where this room's unread posts begin, and
 * the read position the page reports as the reader sees posts (`mark_read`, at most one every 2 s and only
 * while the page is visible). The room decides every position; the page only shows what it answers.
 */
import type { Channel, Socket } from "phoenix";
import { countLabel } from "../shared/counts";
import { type RoomReadState, UserEvent, type UserJoinResponse, userTopic } from "../shared/user-contract";

/** The shortest time between two `mark_read` pushes, as issue 17 asks of clients. */
export const MARK_READ_INTERVAL_MS = 2_000;

/**
 * Shows one room's counts wherever the page lists that room: the `.unread-count` and `.mention-count`
 * elements with its `data-room` (src/views/rooms.tsx `CountBadges`), as the server draws them.
 */
export function showReadState(state: RoomReadState): void {
  for (const element of document.querySelectorAll<HTMLElement>(".unread-count[data-room], .mention-count[data-room]")) {
    if (element.dataset.room !== state.room) continue;
    const unread = element.classList.contains("unread-count");
    const count = unread ? state.unread : state.mentions;
    element.textContent = countLabel(count);
    element.title = `${countLabel(count)} ${unread ? "unread" : count === 1 ? "mention" : "mentions"}`;
    element.hidden = count === 0;
  }
}

/**
 * Joins the reader's own topic on `socket` and keeps every count on the page current: all of them from
 * the join reply (a room missing from it counts nothing), then each room as its `read_state` comes.
 */
export function watchReadStates(socket: Socket, userId: number): Channel {
  const channel = socket.channel(userTopic(userId));
  channel.on(UserEvent.readState, (state: RoomReadState) => showReadState(state));
  channel.join().receive("ok", ({ rooms }: UserJoinResponse) => {
    const known = new Set(rooms.map((state) => state.room));
    for (const element of document.querySelectorAll<HTMLElement>(".unread-count[data-room]")) {
      const room = element.dataset.room ?? "";
      if (!known.has(room)) showReadState({ room, last_read_id: null, unread: 0, mentions: 0 });
    }
    for (const state of rooms) showReadState(state);
  });
  return channel;
}

export interface ReadMarkerOptions {
  /** The scrolling timeline and the `#posts` list inside it. */
  timeline: HTMLElement;
  list: HTMLElement;
  /** Sends `mark_read`; resolves to the room's position after it (null: not sent, e.g. not joined). */
  markRead(upToId: number): Promise<number | null>;
}

/**
 * Reports how far the reader has read: the newest post whose top is on screen, while the page is visible,
 * at most once every {@link MARK_READ_INTERVAL_MS}. Only ever forward (the room ignores a lower one
 * anyway). Paused by "Mark unread from here" until the reader marks the room read again.
 */
export class ReadMarker {
  readonly #options: ReadMarkerOptions;
  /** The room's position as last answered (or from the join reply). */
  #position = 0;
  #lastSentAt = Number.NEGATIVE_INFINITY;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #paused = false;

  constructor(options: ReadMarkerOptions) {
    this.#options = options;
    options.timeline.addEventListener("scroll", () => this.check(), { passive: true });
    document.addEventListener("visibilitychange", () => this.check());
  }

  /** The room's position for the reader, from a join reply or an answer. */
  set position(lastReadId: number) {
    this.#position = lastReadId;
  }

  get position(): number {
    return this.#position;
  }

  set paused(paused: boolean) {
    this.#paused = paused;
    if (!paused) this.check();
  }

  /** Posts may have come into view: report them, now or when the interval allows. */
  check(): void {
    if (this.#paused || document.visibilityState !== "visible" || this.#timer !== undefined) return;
    const wait = this.#lastSentAt + MARK_READ_INTERVAL_MS - Date.now();
    if (wait > 0) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.check();
      }, wait);
      return;
    }
    const seen = this.#newestOnScreen();
    if (seen === undefined || seen <= this.#position) return;
    this.#lastSentAt = Date.now();
    void this.#options.markRead(seen).then((position) => {
      if (position !== null) this.#position = Math.max(this.#position, position);
    });
  }

  /** The id of the newest post whose top is above the timeline's bottom edge. */
  #newestOnScreen(): number | undefined {
    const bottom = this.#options.timeline.getBoundingClientRect().bottom;
    const items = this.#options.list.querySelectorAll<HTMLElement>("li[data-id]");
    for (let index = items.length - 1; index >= 0; index -= 1) {
      const item = items[index] as HTMLElement;
      if (item.getBoundingClientRect().top < bottom) return Number(item.dataset.id);
    }
    return undefined;
  }
}

/**
 * The "New messages" line: above the first post after the read position that is not the reader's own,
 * placed once when the room opens (and again by "Mark unread from here"), gone by "Mark as read".
 */
export class NewMessagesLine {
  readonly #list: HTMLElement;
  readonly #readerId: number;
  readonly #line: HTMLLIElement;

  constructor(list: HTMLElement, readerId: number) {
    this.#list = list;
    this.#readerId = readerId;
    this.#line = document.createElement("li");
    this.#line.id = "new_messages";
    this.#line.className = "new-messages";
    this.#line.setAttribute("role", "separator");
    this.#line.textContent = "New messages";
  }

  /** Puts the line above the first unread post shown, if any; true when it did (the page scrolls there). */
  place(lastReadId: number): boolean {
    const first = [...this.#list.querySelectorAll<HTMLElement>("li[data-id]")].find(
      (item) => Number(item.dataset.id) > lastReadId && Number(item.dataset.userId) !== this.#readerId,
    );
    if (!first) {
      this.remove();
      return false;
    }
    first.before(this.#line);
    return true;
  }

  remove(): void {
    this.#line.remove();
  }

  get element(): HTMLLIElement {
    return this.#line;
  }
}
