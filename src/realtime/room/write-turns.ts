/**
 * Posts that arrive together are stored in one turn of the room, so their log rows share one commit of
 * its SQLite. The runtime commits a Durable Object's writes once per turn (an implicit transaction, and
 * outgoing frames wait for it), so a post stored in the turn of its own frame paid a whole commit: at a few
 * hundred posts a second the room spent its time committing, and the members' deliveries queued behind it
 * (bench/README.md, "One commit for the posts that arrive together"). While posts come faster than one
 * every {@link BUSY_WITHIN_MS}, a write queued here runs in the room's next turn, with every write queued
 * until then, in the order they came; a quiet room's post is stored at once, since waiting for the next
 * turn would only add to its delivery time.
 */

/** A write this soon after the last one finds the room busy: it waits for the next turn, with others. */
export const BUSY_WITHIN_MS = 4;

export class WriteTurns {
  #queued: Array<() => void> = [];
  #lastWriteAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * Runs `write` now in a quiet room, or else in the next write turn, and answers what it returns. `write`
   * runs synchronously either way, so what it checks (membership, a mute) still holds when it stores.
   */
  run<T>(write: () => T): Promise<T> {
    const now = this.now();
    const quiet = this.#queued.length === 0 && now - this.#lastWriteAt >= BUSY_WITHIN_MS;
    this.#lastWriteAt = now;
    if (quiet) {
      try {
        return Promise.resolve(write());
      } catch (problem) {
        return Promise.reject(problem);
      }
    }
    return new Promise<T>((resolve, reject) => {
      this.#queued.push(() => {
        try {
          resolve(write());
        } catch (problem) {
          reject(problem);
        }
      });
      if (this.#queued.length === 1) setTimeout(() => this.flush(), 0);
    });
  }

  /**
   * Runs every queued write now: the turn's timer, and any write that must not overtake posts that came
   * before it (an edit, a deletion, a ban: they are numbered after those posts, as they came after them).
   */
  flush(): void {
    if (this.#queued.length === 0) return;
    const writes = this.#queued;
    this.#queued = [];
    for (const write of writes) write();
  }
}
