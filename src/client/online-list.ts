/**
 * Who is in the room, from the official phoenix `Presence` (which syncs `presence_state` and
 * `presence_diff`): one entry per person, however many tabs they have open, with a count. For the owner
 * and moderators each other person is a button that opens the moderator's menu (member-menu.ts).
 */
import type { Presence } from "phoenix";
import type { PresenceMeta } from "../shared/room-contract";

export interface OnlinePerson {
  /** The presence key: the user id, as a string. */
  id: string;
  username: string;
  /** Open joins: a person with two tabs is one entry with two. */
  tabs: number;
}

/** Everyone present, once each, by username. */
export function onlinePeople(presence: Presence): OnlinePerson[] {
  return presence
    .list((id: string, { metas }: { metas: PresenceMeta[] }) => ({
      id,
      username: metas[0]?.username ?? "",
      tabs: metas.length,
    }))
    .sort((a, b) => a.username.localeCompare(b.username));
}

export class OnlineList {
  readonly #count: HTMLElement;
  readonly #list: HTMLUListElement;
  readonly #readerId: string;

  constructor(
    count: HTMLElement,
    list: HTMLUListElement,
    readerId: number,
    private readonly moderating = false,
  ) {
    this.#count = count;
    this.#list = list;
    this.#readerId = String(readerId);
  }

  show(people: OnlinePerson[]): void {
    this.#count.textContent = `${people.length} online`;
    this.#list.replaceChildren(
      ...people.map((person) => {
        const item = document.createElement("li");
        item.dataset.userId = person.id;
        item.textContent = person.username;
        if (person.id === this.#readerId) item.className = "self";
        else if (this.moderating) {
          const button = document.createElement("button");
          button.type = "button";
          button.dataset.username = person.username;
          button.textContent = person.username;
          button.title = `Moderate @${person.username}`;
          item.replaceChildren(button);
        }
        return item;
      }),
    );
    this.stale(false);
  }

  /** While the page is not joined the list may be out of date; it is dimmed until the next sync. */
  stale(on: boolean): void {
    this.#list.parentElement?.classList.toggle("stale", on);
  }
}
