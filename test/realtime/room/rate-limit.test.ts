/**
 * The rate limits (room/rate-limit.ts): posts in a bucket per user per room, burst 10 (wrangler.toml's),
 * refilled at the pool's POSTS_PER_SECOND (vitest.config.ts: slow, so an emptied bucket stays empty while a
 * loaded machine runs the test's next steps); joins at the pool's JOINS_BURST (vitest.config.ts raises it
 * for the channel fuzzer), refused past it on every way in.
 */
import { evictDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { configOf, DEFAULTS } from "../../../src/config";
import { posts } from "../../../src/db/schema";
import {
  type BucketState,
  RateLimits,
  type RatePolicy,
  type Take,
  takeToken,
} from "../../../src/realtime/room/rate-limit";
import { FUZZ_SEED, runsOr } from "../../fuzz/settings";
import { LongPollClient } from "../../helpers/longpoll";
import {
  closeAll,
  connect,
  connectAndJoin,
  connectMultiplexed,
  type Frame,
  roomStub,
  type TestSocket,
} from "../../helpers/socket";
import { db, makeUser, seedPosts, tokenFor } from "../../helpers/users";

const open: TestSocket[] = [];
afterEach(() => closeAll(open));

async function stored(room: string): Promise<number> {
  return (await db.select().from(posts).where(eq(posts.room, room))).length;
}

function burstOf(socket: TestSocket, room: string, count: number) {
  return Promise.all(
    Array.from({ length: count }, (_, n) => socket.push(`room:${room}`, "new_post", { message: `burst ${n}` })),
  );
}

describe("post rate limit", () => {
  it("takes a burst of 10, then answers rate_limited with retry_after_ms, storing and broadcasting nothing", async () => {
    const user = await makeUser("flooder");
    const reader = await makeUser("flood_reader");
    const f = await connectAndJoin(user, "flood");
    const r = await connectAndJoin(reader, "flood");
    open.push(f.socket, r.socket);

    const replies = await burstOf(f.socket, "flood", 12);
    const accepted = replies.filter((reply) => reply.status === "ok");
    const limited = replies.filter((reply) => reply.status === "error");
    expect(accepted).toHaveLength(DEFAULTS.POSTS_BURST);
    expect(limited).toHaveLength(2);
    for (const reply of limited) {
      expect(reply.response).toEqual({ reason: "rate_limited", retry_after_ms: expect.any(Number) });
      expect(reply.response.retry_after_ms).toBeGreaterThan(0);
      expect(reply.response.retry_after_ms).toBeLessThanOrEqual(1000 / configOf(env).roomLimits.postsPerSecond);
    }
    await r.socket.barrier();
    expect(r.socket.broadcasts("new_post")).toHaveLength(10);
    expect(await stored("flood")).toBe(10);

    // Another member is not slowed down by the flooder.
    expect((await r.socket.push("room:flood", "new_post", { message: "my turn" })).status).toBe("ok");
    // Waiting as told is enough.
    await new Promise((resolve) => setTimeout(resolve, Number(limited[0]?.response.retry_after_ms) + 20));
    expect((await f.socket.push("room:flood", "new_post", { message: "patient now" })).status).toBe("ok");
  });

  it("shares one bucket between a user's sockets in the room, and keeps it across an eviction", async () => {
    const user = await makeUser("two_tab_flooder");
    const tab1 = await connectAndJoin(user, "flood_tabs");
    const tab2 = await connectAndJoin(user, "flood_tabs");
    open.push(tab1.socket, tab2.socket);
    const first = await burstOf(tab1.socket, "flood_tabs", 10);
    expect(first.every((reply) => reply.status === "ok")).toBe(true);

    await evictDurableObject(roomStub("flood_tabs"));
    const other = await tab2.socket.push("room:flood_tabs", "new_post", { message: "from the other tab" });
    expect(other.response).toMatchObject({ reason: "rate_limited" });
    expect(await stored("flood_tabs")).toBe(10);
  });
});

describe("join rate limit", () => {
  const { joinsBurst, joinsPerMinute } = configOf(env).roomLimits;
  /** The longest a refused joiner is told to wait: one token's refill. */
  const maxWaitMs = Math.ceil(60_000 / joinsPerMinute);

  /** Sends `count` joins of `room` at once (each ends the one before, as in Phoenix); resolves with each reply. */
  async function floodJoins(socket: TestSocket, room: string, count: number, params: Record<string, unknown> = {}) {
    const refs = Array.from({ length: count }, () => socket.nextRef());
    for (const ref of refs) socket.send([ref, ref, `room:${room}`, "phx_join", params]);
    const replies: Frame[] = [];
    for (const ref of refs) replies.push(await socket.waitFor((f) => f[1] === ref && f[3] === "phx_reply", 20_000));
    return replies.map((frame) => frame[4] as { status: string; response: Record<string, unknown> });
  }

  function expectRefusals(replies: Array<{ status: string; response: Record<string, unknown> }>) {
    for (const reply of replies) {
      expect(reply.status).toBe("error");
      expect(reply.response).toEqual({ reason: "rate_limited", retry_after_ms: expect.any(Number) });
      expect(reply.response.retry_after_ms).toBeGreaterThan(0);
      expect(reply.response.retry_after_ms).toBeLessThanOrEqual(maxWaitMs);
    }
  }

  it("takes JOINS_BURST joins, then answers rate_limited with retry_after_ms; the others are not held up", async () => {
    const [flooder, other] = [await makeUser("join_flooder"), await makeUser("join_bystander")];
    // A room of long posts: each accepted join with last_seen_id 0 is a reply of about 100 KB.
    await seedPosts(
      flooder,
      "join_flood",
      Array.from({ length: 50 }, (_, n) => `${n} ${"x".repeat(1_990)}`),
    );
    const bystander = await connectAndJoin(other, "join_flood");
    const socket = await connect(flooder, "join_flood");
    open.push(bystander.socket, socket);

    const flood = floodJoins(socket, "join_flood", joinsBurst + 20, { last_seen_id: 0 });
    // Meanwhile another member's heartbeat and post are answered.
    expect((await bystander.socket.push("phoenix", "heartbeat")).status).toBe("ok");
    expect((await bystander.socket.push("room:join_flood", "new_post", { message: "still here" })).status).toBe("ok");
    const replies = await flood;

    const accepted = replies.filter((reply) => reply.status === "ok");
    // The burst, and at most a token or two refilled while the flood was handled.
    expect(accepted.length).toBeGreaterThanOrEqual(joinsBurst);
    expect(accepted.length).toBeLessThanOrEqual(joinsBurst + 2);
    expect(replies.slice(0, joinsBurst).every((reply) => reply.status === "ok")).toBe(true);
    expectRefusals(replies.filter((reply) => reply.status !== "ok"));
    // Every accepted join got the room's history (50 seeded posts, and the bystander's once it landed).
    for (const reply of accepted) expect((reply.response.posts as unknown[]).length).toBeGreaterThanOrEqual(50);

    // A refused join ends the one before it, as any rejoin does: the flooder is not joined now.
    const last = replies.at(-1);
    expect(last?.status).toBe("error");
    expect((await socket.push("room:join_flood", "new_post", { message: "x" })).response).toEqual({
      reason: "unmatched topic",
    });
    // Refused joins are no presence churn for the others: at most one diff per accepted join, fewer coalesced.
    await bystander.socket.barrier();
    expect(bystander.socket.received("presence_diff").length).toBeLessThanOrEqual(accepted.length + 1);
  });

  it("is one allowance per user per room, on every way in: room-bound, multiplexed and LongPoll", async () => {
    const user = await makeUser("join_ways");
    const roomBound = await connect(user, "join_ways");
    open.push(roomBound);
    const spent = await floodJoins(roomBound, "join_ways", joinsBurst);
    expect(spent.every((reply) => reply.status === "ok")).toBe(true);

    const multiplexed = await connectMultiplexed(user);
    open.push(multiplexed);
    expectRefusals([await multiplexed.join("join_ways")]);

    const longPoll = new LongPollClient({ token: await tokenFor(user) });
    expect((await longPoll.poll()).status).toBe(410);
    expectRefusals([await longPoll.join("join_ways")]);

    // Another room is another allowance.
    expect((await multiplexed.join("join_ways_elsewhere")).status).toBe("ok");
  });

  it("keeps the join bucket across an eviction", async () => {
    const user = await makeUser("join_evicted");
    const socket = await connect(user, "join_evict");
    open.push(socket);
    expect((await floodJoins(socket, "join_evict", joinsBurst)).every((reply) => reply.status === "ok")).toBe(true);
    await evictDurableObject(roomStub("join_evict"));
    expectRefusals([await socket.join("join_evict")]);
  });
});

describe("takeToken and RateLimits (the unit)", () => {
  const policy: RatePolicy = { perSecond: 5, burst: 10 };
  const DEFAULTS_POLICY: RatePolicy = { perSecond: DEFAULTS.POSTS_PER_SECOND, burst: DEFAULTS.POSTS_BURST };
  const T0 = 1_800_000_000_000;

  /** Takes `count` tokens at `now`, each from the bucket the one before left. */
  function takeMany(p: RatePolicy, bucket: BucketState | undefined, now: number, count: number): Take[] {
    const takes: Take[] = [];
    for (let n = 0; n < count; n++) {
      const take = takeToken(p, bucket, now);
      takes.push(take);
      bucket = take.bucket;
    }
    return takes;
  }

  it("allows a burst of `burst` at once to a user it has never seen, then refuses", () => {
    for (const p of [policy, { perSecond: 1, burst: 1 }, { perSecond: 0.5, burst: 3 }]) {
      const takes = takeMany(p, undefined, T0, p.burst + 3);
      expect(takes.map((t) => t.ok)).toEqual([...Array(p.burst).fill(true), false, false, false]);
      expect(takes.map((t) => t.bucket.tokens)).toEqual([
        ...Array.from({ length: p.burst }, (_, n) => p.burst - 1 - n),
        0,
        0,
        0,
      ]);
      for (const take of takes) expect(take.bucket.at).toBe(T0);
    }
  });

  it("refills at perSecond, never above burst, and not for time that runs backwards", () => {
    const empty: BucketState = { tokens: 0, at: T0 };
    const perToken = 1000 / policy.perSecond;
    expect(takeToken(policy, empty, T0 + perToken - 1).ok).toBe(false);
    expect(takeToken(policy, empty, T0 + perToken)).toEqual({ ok: true, bucket: { tokens: 0, at: T0 + perToken } });
    // After n token-times, exactly n posts (while n <= burst).
    for (const n of [2, 5, policy.burst]) {
      const takes = takeMany(policy, empty, T0 + n * perToken, n + 1);
      expect(takes.filter((t) => t.ok)).toHaveLength(n);
      expect(takes.at(-1)?.ok).toBe(false);
    }
    // A long silence refills to burst, not beyond.
    expect(takeMany(policy, empty, T0 + 3_600_000, policy.burst + 1).filter((t) => t.ok)).toHaveLength(policy.burst);
    // A clock that steps back refills nothing and takes nothing away.
    const back = takeToken(policy, { tokens: 0.5, at: T0 }, T0 - 10_000);
    expect(back.ok).toBe(false);
    expect(back.bucket.tokens).toBe(0.5);
    expect(back.ok ? undefined : back.retryAfterMs).toBe(0.5 * perToken);
  });

  it("answers retryAfterMs that is exact: waiting that long is enough, 1 ms less is not", () => {
    // An emptied bucket at the default 5 a second: after e ms it holds e * 5 thousandths of a token and needs
    // (1000 - 5e) more thousandths, which arrive at 5 a millisecond. Whole numbers, so no rounding involved.
    const { perSecond } = DEFAULTS_POLICY;
    const wrong: string[] = [];
    for (let elapsed = 0; elapsed * perSecond < 1000; elapsed++) {
      const take = takeToken(DEFAULTS_POLICY, { tokens: 0, at: T0 }, T0 + elapsed);
      const exact = Math.ceil((1000 - elapsed * perSecond) / perSecond);
      if (take.ok || take.retryAfterMs !== exact) {
        wrong.push(`after ${elapsed} ms: ${take.ok ? "ok" : take.retryAfterMs} instead of ${exact}`);
        continue;
      }
      expect(takeToken(DEFAULTS_POLICY, take.bucket, T0 + elapsed + exact - 1).ok).toBe(false);
      expect(takeToken(DEFAULTS_POLICY, take.bucket, T0 + elapsed + exact).ok).toBe(true);
    }
    expect(wrong).toEqual([]);
  });

  it("never refuses a post that waited retryAfterMs as told, at any rate", () => {
    // Clients posting at random, each refused one retrying exactly when told; whole-millisecond clocks.
    let seed = FUZZ_SEED;
    const random = (below: number) => {
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) % below;
    };
    const refusedAgain: string[] = [];
    for (const perSecond of [0.1, 0.2, 0.25, 0.5, 1, 2, 3, 5, 7, 10, 30]) {
      const p = { perSecond, burst: 1 + random(10) };
      let bucket: BucketState | undefined;
      let now = T0;
      for (let step = 0; step < 4_000; step++) {
        now += random(4) === 0 ? random(3_000) : random(30);
        const take = takeToken(p, bucket, now);
        bucket = take.bucket;
        if (take.ok) continue;
        now += take.retryAfterMs;
        const retry = takeToken(p, bucket, now);
        bucket = retry.bucket;
        if (!retry.ok)
          refusedAgain.push(`${perSecond}/s: told ${take.retryAfterMs} ms, then ${retry.retryAfterMs} ms more`);
      }
    }
    expect(refusedAgain).toEqual([]);
  });

  it("keeps a bucket per user: one user's burst does not slow another", () => {
    const limits = new RateLimits(policy);
    const flooder = Array.from({ length: policy.burst + 1 }, () => limits.take(1, T0));
    expect(flooder.filter((t) => t.ok)).toHaveLength(policy.burst);
    expect(limits.take(2, T0).ok).toBe(true);
    expect(limits.take(1, T0).ok).toBe(false);
    const refused = limits.take(1, T0 + 10);
    expect(refused.ok).toBe(false);
    expect(refused).toEqual(takeToken(policy, flooder.at(-1)?.bucket, T0 + 10));
  });

  it("restores the newest bucket per user, whatever order the attachments come in, and ignores none", () => {
    const spent: BucketState = { tokens: 0, at: T0 };
    const older: BucketState = { tokens: policy.burst, at: T0 - 50 };
    for (const order of [
      [older, spent, null],
      [null, spent, older],
    ]) {
      const limits = new RateLimits(policy);
      limits.restore(order.map((bucket) => ({ userId: 1, bucket })));
      expect(limits.take(1, T0 + 10)).toEqual(takeToken(policy, spent, T0 + 10));
    }
    // A restore does not replace a newer bucket already held, and null (never posted) changes nothing.
    const limits = new RateLimits(policy);
    for (let n = 0; n < policy.burst; n++) limits.take(7, T0);
    limits.restore([
      { userId: 7, bucket: older },
      { userId: 7, bucket: null },
      { userId: 8, bucket: null },
    ]);
    expect(limits.take(7, T0).ok).toBe(false);
    expect(limits.take(8, T0)).toEqual(takeToken(policy, undefined, T0));
  });

  it("answers exactly as a bucket map that never forgets, across thousands of posts and its sweeps", () => {
    fc.assert(
      fc.property(
        fc.constantFrom({ perSecond: 5, burst: 10 }, { perSecond: 1, burst: 2 }, { perSecond: 20, burst: 3 }),
        fc.array(fc.tuple(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 0, max: 400 })), {
          minLength: 2_500,
          maxLength: 2_500,
        }),
        (p, posts) => {
          const limits = new RateLimits(p);
          const remembered = new Map<number, BucketState>();
          let now = T0;
          for (const [userId, gap] of posts) {
            now += gap;
            const expected = takeToken(p, remembered.get(userId), now);
            remembered.set(userId, expected.bucket);
            expect(limits.take(userId, now)).toEqual(expected);
          }
        },
      ),
      { seed: FUZZ_SEED, numRuns: runsOr(5) },
    );
  });

  it("keeps only half-spent buckets, and a bucket restored from them is never stricter, at most half a burst laxer", () => {
    const refilled = (p: RatePolicy, bucket: BucketState | undefined, now: number) =>
      bucket ? Math.min(p.burst, bucket.tokens + ((now - bucket.at) * p.perSecond) / 1000) : p.burst;
    fc.assert(
      fc.property(
        fc.record({ perSecond: fc.double({ min: 0.1, max: 50, noNaN: true }), burst: fc.integer({ min: 1, max: 40 }) }),
        fc.array(fc.integer({ min: 0, max: 3_000 }), { minLength: 1, maxLength: 200 }),
        fc.integer({ min: 0, max: 60_000 }),
        (p, gaps, after) => {
          const limits = new RateLimits(p);
          let now = T0;
          let kept: BucketState | undefined; // what the attachments hold: the last bucket worth keeping
          let current: BucketState | undefined;
          for (const gap of gaps) {
            now += gap;
            current = limits.take(1, now).bucket;
            if (limits.worthKeeping(current)) kept = current;
          }
          const at = now + after;
          const truth = refilled(p, current, at);
          const restored = refilled(p, kept, at);
          expect(restored).toBeGreaterThanOrEqual(truth - 1e-9);
          expect(restored).toBeLessThanOrEqual(truth + p.burst / 2 + 1e-9);
        },
      ),
      { seed: FUZZ_SEED, numRuns: runsOr(200) },
    );
  });

  it("forgets a bucket in its sweep once it has refilled, and keeps one that has not", () => {
    // Only visible with a clock that steps back: a remembered bucket then refills nothing, a fresh one is full.
    const p = { perSecond: 1, burst: 2 };
    const refillMs = (p.burst * 1000) / p.perSecond;
    const limits = new RateLimits(p);
    limits.take(1, T0); // user 1 posts once, then stops
    const sweepAt = T0 + refillMs;
    limits.take(2, sweepAt - 1); // user 2 posts just before the sweep: not refilled when it runs
    // Enough posts by user 3 for a sweep (it runs every 1,000 takes) to happen at `sweepAt`.
    for (let n = 0; n < 1_000; n++) limits.take(3, sweepAt);
    expect(limits.take(1, T0).bucket.tokens).toBe(p.burst - 1); // forgotten: a fresh bucket
    expect(limits.take(2, sweepAt - 1).bucket.tokens).toBe(p.burst - 2); // kept: its second post
  });
});
