/**
 * A Durable Object has one alarm; several jobs in a room want it (retrying a copy to D1, closing sockets
 * whose token expires). Each asks to be woken by a time, and the alarm goes off at the earliest asked for;
 * the alarm handler does every job that is due and asks again for what is left.
 */
export async function wakeBy(storage: DurableObjectStorage, at: number): Promise<void> {
  const current = await storage.getAlarm();
  if (current === null || current > at) await storage.setAlarm(at);
}
