/**
 * A socket session's check on its user's posts before it relays them (session/post-gate.ts): the unit,
 * then through a real multiplexed socket, where a post past the allowance never reaches a room.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { User } from "../../../src/db/users";
import { takeToken } from "../../../src/realtime/room/rate-limit";
import { PostGate } from "../../../src/realtime/session/post-gate";
import { closeAll, connectAndJoin, connectMultiplexed, type TestSocket } from "../../helpers/socket";
import { makeUser } from "../../helpers/users";

const T0 = 1_800_000_000_000;

describe("PostGate (the unit)", () => {
  const policy = { perSecond: 10, burst: 4 };

  it("relays the burst, then refuses with the bucket's exact wait", () => {
    const gate = new PostGate(policy);
    const admits = Array.from({ length: 6 }, (_, n) => gate.admit("room:a", String(n), T0));
    expect(admits.map((a) => a.ok)).toEqual([true, true, true, true, false, false]);
    expect(admits[4]).toEqual({ ok: false, retryAfterMs: 100 });
    expect(gate.admit("room:b", "7", T0 + 60)).toEqual({ ok: false, retryAfterMs: 40 });
    expect(gate.admit("room:b", "8", T0 + 100)).toEqual({ ok: true });
  });

  it("takes a token back for a post the room refused for anything but a limit, and only for that", () => {
    const gate = new PostGate(policy);
    for (let n = 0; n < 4; n++) expect(gate.admit("room:a", String(n), T0).ok).toBe(true);
    gate.answered("room:a", "0", null); // stored: spent
    gate.answered("room:a", "1", "rate_limited"); // refused by a limit: an attempt, spent too
    gate.answered("room:a", "9", "invalid"); // never relayed: nothing to give back
    gate.answered("room:b", "2", "invalid"); // another topic's ref: nothing
    expect(gate.admit("room:a", "10", T0).ok).toBe(false);
    gate.answered("room:a", "2", "invalid"); // bad input: given back
    gate.answered("room:a", "2", "invalid"); // answered twice: given back once
    expect(gate.admit("room:a", "11", T0).ok).toBe(true);
    expect(gate.admit("room:a", "12", T0).ok).toBe(false);
    gate.answered("room:a", "3", "unavailable"); // the room could not store it: given back
    expect(gate.admit("room:a", "13", T0).ok).toBe(true);
  });

  it("never gives back past the burst, and forgets a topic's posts when its room connection goes", () => {
    const gate = new PostGate(policy);
    expect(gate.admit("room:a", "1", T0).ok).toBe(true);
    expect(gate.admit("room:a", "2", T0).ok).toBe(true);
    gate.forget("room:a");
    gate.answered("room:a", "1", "invalid"); // forgotten: nothing
    // A long silence refills to the burst; a late give-back then adds nothing.
    expect(gate.admit("room:a", "3", T0 + 60_000).ok).toBe(true);
    gate.answered("room:a", "3", "invalid");
    const admits = Array.from({ length: policy.burst + 1 }, (_, n) => gate.admit("room:a", `x${n}`, T0 + 60_000));
    expect(admits.filter((a) => a.ok)).toHaveLength(policy.burst);
    // The wait it answers is the room's own arithmetic.
    const refused = admits.at(-1);
    expect(refused).toEqual({ ok: false, retryAfterMs: 100 });
    expect(takeToken(policy, { tokens: 0, at: T0 }, T0)).toMatchObject({ ok: false, retryAfterMs: 100 });
  });

  it("relays a push without a ref, counting it, though no answer can give it back", () => {
    const gate = new PostGate({ perSecond: 1, burst: 1 });
    expect(gate.admit("room:a", null, T0).ok).toBe(true);
    expect(gate.admit("room:a", null, T0).ok).toBe(false);
  });
});

describe("a multiplexed socket past its user's allowance", () => {
  const open: TestSocket[] = [];
  afterEach(() => closeAll(open));
  const burst = Number(env.USER_POSTS_BURST);

  async function multiplexed(user: User): Promise<TestSocket> {
    const socket = await connectMultiplexed(user);
    open.push(socket);
    return socket;
  }

  /** Blank posts, which a room answers `invalid` before any limit: `rate_limited` means the session answered. */
  async function blanksAnswered(socket: TestSocket, topic: string, joinRef: string): Promise<unknown[]> {
    const replies = await Promise.all([1, 2, 3].map(() => socket.push(topic, "new_post", { message: " " }, joinRef)));
    return replies.map((reply) => reply.response.reason);
  }

  it("counts posts the rooms refused as rate_limited: a flood the rooms refuse is soon refused by the session", async () => {
    const user = await makeUser("gate_counted");
    // The allowance spent on room-bound sockets, which the session never sees: 9 + 9 + 9 + 3.
    for (const [room, count] of [
      ["gate_rb_a", 9],
      ["gate_rb_b", 9],
      ["gate_rb_c", 9],
      ["gate_rb_d", 3],
    ] as const) {
      const bound = await connectAndJoin(user, room);
      open.push(bound.socket);
      for (let n = 0; n < count; n++) {
        expect((await bound.socket.push(`room:${room}`, "new_post", { message: `${n}` })).status).toBe("ok");
      }
    }
    const socket = await multiplexed(user);
    const joined = await socket.join("gate_rb_e");
    expect(joined.status).toBe("ok");
    // The room refuses each (the allowance is spent); the session relays them, as many as the allowance.
    for (let n = 0; n < burst; n++) {
      const reply = await socket.push("room:gate_rb_e", "new_post", { message: `late ${n}` }, joined.joinRef);
      expect(reply.response).toMatchObject({ reason: "rate_limited" });
    }
    expect(await blanksAnswered(socket, "room:gate_rb_e", joined.joinRef)).toContain("rate_limited");
  });

  it("is refused by the session before the room sees the post; posts refused as bad input do not count", async () => {
    const user = await makeUser("gate_flooder");
    const socket = await multiplexed(user);
    const rooms = ["gate_a", "gate_b", "gate_c", "gate_d"];
    const joins = new Map<string, string>();
    for (const room of rooms) {
      const joined = await socket.join(room);
      expect(joined.status).toBe("ok");
      joins.set(room, joined.joinRef);
    }
    const post = (room: string, message: string) =>
      socket.push(`room:${room}`, "new_post", { message }, joins.get(room));

    // Blank posts, refused by the room (invalid): relayed, then given back.
    for (let n = 0; n < 5; n++) expect((await post("gate_a", " ")).response).toMatchObject({ reason: "invalid" });
    // Then the whole allowance, 9 + 9 + 9 + 3 (whole leases, so no room keeps posts lent and unused).
    const answers = [];
    for (const [room, count] of [
      ["gate_a", 9],
      ["gate_b", 9],
      ["gate_c", 9],
      ["gate_d", 3],
    ] as const) {
      for (let n = 0; n < count; n++) answers.push((await post(room, `${room} ${n}`)).status);
    }
    expect(answers.filter((status) => status === "ok")).toHaveLength(burst);
    // The room answers a blank post `invalid` before it looks at any limit; these get `rate_limited`, so the
    // session answered them without relaying. (Three at once: even were the gate to have refilled one
    // post, at least one would be refused by the session.)
    const past = await Promise.all([post("gate_d", " "), post("gate_d", " "), post("gate_d", " ")]);
    expect(past.map((reply) => reply.response.reason)).toContain("rate_limited");
    for (const reply of past) {
      if (reply.response.reason !== "rate_limited") continue;
      expect(reply.frame.slice(0, 4)).toEqual([joins.get("gate_d"), reply.frame[1], "room:gate_d", "phx_reply"]);
      expect(reply.response).toEqual({ reason: "rate_limited", retry_after_ms: expect.any(Number) });
      expect(reply.response.retry_after_ms).toBeGreaterThan(0);
      expect(reply.response.retry_after_ms).toBeLessThanOrEqual(1000 / Number(env.USER_POSTS_PER_SECOND));
    }
    // The socket goes on: heartbeats, and its rooms' broadcasts.
    await socket.barrier();
  });
});
