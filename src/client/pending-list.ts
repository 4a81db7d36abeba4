/**
 * The `#outbox` list, right under the posts: what the person wrote that the room has not stored yet,
 * marked "sending…", or "not sent" once it never will be (the text stays visible either way).
 */
import type { Reader } from "../shared/post-view";
import type { OutboxEntry } from "./outbox";
import { postItem } from "./post-list";

export class PendingList {
  readonly #list: HTMLOListElement;
  readonly #reader: Reader;
  readonly #items = new Map<string, HTMLLIElement>();

  constructor(list: HTMLOListElement, reader: Reader) {
    this.#list = list;
    this.#reader = reader;
  }

  add(entry: OutboxEntry): void {
    const state = document.createElement("span");
    state.className = "delivery";
    state.textContent = "sending…";
    const item = postItem("post own pending", this.#reader.username, state, entry.message);
    item.dataset.clientId = entry.clientId;
    this.#items.set(entry.clientId, item);
    this.#list.append(item);
  }

  remove(entry: OutboxEntry): void {
    this.#items.get(entry.clientId)?.remove();
    this.#items.delete(entry.clientId);
  }

  /** Marks an entry as never to be sent, keeping its text on screen. */
  notSent(entry: Pick<OutboxEntry, "clientId">, why: string): void {
    const item = this.#items.get(entry.clientId);
    if (!item) return;
    item.classList.replace("pending", "failed");
    const state = item.querySelector(".delivery");
    if (state) state.textContent = `not sent: ${why}`;
  }

  /** Marks every entry still pending as never to be sent (the session ended); refused ones keep their reason. */
  notSentAll(why: string): void {
    for (const [clientId, item] of this.#items) {
      if (item.classList.contains("pending")) this.notSent({ clientId }, why);
    }
  }
}
