/**
 * A Durable Object has one alarm; several jobs want it (a room's copy retries and token expiry, every socket
 * object's idle sweep, a session's token expiry). Each asks to be woken by a time, and the alarm goes off at
 * the earliest asked for; the alarm handler does every job that is due and asks again for what is left.
 */

/** Each object's requests, one after another: two read-then-set requests interleaved could lose the earlier. */
const pending = new WeakMap<DurableObjectStorage, Promise<void>>();

export function wakeBy(storage: DurableObjectStorage, at: number): Promise<void> {
  const request = (pending.get(storage) ?? Promise.resolve()).then(async () => {
    // Null inside the alarm handler until it asks again: the alarm that is running is spent.
    const current = await storage.getAlarm();
    if (current === null || current > at) await storage.setAlarm(at);
  });
  pending.set(
    storage,
    request.catch(() => undefined),
  );
  return request;
}

const RETRY_FIRST_MS = 250;
const RETRY_MAX_MS = 5_000;

/**
 * A job's retries after a failure (a room's copy to D1, its search indexing): a blip is retried soon, in
 * memory; a longer outage is left to the alarm, so the object need not stay awake through it. The job
 * checks `waiting` before it tries, and says how each try went.
 */
export class Backoff {
  #delayMs = RETRY_FIRST_MS;
  /** Not before this may the job be tried again; 0 when the last try succeeded. */
  #retryAt = 0;

  constructor(
    private readonly storage: DurableObjectStorage,
    /** Tries the job again (after `clear`). */
    private readonly retry: () => void,
  ) {}

  get waiting(): boolean {
    return Date.now() < this.#retryAt;
  }

  succeeded(): void {
    this.#delayMs = RETRY_FIRST_MS;
    this.#retryAt = 0;
  }

  /** The job may be tried at once again (the alarm, or a woken object). */
  clear(): void {
    this.#retryAt = 0;
  }

  async failed(): Promise<void> {
    this.#retryAt = Date.now() + this.#delayMs;
    await wakeBy(this.storage, this.#retryAt);
    if (this.#delayMs < RETRY_MAX_MS) {
      setTimeout(() => {
        this.clear();
        this.retry();
      }, this.#delayMs);
    }
    this.#delayMs = Math.min(this.#delayMs * 2, RETRY_MAX_MS);
  }
}
