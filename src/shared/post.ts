import { codePointLength } from "./text";

/**
 * A post as every client sees it, over the socket and in pages. Shared by the worker and the browser.
 */
export interface Post {
  id: number;
  message: string;
  /** ISO 8601, UTC. */
  inserted_at: string;
  user: { id: number; username: string };
}

export const MESSAGE_MAX_LENGTH = 2000;

export type MessageCheck = { ok: true; message: string } | { ok: false; error: string };

/**
 * Trims a message and checks its length in Unicode code points (what a person counts as characters
 * for most text), so an emoji counts once, not twice as in UTF-16.
 */
export function checkMessage(raw: unknown): MessageCheck {
  if (raw === undefined || raw === null) return { ok: false, error: "can't be blank" };
  if (typeof raw !== "string") return { ok: false, error: "must be a string" };
  const message = raw.trim();
  if (message === "") return { ok: false, error: "can't be blank" };
  const length = codePointLength(message);
  if (length > MESSAGE_MAX_LENGTH) {
    return { ok: false, error: `is too long (${length} characters, at most ${MESSAGE_MAX_LENGTH})` };
  }
  return { ok: true, message };
}
