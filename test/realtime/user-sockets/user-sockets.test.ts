/**
 * UserSockets: at most SOCKETS_PER_USER (10) concurrent sockets per user across all rooms, and revocation
 * kept until every holder of the user's sockets has closed them (a holder that cannot be reached keeps
 * its slots and is asked again by an alarm; the others are done at once).
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { DEFAULTS } from "../../../src/config";
import {
  roomSlotHolder,
  SlotBatches,
  sessionSlotHolder,
  USERS_PER_OBJECT,
  userSockets,
} from "../../../src/realtime/user-sockets/client";
import { closeAll, connect, TestSocket, upgrade } from "../../helpers/socket";
import { makeUser, tokenFor } from "../../helpers/users";

const open: TestSocket[] = [];
afterEach(() => closeAll(open));

function slotsOf(userId: number) {
  return runInDurableObject(userSockets(env, userId), (_object, state) =>
    state.storage.sql
      .exec<{ holder: string; generation: number }>("SELECT holder, generation FROM slots WHERE user_id = ?", userId)
      .toArray(),
  );
}

describe("UserSockets", () => {
  it("closes what it can reach at once, keeps asking a holder that did not answer, and counts only live slots", async () => {
    const user = await makeUser("half_reachable");
    const socket = await connect(user, "reachable_room");
    open.push(socket);
    // A holder that cannot answer (its id names no object), as a room or session that is down would.
    await runInDurableObject(userSockets(env, user.id), (_object, state) => {
      state.storage.sql.exec(
        "INSERT INTO slots (id, user_id, holder, generation, opened_at) VALUES ('lost', ?, ?, 0, ?)",
        user.id,
        sessionSlotHolder("not-an-id"),
        Date.now(),
      );
    });

    const result = await userSockets(env, user.id).revoke(user.id, 1);
    expect(result).toEqual({ ended: false });
    expect((await socket.closed).code).toBe(4001); // the reachable room closed its socket
    expect(await slotsOf(user.id)).toEqual([{ holder: sessionSlotHolder("not-an-id"), generation: 0 }]);
    const alarm = await runInDurableObject(userSockets(env, user.id), (_object, state) => state.storage.getAlarm());
    expect(alarm).not.toBeNull();

    // The kept slot does not count against the user's new sockets, and the alarm asks again.
    expect((await userSockets(env, user.id).open(user.id, 1, roomSlotHolder("after_logout"))).ok).toBe(true);
    expect(await runDurableObjectAlarm(userSockets(env, user.id))).toBe(true);
    expect((await slotsOf(user.id)).filter((slot) => slot.generation === 0)).toHaveLength(1);
  });

  it("refuses slots for a revoked generation and forgets nothing when every holder answers", async () => {
    const user = await makeUser("fully_revoked");
    const socket = await connect(user, "fully_room");
    open.push(socket);
    expect(await userSockets(env, user.id).revoke(user.id, 1)).toEqual({ ended: true });
    expect(await slotsOf(user.id)).toEqual([]);
    expect(await userSockets(env, user.id).open(user.id, 0, roomSlotHolder("fully_room"))).toEqual({
      ok: false,
      reason: "revoked",
    });
  });
});

describe("slots asked for together (SlotBatches)", () => {
  it("sends the requests that arrive while a call is out in one next call, each decided as alone", async () => {
    const users = await Promise.all(Array.from({ length: 12 }, (_, n) => makeUser(`batched_${n}`)));
    const capped = users[0];
    if (!capped) throw new Error("no users");
    const batches = new SlotBatches(env);
    const calls = vi.spyOn(env.USER_SOCKETS, "get");
    try {
      // One user 12 times (two over the cap of 10), the others once each, all at once.
      const requests = [...Array.from({ length: 12 }, () => capped), ...users.slice(1)].map((user) =>
        batches.open({ userId: user.id, generation: 0, holder: roomSlotHolder("batched") }),
      );
      const results = await Promise.all(requests);
      // For each object's block of users: the first request went alone, the rest together in one call.
      const blocks = new Set(users.map((user) => Math.floor(user.id / USERS_PER_OBJECT)));
      expect(calls).toHaveBeenCalledTimes(2 * blocks.size);
      expect(results.filter((result) => result.ok)).toHaveLength(10 + 11);
      expect(results.slice(10, 12)).toEqual([
        { ok: false, reason: "limit", limit: DEFAULTS.SOCKETS_PER_USER },
        { ok: false, reason: "limit", limit: DEFAULTS.SOCKETS_PER_USER },
      ]);
      expect(await slotsOf(capped.id)).toHaveLength(10);
    } finally {
      calls.mockRestore();
    }
  });

  it("keeps the cap when a reconciliation frees slots in the middle of a call", async () => {
    const user = await makeUser("batched_stale");
    // Five slots a room no longer holds (it was evicted without saying so), old enough to be asked about.
    await runInDurableObject(userSockets(env, user.id), (_object, state) => {
      for (let n = 0; n < 5; n++) {
        state.storage.sql.exec(
          "INSERT INTO slots (id, user_id, holder, generation, opened_at) VALUES (?, ?, ?, 0, ?)",
          `stale-${n}`,
          user.id,
          roomSlotHolder("batched_gone"),
          Date.now() - 60_000,
        );
      }
    });
    const batches = new SlotBatches(env);
    const results = await Promise.all(
      Array.from({ length: 12 }, () =>
        batches.open({ userId: user.id, generation: 0, holder: roomSlotHolder("batched_here") }),
      ),
    );
    // The stale five were found and freed at the cap; what the call had granted before still counts.
    expect(results.filter((result) => result.ok)).toHaveLength(DEFAULTS.SOCKETS_PER_USER);
    expect(await slotsOf(user.id)).toHaveLength(DEFAULTS.SOCKETS_PER_USER);
  });

  it("keeps the cap for a burst of one user's sockets to one room: the rest are refused with 429", async () => {
    const user = await makeUser("burst_tabs");
    const token = await tokenFor(user);
    const responses = await Promise.all(Array.from({ length: 14 }, () => upgrade({ room: "burst_tabs", token })));
    for (const response of responses) if (response.webSocket) open.push(new TestSocket(response.webSocket));
    expect(responses.filter((response) => response.status === 101)).toHaveLength(10);
    expect(responses.filter((response) => response.status === 429)).toHaveLength(4);
    expect(await slotsOf(user.id)).toHaveLength(10);
  });
});

describe("sockets per user", () => {
  it("refuses the 11th socket, across rooms, with 429 and a message; closing one frees a place at once", async () => {
    const user = await makeUser("many_tabs");
    const sockets: TestSocket[] = [];
    for (let n = 0; n < DEFAULTS.SOCKETS_PER_USER; n++) sockets.push(await connect(user, `tabs_${n % 3}`));
    open.push(...sockets);

    const refused = await upgrade({ room: "tabs_other", token: await tokenFor(user) });
    expect(refused.status).toBe(429);
    expect(await refused.text()).toBe(
      "Too many open sockets: at most 10 per user across all rooms. Close a tab or another app's connection, then try again.",
    );
    // Somebody else is not affected.
    open.push(await connect(await makeUser("few_tabs"), "tabs_other"));

    const [first] = sockets;
    first?.close();
    await first?.closed;
    open.push(await connect(user, "tabs_other"));
  });

  it("counts a socket the room refused or dropped as gone", async () => {
    const user = await makeUser("dropped_tabs");
    const sockets: TestSocket[] = [];
    for (let n = 0; n < DEFAULTS.SOCKETS_PER_USER; n++) sockets.push(await connect(user, "dropping"));
    open.push(...sockets);
    const [bad] = sockets;
    bad?.sendRaw("not json"); // the room closes this one with 1007
    expect((await bad?.closed)?.code).toBe(1007);
    await expect
      .poll(async () => (await upgrade({ room: "dropping", token: await tokenFor(user) })).status, { timeout: 3_000 })
      .toBe(101);
  });
});
