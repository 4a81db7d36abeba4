/**
 * A Durable Object has one alarm; several jobs want it (a room's copy retries and token expiry, every socket
 * object's idle sweep, a session's token expiry). Each asks to be woken by a time, and the alarm goes off at
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
