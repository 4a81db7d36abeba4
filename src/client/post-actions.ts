/**
 * Edit, delete and "Mark unread" on the posts: the buttons each post shows (post-list.ts). Edit opens an inline editor
 * (Enter saves, Escape cancels); Delete asks first ("Really delete?": a second click deletes, leaving the
 * button keeps the post). Sending and the room's answer are the page's business (`edit`, `remove`: null once
 * done, else why not, in words); the post is then redrawn as it now is, which closes the editor. Text goes
 * in with `value` only: never HTML.
 */
import { checkMessage } from "../shared/post";
import { newClientId } from "./outbox";

export interface PostActionsOptions {
  /** The `#posts` list. */
  list: HTMLElement;
  /** The text of the post as shown now. */
  text(id: number): string | undefined;
  /** Sends `edit_post`; `clientId` stays the same for every try of one edit, so it is made once. */
  edit(id: number, message: string, clientId: string): Promise<string | null>;
  /** Sends `delete_post`. */
  remove(id: number): Promise<string | null>;
  /** Marks this post and everything after it unread ("Mark unread"). */
  markUnread(id: number): void;
  showError(message: string | null): void;
}

const ASK = "Really delete?";

export function enablePostActions(options: PostActionsOptions): void {
  const { list } = options;
  list.addEventListener("click", async (event) => {
    const button = (event.target as Element).closest<HTMLButtonElement>("button[data-action]");
    const item = button?.closest<HTMLLIElement>("li[data-id]");
    if (!button || !item) return;
    const id = Number(item.dataset.id);
    if (button.dataset.action === "edit") return openEditor(item, id, options);
    if (button.dataset.action === "unread") return options.markUnread(id);
    if (button.textContent !== ASK) {
      button.textContent = ASK;
      return;
    }
    button.disabled = true;
    const problem = await options.remove(id);
    options.showError(problem);
    button.disabled = false;
  });
  // Leaving an asking Delete button (a click elsewhere, Tab) keeps the post.
  list.addEventListener("focusout", ({ target }) => {
    if ((target as HTMLElement).textContent === ASK) (target as HTMLElement).textContent = "Delete";
  });
}

function openEditor(item: HTMLLIElement, id: number, options: PostActionsOptions): void {
  const message = item.querySelector<HTMLElement>(".message");
  const text = options.text(id);
  if (!message || text === undefined || item.querySelector("input")) return;
  const input = document.createElement("input");
  input.className = "edit";
  input.value = text;
  input.title = "Enter saves, Escape cancels";
  message.hidden = true;
  message.after(input);
  input.focus();
  const clientId = newClientId();
  const close = () => {
    input.remove();
    message.hidden = false;
  };
  input.addEventListener("keydown", async (event) => {
    if (event.key === "Escape") return close();
    if (event.key !== "Enter") return;
    event.preventDefault();
    const checked = checkMessage(input.value);
    if (!checked.ok) return options.showError(`Message ${checked.error}.`);
    if (checked.value === text) return close();
    input.disabled = true;
    const problem = await options.edit(id, checked.value, clientId);
    input.disabled = false;
    options.showError(problem);
    if (problem === null) close();
    else input.focus();
  });
}
