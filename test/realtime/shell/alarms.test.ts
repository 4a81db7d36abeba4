/**
 * An object's one alarm, shared by its jobs (shell/alarms.ts), in real Room objects: a request for a later
 * time than the one set costs no storage call, and the time remembered stays true across what changes the
 * alarm without a request (the alarm going off, an eviction, a job that sets it later).
 */
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { setAlarm, wakeBy } from "../../../src/realtime/shell/alarms";
import { roomStub } from "../../helpers/socket";

/** Runs `job` inside the room's object with its storage; counts the alarm calls it makes. */
function inRoom<T>(room: string, job: (storage: DurableObjectStorage) => Promise<T>) {
  return runInDurableObject(roomStub(room), async (_object, state) => {
    const reads = vi.spyOn(state.storage, "getAlarm");
    const writes = vi.spyOn(state.storage, "setAlarm");
    try {
      const result = await job(state.storage);
      return { result, reads: reads.mock.calls.length, writes: writes.mock.calls.length };
    } finally {
      reads.mockRestore();
      writes.mockRestore();
    }
  });
}

const HOUR = 3_600_000;

describe("wakeBy", () => {
  it("reads the alarm once, sets it when asked for an earlier time, and costs nothing for a later one", async () => {
    const at = Date.now() + HOUR;
    const first = await inRoom("alarms_memo", async (storage) => {
      await wakeBy(storage, at + 2_000);
      await wakeBy(storage, at + 1_000);
      return storage.getAlarm();
    });
    expect(first.result).toBe(at + 1_000);
    // One read (the spy counts the test's own too), two writes: each request asked for an earlier time.
    expect(first).toMatchObject({ reads: 2, writes: 2 });

    const later = await inRoom("alarms_memo", async (storage) => {
      for (let n = 1; n <= 20; n++) await wakeBy(storage, at + 1_000 + n);
      return storage.getAlarm();
    });
    expect(later).toEqual({ result: at + 1_000, reads: 1, writes: 0 });
  });

  it("sets the alarm again after it has gone off: the time it remembered is spent", async () => {
    const room = "alarms_spent";
    await inRoom(room, (storage) => wakeBy(storage, Date.now() + HOUR));
    expect(await runDurableObjectAlarm(roomStub(room))).toBe(true);
    const at = Date.now() + 2 * HOUR;
    const after = await inRoom(room, async (storage) => {
      await wakeBy(storage, at);
      return storage.getAlarm();
    });
    expect(after.result).toBe(at);
  });

  it("reads the alarm again after an eviction", async () => {
    const room = "alarms_evicted";
    const at = Date.now() + HOUR;
    await inRoom(room, async (storage) => {
      await wakeBy(storage, at);
      // Changed behind the instance's back, as only another instance could: the new one must not trust the old.
      await storage.deleteAlarm();
    });
    await evictDurableObject(roomStub(room));
    const woken = await inRoom(room, async (storage) => {
      await wakeBy(storage, at + 1_000);
      return storage.getAlarm();
    });
    expect(woken.result).toBe(at + 1_000);
  });

  it("after setAlarm moved the alarm later, a request for an earlier time still sets it", async () => {
    const at = Date.now() + HOUR;
    const moved = await inRoom("alarms_set_later", async (storage) => {
      await wakeBy(storage, at);
      await setAlarm(storage, at + 5_000);
      await wakeBy(storage, at + 3_000);
      return storage.getAlarm();
    });
    expect(moved.result).toBe(at + 3_000);
  });
});
