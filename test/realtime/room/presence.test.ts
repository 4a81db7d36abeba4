/**
 * Presence over real sockets, in the shapes the official JS `Presence` class syncs: `presence_state` to
 * each joiner, then coalesced `presence_diff` broadcasts; one key per user, one meta per join.
 */
import { evictDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import type { User } from "../../../src/db/users";
import type { PresenceDiff, PresenceState } from "../../../src/shared/room-contract";
import { closeAll, connect, connectAndJoin, roomStub, type TestSocket } from "../../helpers/socket";
import { makeUser } from "../../helpers/users";

const open: TestSocket[] = [];
afterEach(() => closeAll(open));

async function joined(user: User, room: string, params: Record<string, unknown> = {}) {
  const result = await connectAndJoin(user, room, params);
  open.push(result.socket);
  return result;
}

/** Applies presence frames as the JS `Presence` class would (state replaces, diffs remove then add). */
function presenceSeenBy(socket: TestSocket): PresenceState {
  let state: PresenceState = {};
  for (const frame of socket.frames) {
    if (frame[3] === "presence_state") state = structuredClone(frame[4] as PresenceState);
    if (frame[3] !== "presence_diff") continue;
    const { joins, leaves } = frame[4] as unknown as PresenceDiff;
    for (const [key, { metas }] of Object.entries(leaves)) {
      const gone = new Set(metas.map((meta) => meta.phx_ref));
      const left = (state[key]?.metas ?? []).filter((meta) => !gone.has(meta.phx_ref));
      if (left.length > 0) state[key] = { metas: left };
      else delete state[key];
    }
    for (const [key, { metas }] of Object.entries(joins)) {
      state[key] = { metas: [...(state[key]?.metas ?? []), ...metas] };
    }
  }
  return state;
}

function usernamesIn(state: PresenceState): Record<string, number> {
  return Object.fromEntries(
    Object.values(state).map(({ metas }) => [metas[0]?.username ?? "?", metas.length] as const),
  );
}

async function eventually<T>(probe: () => T, check: (value: T) => boolean, timeoutMs = 3_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (check(value)) return value;
    if (Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("presence", () => {
  it("sends presence_state as a push right after the join reply, and the joiner sees itself within 3 s", async () => {
    const alice = await makeUser("pres_alice");
    const { socket, joinRef, joined: reply } = await joined(alice, "pres_self");
    const stateFrame = await socket.waitFor((f) => f[3] === "presence_state");
    expect(stateFrame[0]).toBe(joinRef);
    expect(stateFrame[1]).toBeNull();
    expect(socket.frames.indexOf(stateFrame)).toBeGreaterThan(socket.frames.indexOf(reply.frame));

    const seen = await eventually(
      () => presenceSeenBy(socket),
      (state) => state[String(alice.id)] !== undefined,
    );
    expect(seen[String(alice.id)]).toEqual({
      metas: [
        { username: "pres_alice", online_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), phx_ref: expect.any(String) },
      ],
    });
  });

  it("keys by user id: two tabs are one key with two metas, and closing one leaves one", async () => {
    const bob = await makeUser("pres_bob");
    const watcher = await makeUser("pres_watcher");
    const w = (await joined(watcher, "pres_tabs")).socket;
    const tab1 = (await joined(bob, "pres_tabs")).socket;
    const tab2 = (await joined(bob, "pres_tabs")).socket;

    let seen = await eventually(
      () => presenceSeenBy(w),
      (state) => state[String(bob.id)]?.metas.length === 2,
    );
    expect(usernamesIn(seen)).toEqual({ pres_watcher: 1, pres_bob: 2 });
    const refs = seen[String(bob.id)]?.metas.map((meta) => meta.phx_ref) ?? [];
    expect(new Set(refs).size).toBe(2);

    tab1.close(); // abrupt: no phx_leave
    seen = await eventually(
      () => presenceSeenBy(w),
      (state) => state[String(bob.id)]?.metas.length === 1,
    );
    expect(usernamesIn(seen)).toEqual({ pres_watcher: 1, pres_bob: 1 });
    // The other tab agrees.
    expect(
      usernamesIn(
        await eventually(
          () => presenceSeenBy(tab2),
          (s) => s[String(bob.id)]?.metas.length === 1,
        ),
      ),
    ).toEqual({
      pres_watcher: 1,
      pres_bob: 1,
    });
  });

  it("removes a member who leaves the channel, and a joiner gets the present members in its state", async () => {
    const [carol, dan, eve] = [await makeUser("pres_carol"), await makeUser("pres_dan"), await makeUser("pres_eve")];
    const c = (await joined(carol, "pres_leave")).socket;
    const { socket: d, joinRef } = await joined(dan, "pres_leave");
    await eventually(
      () => presenceSeenBy(c),
      (s) => s[String(dan.id)] !== undefined,
    );
    expect((await d.push("room:pres_leave", "phx_leave", {}, joinRef)).status).toBe("ok");
    const seen = await eventually(
      () => presenceSeenBy(c),
      (s) => s[String(dan.id)] === undefined,
    );
    expect(usernamesIn(seen)).toEqual({ pres_carol: 1 });

    const e = (await joined(eve, "pres_leave")).socket;
    const eveSees = await eventually(
      () => presenceSeenBy(e),
      (s) => Object.keys(s).length === 2,
    );
    expect(usernamesIn(eveSees)).toEqual({ pres_carol: 1, pres_eve: 1 });
  });

  it("coalesces a burst of joins into a few diffs instead of one per join", async () => {
    const watcher = await makeUser("pres_burst_watch");
    const w = (await joined(watcher, "pres_burst")).socket;
    const users = await Promise.all(Array.from({ length: 20 }, (_, n) => makeUser(`pres_burst_${n}`)));
    const sockets = await Promise.all(users.map((user) => connect(user, "pres_burst")));
    open.push(...sockets);
    await Promise.all(sockets.map((socket) => socket.join("pres_burst")));
    const seen = await eventually(
      () => presenceSeenBy(w),
      (s) => Object.keys(s).length === 21,
    );
    expect(Object.keys(seen)).toHaveLength(21);
    const diffs = w.frames.filter((f) => f[3] === "presence_diff");
    expect(diffs.length).toBeLessThan(10);
    expect(diffs.every((f) => f[0] === null && f[1] === null)).toBe(true); // broadcasts, encoded once
  });

  it("keeps presence right across an eviction, and diffs continue from it", async () => {
    const [fay, gus, hal] = [await makeUser("pres_fay"), await makeUser("pres_gus"), await makeUser("pres_hal")];
    const f = (await joined(fay, "pres_evict")).socket;
    const g = (await joined(gus, "pres_evict")).socket;
    await eventually(
      () => presenceSeenBy(f),
      (s) => Object.keys(s).length === 2,
    );

    await evictDurableObject(roomStub("pres_evict"));

    // A newcomer after the eviction is told of both, rebuilt from the sockets' attachments.
    const h = (await joined(hal, "pres_evict")).socket;
    const halSees = await eventually(
      () => presenceSeenBy(h),
      (s) => Object.keys(s).length === 3,
    );
    expect(usernamesIn(halSees)).toEqual({ pres_fay: 1, pres_gus: 1, pres_hal: 1 });
    // And a leave after the eviction removes exactly the right meta for everyone.
    g.close();
    for (const socket of [f, h]) {
      const seen = await eventually(
        () => presenceSeenBy(socket),
        (s) => Object.keys(s).length === 2,
      );
      expect(usernamesIn(seen)).toEqual({ pres_fay: 1, pres_hal: 1 });
    }
  });

  it("sends nothing to anyone while nobody joins or leaves", async () => {
    const [ida, jon] = [await makeUser("pres_ida"), await makeUser("pres_jon")];
    const i = (await joined(ida, "pres_quiet")).socket;
    await joined(jon, "pres_quiet");
    await eventually(
      () => presenceSeenBy(i),
      (s) => Object.keys(s).length === 2,
    );
    const before = i.frames.length;
    await new Promise((resolve) => setTimeout(resolve, 300));
    await i.barrier();
    expect(i.frames.slice(before).map((f) => f[3])).toEqual(["phx_reply"]); // just the barrier's reply
  });
});
