/**
 * The room's slices of its posters' allowances (room/allowance-slices.ts), over the real holder arithmetic
 * (user-sockets/allowance.ts) called in-process: when a post asks the holder, and when it does not. Through
 * rooms and UserSockets: test/realtime/user-sockets/allowance.test.ts.
 */
import { describe, expect, it } from "vitest";
import { AllowanceSlices, type AllowanceTake, type SliceTimings } from "../../../src/realtime/room/allowance-slices";
import { type Lease, PostAllowances } from "../../../src/realtime/user-sockets/allowance";

const TIMINGS: SliceTimings = { lapseMs: 60_000, leaseTimeoutMs: 1_000, failureBackoffMs: 60_000, refusalHoldMs: 0 };

/** Slices over a real holder, counting the leases asked for. */
function slicesOver(policy: { perSecond: number; burst: number }, timings: SliceTimings = TIMINGS) {
  const holder = new PostAllowances(policy);
  const asked: number[] = [];
  const logged: string[] = [];
  const slices = new AllowanceSlices(
    async (userId) => {
      asked.push(userId);
      return holder.lease(userId);
    },
    (where) => logged.push(where),
    timings,
  );
  return { slices, asked, logged };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("AllowanceSlices", () => {
  it("asks the holder only when the slice is spent: the posts in between are taken at once", async () => {
    const { slices, asked } = slicesOver({ perSecond: 0.001, burst: 30 }); // leases of 3
    const first = slices.take(1);
    expect(first).toBeInstanceOf(Promise);
    expect(await first).toEqual({ ok: true });
    expect(asked).toEqual([1]);
    // The other two of the lease: synchronous answers, no lease.
    expect(slices.take(1)).toEqual({ ok: true });
    expect(slices.take(1)).toEqual({ ok: true });
    expect(asked).toEqual([1]);
    expect(await slices.take(1)).toEqual({ ok: true });
    expect(asked).toEqual([1, 1]);
    // Another poster has a slice of their own.
    expect(await slices.take(2)).toEqual({ ok: true });
    expect(asked).toEqual([1, 1, 2]);
  });

  it("lets posts that find the slice spent wait for one lease, taken in their order, and asks again only when it is spent", async () => {
    const { slices, asked } = slicesOver({ perSecond: 0.001, burst: 30 });
    const order: number[] = [];
    const takes = Array.from({ length: 5 }, (_, n) =>
      Promise.resolve(slices.take(7)).then((taken) => {
        order.push(n);
        return taken;
      }),
    );
    expect(await Promise.all(takes)).toEqual(Array(5).fill({ ok: true }));
    expect(order).toEqual([0, 1, 2, 3, 4]);
    expect(asked).toEqual([7, 7]); // 3 + 3 lent, 5 used
    expect(slices.take(7)).toEqual({ ok: true }); // the sixth, still in the slice
  });

  it("hands out exactly the burst, then remembers the refusal until it lapses, asking nothing meanwhile", async () => {
    // The holder's clock stands still unless the test moves it, so no post refills while the burst is taken.
    const holder = new PostAllowances({ perSecond: 20, burst: 10 }); // leases of 1
    let clock = 1_800_000_000_000;
    let asked = 0;
    const slices = new AllowanceSlices(
      async (userId) => {
        asked += 1;
        return holder.lease(userId, clock);
      },
      () => {},
      TIMINGS,
    );
    const answers: AllowanceTake[] = [];
    for (let n = 0; n < 10; n++) answers.push(await slices.take(3));
    expect(answers).toEqual(Array(10).fill({ ok: true }));
    // The holder's 50 ms, counted down on the room's own clock from when it answered (a millisecond may pass).
    const refused = await slices.take(3);
    expect(refused).toMatchObject({ ok: false, retryAfterMs: expect.any(Number) });
    expect("retryAfterMs" in refused && refused.retryAfterMs).toBeGreaterThanOrEqual(45);
    expect("retryAfterMs" in refused && refused.retryAfterMs).toBeLessThanOrEqual(50);
    expect(asked).toBe(11);
    // Refused again from memory, synchronously, with the wait counting down.
    const again = slices.take(3);
    expect(again).not.toBeInstanceOf(Promise);
    expect(again).toMatchObject({ ok: false, retryAfterMs: expect.any(Number) });
    expect("retryAfterMs" in again && again.retryAfterMs).toBeLessThanOrEqual(50);
    expect(asked).toBe(11);
    // Waiting as told is enough: the holder has refilled one post.
    await sleep(50);
    clock += 50;
    expect(await slices.take(3)).toEqual({ ok: true });
    expect(asked).toBe(12);
  });

  it("holds a refusal at least refusalHoldMs, and says so, so rooms do not ask again at every refill", async () => {
    const holder = new PostAllowances({ perSecond: 100, burst: 10 }); // a post every 10 ms
    const clock = 1_800_000_000_000;
    let asked = 0;
    const slices = new AllowanceSlices(
      async (userId) => {
        asked += 1;
        return holder.lease(userId, clock);
      },
      () => {},
      { ...TIMINGS, refusalHoldMs: 1_000 },
    );
    for (let n = 0; n < 10; n++) expect(await slices.take(8)).toEqual({ ok: true });
    // Held for refusalHoldMs from when the holder answered, on the room's own clock (a millisecond may pass).
    const refused = await slices.take(8);
    expect(refused).toMatchObject({ ok: false, retryAfterMs: expect.any(Number) });
    expect("retryAfterMs" in refused && refused.retryAfterMs).toBeGreaterThanOrEqual(990);
    expect("retryAfterMs" in refused && refused.retryAfterMs).toBeLessThanOrEqual(1_000);
    await sleep(20); // the holder would have a post again by now: still refused here, without asking
    const held = slices.take(8);
    expect(held).toMatchObject({ ok: false });
    expect("retryAfterMs" in held && held.retryAfterMs).toBeGreaterThan(900);
    expect(asked).toBe(11);
  });

  it("takes back a post given back, so a post the room refused costs no allowance", async () => {
    const { slices, asked } = slicesOver({ perSecond: 0.001, burst: 30 });
    expect(await slices.take(4)).toEqual({ ok: true });
    slices.giveBack(4);
    for (let n = 0; n < 3; n++) expect(slices.take(4)).toEqual({ ok: true });
    expect(asked).toEqual([4]);
  });

  it("lets a slice lapse: posts lent but unused are not kept for later", async () => {
    const { slices, asked } = slicesOver({ perSecond: 0.001, burst: 30 }, { ...TIMINGS, lapseMs: 20 });
    expect(await slices.take(5)).toEqual({ ok: true });
    await sleep(25);
    const after = slices.take(5);
    expect(after).toBeInstanceOf(Promise);
    expect(await after).toEqual({ ok: true });
    expect(asked).toEqual([5, 5]);
  });

  it("answers unavailable when the holder fails or does not answer in time, and asks again only after the back-off", async () => {
    const holder = new PostAllowances({ perSecond: 0.001, burst: 30 });
    let behaviour: "fail" | "hang" | "answer" = "fail";
    let asked = 0;
    const logged: string[] = [];
    const slices = new AllowanceSlices(
      (userId): Promise<Lease> => {
        asked += 1;
        if (behaviour === "fail") return Promise.reject(new Error("UserSockets overloaded"));
        if (behaviour === "hang") return new Promise<Lease>(() => {});
        return Promise.resolve(holder.lease(userId));
      },
      (where) => logged.push(where),
      { lapseMs: 60_000, leaseTimeoutMs: 30, failureBackoffMs: 40, refusalHoldMs: 0 },
    );
    expect(await slices.take(6)).toEqual({ ok: false, unavailable: true });
    expect(slices.take(6)).toEqual({ ok: false, unavailable: true }); // within the back-off: not asked
    expect(asked).toBe(1);
    expect(logged).toEqual(["Room: post allowance lease"]);

    await sleep(45);
    behaviour = "hang";
    expect(await slices.take(6)).toEqual({ ok: false, unavailable: true });
    expect(asked).toBe(2);

    await sleep(45);
    behaviour = "answer";
    expect(await slices.take(6)).toEqual({ ok: true });
    expect(asked).toBe(3);
  });
});
