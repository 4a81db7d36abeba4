/**
 * Writes of the room's SQLite that arrive together share one commit. The runtime commits a Durable
 * Object's writes once per turn (an implicit transaction, and outgoing frames wait for it), so a post stored
 * in the turn of its own frame paid a whole commit: at a few hundred posts a second the room spent its time
 * committing, and the members' deliveries queued behind it (bench/README.md, "One commit for the posts that
 * arrive together"). Two kinds of write wait here:
 * - {@link WriteTurns.run}: a post. While posts come faster than one every {@link BUSY_WITHIN_MS}, it runs
 *   in the room's next turn with every write queued until then, in the order they came; a quiet room's post
 *   is stored at once, since waiting would only add to its delivery time.
 * - {@link WriteTurns.later}: a write nobody waits for (the read position a first join makes,
 *   already answered from memory). It waits up to {@link LATER_MS} for others, or rides with the next post.
 */

/** A post this soon after the last one finds the room busy: it waits for the next turn, with others. */
export const BUSY_WITHIN_MS = 4;
/** The longest a write nobody waits for is held for others to share its commit. */
export const LATER_MS = 50;

export class WriteTurns {
  #queued: Array<() => void> = [];
  /** A post is among the queued writes: the next turn is due at once. */
  #postQueued = false;
  #soonTimer = false;
  #laterTimer = false;
  #lastPostAt = Number.NEGATIVE_INFINITY;

  constructor(
    /** Where a write queued by {@link later} that throws is reported: nobody waits for it to hear. */
    private readonly log: (where: string, problem: unknown) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Runs `write` now in a quiet room (with any write queued for later), or else in the next write turn, and
   * answers what it returns. `write` runs synchronously either way, so what it checks (membership, a mute)
   * still holds when it stores.
   */
  run<T>(write: () => T): Promise<T> {
    const now = this.now();
    const quiet = !this.#postQueued && now - this.#lastPostAt >= BUSY_WITHIN_MS;
    this.#lastPostAt = now;
    // The executor runs at once: a quiet room's write happens inside this call.
    return new Promise<T>((resolve, reject) => {
      const settle = () => {
        try {
          resolve(write());
        } catch (problem) {
          reject(problem);
        }
      };
      if (quiet) {
        this.flush();
        settle();
        return;
      }
      this.#queued.push(settle);
      this.#postQueued = true;
      if (!this.#soonTimer) {
        this.#soonTimer = true;
        setTimeout(() => {
          this.#soonTimer = false;
          this.flush();
        }, 0);
      }
    });
  }

  /** Queues a write nobody waits for: it runs within {@link LATER_MS}, or sooner with a post. */
  later(write: () => void): void {
    // Caught here: a write that throws must not stop the posts queued after it.
    this.#queued.push(() => {
      try {
        write();
      } catch (problem) {
        this.log("WriteTurns:later", problem);
      }
    });
    if (this.#laterTimer) return;
    this.#laterTimer = true;
    setTimeout(() => {
      this.#laterTimer = false;
      this.flush();
    }, LATER_MS);
  }

  /**
   * Runs every queued write now: the turns' timers, and any write that must not overtake posts that came
   * before it (an edit, a deletion, a ban: they are numbered after those posts, as they came after them).
   */
  flush(): void {
    if (this.#queued.length === 0) return;
    const writes = this.#queued;
    this.#queued = [];
    this.#postQueued = false;
    for (const write of writes) write();
  }
}
