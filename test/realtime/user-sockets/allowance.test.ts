/**
 * Each user's post allowance across all rooms and ways in (user-sockets/allowance.ts, held by UserSockets;
 * rooms lease slices of it, room/allowance-slices.ts): the lease arithmetic, then a flood over a
 * multiplexed socket, room-bound sockets and LongPoll against the real worker, rooms and UserSockets.
 * The pool runs with USER_POSTS_PER_SECOND at 0.05 (vitest.config.ts): a post per 20 s, far longer than
 * these tests post for, so "exactly the burst" is exact on a slow machine too.
 */
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { posts } from "../../../src/db/schema";
import type { User } from "../../../src/db/users";
import { leaseSize, MAX_LEASE, PostAllowances } from "../../../src/realtime/user-sockets/allowance";
import { LongPollClient } from "../../helpers/longpoll";
import { closeAll, connectAndJoin, connectMultiplexed, type TestSocket } from "../../helpers/socket";
import { db, makeUser, tokenFor } from "../../helpers/users";

const T0 = 1_800_000_000_000;

describe("PostAllowances.lease (the arithmetic)", () => {
  it("lends a tenth of the burst at a time, at least 1 and at most MAX_LEASE", () => {
    expect(leaseSize({ perSecond: 10, burst: 30 })).toBe(3);
    expect(leaseSize({ perSecond: 10, burst: 9 })).toBe(1);
    expect(leaseSize({ perSecond: 10, burst: 1 })).toBe(1);
    expect(leaseSize({ perSecond: 10, burst: 55 })).toBe(5);
    expect(leaseSize({ perSecond: 1e6, burst: 1e6 })).toBe(MAX_LEASE);
  });

  it("lends whole leases while the bucket holds them, then what is left, then refuses with the exact wait", () => {
    const policy = { perSecond: 10, burst: 32 };
    const allowances = new PostAllowances(policy);
    const leases = Array.from({ length: 13 }, () => allowances.lease(1, T0));
    // 32 posts in leases of 3: ten whole ones, then the 2 left, then nothing for 1/perSecond.
    expect(leases.slice(0, 10)).toEqual(Array(10).fill({ ok: true, granted: 3 }));
    expect(leases[10]).toEqual({ ok: true, granted: 2 });
    expect(leases[11]).toEqual({ ok: false, retryAfterMs: 100 });
    // Lent is spent: the sum of what was lent is the burst, to the post.
    expect(leases.reduce((sum, lease) => sum + (lease.ok ? lease.granted : 0), 0)).toBe(policy.burst);
    // 40 ms later it holds 0.4 of a post: 60 ms to go; at 100 ms one whole post, lent alone.
    expect(allowances.lease(1, T0 + 40)).toEqual({ ok: false, retryAfterMs: 60 });
    expect(allowances.lease(1, T0 + 100)).toEqual({ ok: true, granted: 1 });
    // Refilled by 250 ms: two and a half posts, so 2.
    expect(allowances.lease(1, T0 + 350)).toEqual({ ok: true, granted: 2 });
    // Another user's allowance is their own.
    expect(allowances.lease(2, T0)).toEqual({ ok: true, granted: 3 });
  });

  it("never lends more than the burst plus the refill, however the leases are spread over time", () => {
    const policy = { perSecond: 7, burst: 20 };
    const allowances = new PostAllowances(policy);
    let lent = 0;
    let now = T0;
    for (let step = 0; step < 2_000; step++) {
      now += (step * 7919) % 23; // irregular gaps, 0 to 22 ms
      const lease = allowances.lease(9, now);
      if (lease.ok) lent += lease.granted;
      expect(lent).toBeLessThanOrEqual(policy.burst + ((now - T0) * policy.perSecond) / 1000);
    }
    // ...and lends all of it to a caller that keeps asking.
    expect(lent).toBeGreaterThanOrEqual(policy.burst + Math.floor(((now - T0) * policy.perSecond) / 1000) - 1);
  });
});

describe("a user's posts across rooms and ways in", () => {
  const open: TestSocket[] = [];
  afterEach(() => closeAll(open));

  const burst = Number(env.USER_POSTS_BURST);
  const perSecond = Number(env.USER_POSTS_PER_SECOND);

  async function multiplexed(user: User): Promise<TestSocket> {
    const socket = await connectMultiplexed(user);
    open.push(socket);
    return socket;
  }

  async function storedBy(user: User): Promise<number> {
    return (await db.select().from(posts).where(eq(posts.userId, user.id))).length;
  }

  it("posting past your allowance across rooms: exactly USER_POSTS_BURST accepted, then rate_limited in every room and over LongPoll; another user unaffected", async () => {
    expect(burst).toBe(30);
    const flooder = await makeUser("all_rooms_flooder");
    const other = await makeUser("all_rooms_other");
    const muxRooms = ["xr_a", "xr_b", "xr_c", "xr_d"];
    const boundRooms = ["xr_e", "xr_f"];

    // The flooder: one multiplexed socket in four rooms, and a room-bound socket in each of two more.
    const mux = await multiplexed(flooder);
    const posters: Array<{ socket: TestSocket; room: string; joinRef: string | null }> = [];
    for (const room of muxRooms) {
      const joined = await mux.join(room);
      expect(joined.status).toBe("ok");
      posters.push({ socket: mux, room, joinRef: joined.joinRef });
    }
    for (const room of boundRooms) {
      const bound = await connectAndJoin(flooder, room);
      open.push(bound.socket);
      posters.push({ socket: bound.socket, room, joinRef: null });
    }
    // The other user, in every one of those rooms on one multiplexed socket.
    const watcher = await multiplexed(other);
    const watcherJoins = new Map<string, string>();
    for (const { room } of posters) {
      const joined = await watcher.join(room);
      expect(joined.status).toBe("ok");
      watcherJoins.set(room, joined.joinRef);
    }

    // Round after round, one post in each room, each waiting for its answer: 8 rounds of 6 is 48 posts,
    // 18 more than the allowance, and no room past its own burst of 10.
    const answers: Array<{ room: string; status: string; response: Record<string, unknown> }> = [];
    for (let round = 0; round < 8; round++) {
      for (const { socket, room, joinRef } of posters) {
        const reply = await socket.push(`room:${room}`, "new_post", { message: `${room} ${round}` }, joinRef);
        answers.push({ room, status: reply.status, response: reply.response });
      }
    }
    const accepted = answers.filter((answer) => answer.status === "ok");
    const refused = answers.filter((answer) => answer.status !== "ok");
    expect(accepted).toHaveLength(burst);
    expect(refused).toHaveLength(answers.length - burst);
    for (const { response } of refused) {
      expect(response).toEqual({ reason: "rate_limited", retry_after_ms: expect.any(Number) });
      expect(response.retry_after_ms).toBeGreaterThan(0);
      expect(response.retry_after_ms).toBeLessThanOrEqual(1000 / perSecond);
    }
    // Every room got its share refused: the allowance spans them all, not one room.
    for (const { room } of posters) expect(refused.some((answer) => answer.room === room)).toBe(true);
    expect(await storedBy(flooder)).toBe(burst);

    // The same user over LongPoll, in one of those rooms: refused too.
    const longPoll = new LongPollClient({ token: await tokenFor(flooder) });
    await longPoll.poll();
    const lpJoin = await longPoll.join("xr_a");
    expect(lpJoin.status).toBe("ok");
    const viaLongPoll = await longPoll.push("room:xr_a", "new_post", { message: "by long poll" }, lpJoin.joinRef);
    expect(viaLongPoll.response).toMatchObject({ reason: "rate_limited" });

    // Another user posts in every room at once, and received exactly the flooder's accepted posts.
    for (const room of [...muxRooms, ...boundRooms]) {
      const reply = await watcher.push(`room:${room}`, "new_post", { message: "mine" }, watcherJoins.get(room));
      expect(reply.status, JSON.stringify(reply.response)).toBe("ok");
    }
    await watcher.barrier();
    const seen = watcher.broadcasts("new_post").filter((f) => (f[4] as { message: string }).message !== "mine");
    expect(seen).toHaveLength(burst);
    expect(await storedBy(flooder)).toBe(burst);
  });
});
