/**
 * Typing indicators: a member's `typing` push is relayed to the others at most once per interval, so a
 * fast typist costs the room one frame per member every couple of seconds, not one per keystroke. Extra
 * pushes are acknowledged and dropped. Never stored: an indicator lost to an eviction is gone after a few
 * seconds anyway.
 */
import { TYPING_RELAY_INTERVAL_MS } from "../../shared/room-contract";

export class TypingThrottle {
  readonly #lastRelayed = new WeakMap<WebSocket, number>();

  constructor(private readonly intervalMs = TYPING_RELAY_INTERVAL_MS) {}

  /** True when this member's typing should be relayed now (and counts it as relayed). */
  shouldRelay(ws: WebSocket, now = Date.now()): boolean {
    const last = this.#lastRelayed.get(ws);
    if (last !== undefined && now - last < this.intervalMs) return false;
    this.#lastRelayed.set(ws, now);
    return true;
  }
}
