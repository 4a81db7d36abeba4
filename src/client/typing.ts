/**
 * Typing indicators, both ways. {@link TypingNotifier} tells the room that the person is typing at most once
 * per relay interval (the room throttles too; this saves the frames). {@link TypingIndicator} shows who
 * else is typing for a few seconds after each relay, and drops a person as soon as their post arrives.
 */
import { TYPING_RELAY_INTERVAL_MS, type TypingPayload } from "../shared/room-contract";

/** How long "NAME is typing…" stays after a relay; relays come every 2 s or so while someone keeps typing. */
const TYPING_SHOWN_MS = 4_000;

/**
 * At most one `typing` per this many ms. A little over the room's own relay interval, so that a push that
 * travelled faster than the one before it still arrives after the room's interval and is relayed.
 */
export const TYPING_SEND_INTERVAL_MS = TYPING_RELAY_INTERVAL_MS + 250;

/** DOM-free, so the e2e tests drive it from Node. */
export class TypingNotifier {
  #lastSent = Number.NEGATIVE_INFINITY;

  /**
   * @param push sends `typing` to the room; returns false when it could not (not joined), so the next
   *   keystroke tries again
   */
  constructor(
    private readonly push: () => boolean,
    private readonly intervalMs = TYPING_SEND_INTERVAL_MS,
  ) {}

  /** A keystroke: true when it was passed on to the room. */
  typed(now = Date.now()): boolean {
    if (now - this.#lastSent < this.intervalMs) return false;
    if (!this.push()) return false;
    this.#lastSent = now;
    return true;
  }

  /** The post went out: the next keystroke starts a new indication at once. */
  reset(): void {
    this.#lastSent = Number.NEGATIVE_INFINITY;
  }
}

export class TypingIndicator {
  readonly #element: HTMLElement;
  readonly #typists = new Map<number, { username: string; timer: ReturnType<typeof setTimeout> }>();

  constructor(element: HTMLElement) {
    this.#element = element;
  }

  typing({ user }: TypingPayload): void {
    clearTimeout(this.#typists.get(user.id)?.timer);
    const timer = setTimeout(() => this.stopped(user.id), TYPING_SHOWN_MS);
    this.#typists.set(user.id, { username: user.username, timer });
    this.#render();
  }

  stopped(userId: number): void {
    const typist = this.#typists.get(userId);
    if (!typist) return;
    clearTimeout(typist.timer);
    this.#typists.delete(userId);
    this.#render();
  }

  #render(): void {
    const names = [...this.#typists.values()].map((typist) => typist.username);
    this.#element.textContent = describeTypists(names);
  }
}

/** "ann is typing…", "ann and ben are typing…", "ann, ben and cat are typing…", "4 people are typing…". */
function describeTypists(names: string[]): string {
  if (names.length === 0) return "";
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length > 3) return `${names.length} people are typing…`;
  return `${names.slice(0, -1).join(", ")} and ${names.at(-1)} are typing…`;
}
