/**
 * A Durable Object has one alarm; several jobs want it (a room's copy and indexing retries and token expiry,
 * every socket object's idle sweep, a session's token expiry). Each asks to be woken by a time, and the alarm goes off at
 * the earliest asked for; the alarm handler does every job that is due and asks again for what is left.
 *
 * Every socket a room accepts asks twice (its idle sweep, its token's expiry), almost always for a time
 * after the one already set; so the time set is remembered, read from storage once per wake and again after
 * each run of the alarm, and a request for a later time costs nothing. That holds only while every write of
 * an object's alarm goes through here ({@link wakeBy}, {@link setAlarm}, {@link forgetAlarm}).
 */

/** Each object's requests, one after another: two read-then-set requests interleaved could lose the earlier. */
const pending = new WeakMap<DurableObjectStorage, Promise<void>>();

/**
 * The alarm each object has set, as far as this instance knows (null: none); absent until read. Keyed by
 * the storage object, which a woken or re-created instance gets anew, so it is read once per wake.
 */
const known = new WeakMap<DurableObjectStorage, number | null>();

function serially(storage: DurableObjectStorage, request: () => Promise<void>): Promise<void> {
  const next = (pending.get(storage) ?? Promise.resolve()).then(request);
  pending.set(
    storage,
    next.catch(() => undefined),
  );
  return next;
}

/** Asks for the alarm to go off by `at`: sets it unless it is set for then or earlier already. */
export function wakeBy(storage: DurableObjectStorage, at: number): Promise<void> {
  return serially(storage, async () => {
    let current = known.get(storage);
    if (current === undefined) {
      // Null inside the alarm handler until it asks again: the alarm that is running is spent.
      current = await storage.getAlarm();
      known.set(storage, current);
    }
    if (current === null || current > at) {
      // Forgotten first: if the write fails, the next request reads what storage holds.
      known.delete(storage);
      await storage.setAlarm(at);
      known.set(storage, at);
    }
  });
}

/** Sets the alarm to `at`, later than before or earlier: for an object whose alarm has one job at a time. */
export function setAlarm(storage: DurableObjectStorage, at: number): Promise<void> {
  return serially(storage, async () => {
    known.delete(storage);
    await storage.setAlarm(at);
    known.set(storage, at);
  });
}

/**
 * The alarm may have changed without a request here: it has gone off (its time is spent; the runtime may
 * retry a failed run), or storage was cleared. The next request reads it from storage again. In turn with
 * the requests, so one under way cannot remember a time from before.
 */
export function forgetAlarm(storage: DurableObjectStorage): Promise<void> {
  return serially(storage, async () => {
    known.delete(storage);
  });
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
