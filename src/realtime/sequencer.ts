/**
 * Runs a room's work one task at a time, in arrival order.
 *
 * A Durable Object keeps delivering frames while a handler awaits D1, so without this two posts could be
 * stored as ids 7 and 8 but broadcast as 8, 7, and a join could read history just before a post is
 * stored yet subscribe just after its broadcast. Serialising joins and posts makes every member see posts
 * in id order with no gap, which is what makes `last_seen_id` catch-up exact.
 */
export class Sequencer {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(task);
    // A failed task must not stop the ones queued behind it; its caller still sees the failure.
    this.#tail = result.catch(() => undefined);
    return result;
  }
}
