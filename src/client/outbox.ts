/**
 * Posts the person wrote that the room has not acknowledged yet, each sent again with the `client_id` made
 * when it was written until an answer settles it, so it is stored and shown once (src/client/README.md).
 * Free of the DOM (the page shows entries through an {@link OutboxView}), so the e2e tests drive it from Node.
 */
import type { Channel } from "phoenix";
import type { Post } from "../shared/post";
import { type NewPostParams, RoomErrorReason, RoomEvent } from "../shared/room-contract";
import { retryDelay } from "./backoff";
import { moderationRefusal } from "./composer-moderation";

export interface OutboxEntry {
  readonly clientId: string;
  readonly message: string;
}

export interface OutboxView {
  /** A new entry, to show as pending ("sending…") until it is settled. */
  added(entry: OutboxEntry): void;
  /** The room stored it (or had stored it already): `post` is the stored post. */
  stored(entry: OutboxEntry, post: Post): void;
  /** The room refused it for good (e.g. `invalid`); it was not stored. `error` says why, in words. */
  refused(entry: OutboxEntry, error: string): void;
  /** The session ended (`unauthorized`): nothing more is sent; the entries stay as they are. */
  sessionEnded(): void;
}

export interface OutboxOptions {
  /** How long to wait for a reply before sending again (phoenix's push timeout). */
  timeoutMs?: number;
  retryDelaysMs?: readonly number[];
}

export interface ErrorResponse {
  reason?: string;
  detail?: string;
  until?: string;
  errors?: Record<string, string>;
  retry_after_ms?: number;
}

interface Entry extends OutboxEntry {
  /** Numbers the sends, so only the answer to the latest one decides what happens next. */
  sends: number;
  failures: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

export class Outbox {
  readonly #view: OutboxView;
  readonly #options: OutboxOptions;
  readonly #entries = new Map<string, Entry>();
  /** The channel while it is joined; null while (re)joining, when nothing is sent. */
  #channel: Channel | null = null;
  #stopped = false;

  constructor(view: OutboxView, options: OutboxOptions = {}) {
    this.#view = view;
    this.#options = options;
  }

  /** Entries not settled yet, oldest first. */
  get pending(): OutboxEntry[] {
    return [...this.#entries.values()];
  }

  /** Takes a checked message: shows it as pending, and sends it now if the channel is joined. */
  submit(message: string): OutboxEntry {
    const entry: Entry = { clientId: newClientId(), message, sends: 0, failures: 0, timer: undefined };
    this.#entries.set(entry.clientId, entry);
    this.#view.added(entry);
    this.#send(entry);
    return entry;
  }

  /** The channel joined (or rejoined): send everything not acknowledged yet, oldest first. */
  joined(channel: Channel): void {
    this.#channel = channel;
    for (const entry of this.#entries.values()) this.#send(entry);
  }

  /** The channel is no longer joined; entries wait for the next join. */
  left(): void {
    this.#channel = null;
  }

  /** The session is over: send nothing more, ever. */
  stop(): void {
    this.#stopped = true;
    this.#channel = null;
    for (const entry of this.#entries.values()) clearTimeout(entry.timer);
  }

  #send(entry: Entry): void {
    clearTimeout(entry.timer);
    entry.timer = undefined;
    const channel = this.#channel;
    if (!channel || this.#stopped || !this.#entries.has(entry.clientId)) return;
    const send = ++entry.sends;
    const latest = () => entry.sends === send && this.#entries.has(entry.clientId);
    const payload: NewPostParams = { message: entry.message, client_id: entry.clientId };
    channel
      .push(RoomEvent.newPost, payload, this.#options.timeoutMs)
      // Any ok settles it, even the answer to an earlier send: the post is stored either way.
      .receive("ok", (post: Post) => this.#settle(entry, () => this.#view.stored(entry, post)))
      .receive("error", (response: ErrorResponse) => {
        if (latest()) this.#failed(entry, response);
      })
      .receive("timeout", () => {
        if (latest()) this.#retry(entry, this.#backoff(entry));
      });
  }

  #failed(entry: Entry, response: ErrorResponse): void {
    switch (response.reason) {
      case RoomErrorReason.rateLimited:
      case RoomErrorReason.slowMode:
        this.#retry(entry, response.retry_after_ms ?? this.#backoff(entry));
        return;
      case RoomErrorReason.unavailable:
        this.#retry(entry, this.#backoff(entry));
        return;
      case RoomErrorReason.staleJoin:
      case RoomErrorReason.unmatchedTopic:
        // Sent across a rejoin; the join resends it, and this is the fallback should it not.
        this.#retry(entry, this.#backoff(entry));
        return;
      case RoomErrorReason.unauthorized:
        this.stop();
        this.#view.sessionEnded();
        return;
      default:
        this.#settle(entry, () => this.#view.refused(entry, describeRefusal(response)));
    }
  }

  #retry(entry: Entry, delayMs: number): void {
    clearTimeout(entry.timer);
    entry.timer = setTimeout(() => this.#send(entry), delayMs);
  }

  /** Waits before sending again after a timeout or `unavailable`. */
  #backoff(entry: Entry): number {
    return retryDelay(entry.failures++, this.#options.retryDelaysMs);
  }

  #settle(entry: Entry, tell: () => void): void {
    if (!this.#entries.delete(entry.clientId)) return;
    clearTimeout(entry.timer);
    tell();
  }
}

/**
 * What a refusal of a post, an edit or a deletion means for the person: the field at fault ("Message is too
 * long (…)."), else the room's reason, which is words already ("edit window closed", "forbidden").
 */
export function describeRefusal(response: ErrorResponse): string {
  const field = response.errors?.message;
  if (field) return `Message ${field}.`;
  const moderated = moderationRefusal(response);
  if (moderated) return moderated;
  return `Refused: ${response.reason ?? "unknown reason"}.`;
}

/** A UUID; `crypto.randomUUID` exists only in secure contexts, so a page served over plain http gets the same from random bytes. */
export function newClientId(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) => byte.toString(16).padStart(2, "0")).join("");
}
