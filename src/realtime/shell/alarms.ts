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
