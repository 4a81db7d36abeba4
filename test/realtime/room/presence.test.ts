/**
 * Presence over real sockets, in the shapes the official JS `Presence` class syncs: `presence_state` to
 * each joiner, then coalesced `presence_diff` broadcasts; one key per user, one meta per join.
 */
import { evictDurableObject } from "cloudflare:test";
import { Presence as PhoenixPresence } from "phoenix";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { User } from "../../../src/db/users";
import { Presence } from "../../../src/realtime/room/presence";
import type { PresenceDiff, PresenceMeta, PresenceState } from "../../../src/shared/room-contract";
import { closeAll, connect, connectAndJoin, connectMultiplexed, roomStub, type TestSocket } from "../../helpers/socket";
import { makeUser } from "../../helpers/users";

const open: TestSocket[] = [];
afterEach(() => closeAll(open));

async function joined(user: User, room: string, params: Record<string, unknown> = {}) {
  const result = await connectAndJoin(user, room, params);
  open.push(result.socket);
  return result;
}

/** Applies presence frames with the official JS `Presence` class's own `syncState` and `syncDiff`. */
function presenceSeenBy(socket: TestSocket): PresenceState {
  let state: PresenceState = {};
  for (const frame of socket.frames) {
    if (frame[3] === "presence_state")
      state = PhoenixPresence.syncState({}, structuredClone(frame[4])) as PresenceState;
    if (frame[3] === "presence_diff")
      state = PhoenixPresence.syncDiff(state, structuredClone(frame[4] as unknown as PresenceDiff)) as PresenceState;
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
  it("sends presence_state as a push right after the join reply, holding the joiner itself", async () => {
    const alice = await makeUser("pres_alice");
    const { socket, joinRef, joined: reply } = await joined(alice, "pres_self");
    const stateFrame = await socket.waitFor((f) => f[3] === "presence_state");
    expect(stateFrame[0]).toBe(joinRef);
    expect(stateFrame[1]).toBeNull();
    expect(socket.frames.indexOf(stateFrame)).toBeGreaterThan(socket.frames.indexOf(reply.frame));

    const seen = stateFrame[4] as PresenceState;
    expect(seen[String(alice.id)]).toEqual({
      metas: [
        { username: "pres_alice", online_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), phx_ref: expect.any(String) },
      ],
    });
  });

  it("puts the joiner itself and every join accepted before it in the first presence_state, on either socket", async () => {
    const users = await Promise.all(Array.from({ length: 5 }, (_, n) => makeUser(`pres_first_${n}`)));
    const states: PresenceState[] = [];
    for (const [n, user] of users.entries()) {
      // One after another, faster than the 50 ms window: the joins before are mostly not published yet.
      // Alternately room-bound and multiplexed (a session relaying to the room).
      const socket = n % 2 === 0 ? await connect(user, "pres_first") : await connectMultiplexed(user);
      open.push(socket);
      const reply = await socket.join("pres_first");
      expect(reply.status).toBe("ok");
      const stateFrame = await socket.waitFor((f) => f[3] === "presence_state");
      states.push(stateFrame[4] as PresenceState);
    }
    for (const [n, state] of states.entries()) {
      expect(Object.keys(state).sort()).toEqual(
        users
          .slice(0, n + 1)
          .map((user) => String(user.id))
          .sort(),
      );
    }
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
    // Fay hears of Hal in the next diff (Hal's own state already had everyone).
    await eventually(
      () => presenceSeenBy(f),
      (s) => Object.keys(s).length === 3,
    );
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

describe("Presence (the unit)", () => {
  const WINDOW_MS = 50;

  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  let refs = 0;
  function meta(username: string): PresenceMeta {
    refs += 1;
    return { username, online_at: new Date(Date.UTC(2026, 0, 1, 0, 0, refs)).toISOString(), phx_ref: `ref${refs}` };
  }

  /** A Presence and the diffs it broadcast, in order. */
  function presence() {
    const diffs: PresenceDiff[] = [];
    const unit = new Presence((diff) => diffs.push(structuredClone(diff)), WINDOW_MS);
    return { unit, diffs };
  }

  /** What the official JS `Presence` class makes of a state and the diffs after it (`syncDiff`). */
  function syncDiffs(start: PresenceState, diffs: PresenceDiff[]): PresenceState {
    let state = structuredClone(start);
    for (const diff of diffs) state = PhoenixPresence.syncDiff(state, structuredClone(diff)) as PresenceState;
    return state;
  }

  /** A state as JSON with its keys and each key's metas sorted, for comparing states whose order may differ. */
  function sorted(state: PresenceState): string {
    const byRef = (a: PresenceMeta, b: PresenceMeta) => (a.phx_ref < b.phx_ref ? -1 : 1);
    return JSON.stringify(
      Object.keys(state)
        .sort()
        .map((key) => [key, [...(state[key]?.metas ?? [])].sort(byRef)]),
    );
  }

  const stateOf = (unit: Presence) => JSON.parse(unit.stateJson()) as PresenceState;

  it("arms nothing while nobody joins or leaves", () => {
    const { unit, diffs } = presence();
    expect(vi.getTimerCount()).toBe(0);
    unit.flush();
    vi.advanceTimersByTime(10 * WINDOW_MS);
    expect(diffs).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
    expect(stateOf(unit)).toEqual({});
  });

  it("collects tracks and untracks for one window from the first change, then sends them as one diff", () => {
    const { unit, diffs } = presence();
    const [ann, bob] = [meta("ann"), meta("bob")];
    unit.track("1", ann);
    vi.advanceTimersByTime(WINDOW_MS - 10);
    unit.track("2", bob); // later changes join the window already running; they do not extend it
    vi.advanceTimersByTime(9);
    expect(diffs).toEqual([]);
    // Not published yet, but a joiner's state already holds them.
    expect(stateOf(unit)).toEqual({ "1": { metas: [ann] }, "2": { metas: [bob] } });
    vi.advanceTimersByTime(1);
    expect(diffs).toEqual([{ joins: { "1": { metas: [ann] }, "2": { metas: [bob] } }, leaves: {} }]);
    expect(vi.getTimerCount()).toBe(0);

    const cid = meta("cid");
    unit.untrack("1", ann);
    unit.track("3", cid);
    vi.advanceTimersByTime(WINDOW_MS - 1);
    expect(diffs).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(diffs).toHaveLength(2);
    expect(diffs[1]).toEqual({ joins: { "3": { metas: [cid] } }, leaves: { "1": { metas: [ann] } } });
    expect(stateOf(unit)).toEqual({ "2": { metas: [bob] }, "3": { metas: [cid] } });
  });

  it("never announces a join untracked before it was published", () => {
    const { unit, diffs } = presence();
    const ghost = meta("ghost");
    unit.track("9", ghost);
    unit.untrack("9", ghost);
    vi.advanceTimersByTime(WINDOW_MS);
    expect(diffs).toEqual([]);
    expect(stateOf(unit)).toEqual({});

    // Beside other changes, and for a key that is already present with another meta.
    const [dot, dotTab2, eli] = [meta("dot"), meta("dot"), meta("eli")];
    unit.track("4", dot);
    vi.advanceTimersByTime(WINDOW_MS);
    unit.track("4", dotTab2);
    unit.track("5", eli);
    unit.untrack("4", dotTab2);
    vi.advanceTimersByTime(WINDOW_MS);
    expect(diffs).toEqual([
      { joins: { "4": { metas: [dot] } }, leaves: {} },
      { joins: { "5": { metas: [eli] } }, leaves: {} },
    ]);
    expect(stateOf(unit)).toEqual({ "4": { metas: [dot] }, "5": { metas: [eli] } });
  });

  it("gives a joiner every join accepted before it, pending ones included, and announces those it shows if they leave", () => {
    const { unit, diffs } = presence();
    const [amy, ben, cal] = [meta("amy"), meta("ben"), meta("cal")];
    unit.track("20", amy);
    vi.advanceTimersByTime(WINDOW_MS);
    unit.track("21", ben); // pending: no diff has told anyone yet
    unit.track("22", cal); // the joiner tracks itself first, then is sent the state
    const calSaw = stateOf(unit);
    expect(calSaw).toEqual({ "20": { metas: [amy] }, "21": { metas: [ben] }, "22": { metas: [cal] } });

    // Ben leaves before his join was published; Cal's state had him, so everyone is told he left.
    unit.untrack("21", ben);
    vi.advanceTimersByTime(WINDOW_MS);
    expect(diffs.at(-1)).toEqual({ joins: { "22": { metas: [cal] } }, leaves: { "21": { metas: [ben] } } });
    expect(syncDiffs(calSaw, diffs.slice(1))).toEqual({ "20": { metas: [amy] }, "22": { metas: [cal] } });
    expect(stateOf(unit)).toEqual({ "20": { metas: [amy] }, "22": { metas: [cal] } });
  });

  it("re-encodes only the keys that changed: a joiner's state costs one key's encoding, not everyone's", () => {
    const { unit } = presence();
    for (let n = 0; n < 100; n++) unit.track(String(n), meta(`user${n}`));
    stateOf(unit);
    const stringify = vi.spyOn(JSON, "stringify");
    try {
      unit.track("100", meta("newcomer"));
      const state = unit.stateJson();
      // The newcomer's key and its metas; the other 100 keys are reused as they were encoded.
      expect(stringify).toHaveBeenCalledTimes(2);
      expect(Object.keys(JSON.parse(state) as PresenceState)).toHaveLength(101);
      stringify.mockClear();
      expect(unit.stateJson()).toBe(state);
      expect(stringify).not.toHaveBeenCalled();
    } finally {
      stringify.mockRestore();
    }
  });

  it("keeps two metas under one key (two tabs) and drops the key only when the last one leaves", () => {
    const { unit, diffs } = presence();
    const [tab1, tab2] = [meta("fay"), meta("fay")];
    unit.track("6", tab1);
    unit.track("6", tab2);
    vi.advanceTimersByTime(WINDOW_MS);
    expect(diffs).toEqual([{ joins: { "6": { metas: [tab1, tab2] } }, leaves: {} }]);
    expect(stateOf(unit)).toEqual({ "6": { metas: [tab1, tab2] } });

    unit.untrack("6", tab1);
    vi.advanceTimersByTime(WINDOW_MS);
    expect(diffs[1]).toEqual({ joins: {}, leaves: { "6": { metas: [tab1] } } });
    expect(stateOf(unit)).toEqual({ "6": { metas: [tab2] } });

    unit.untrack("6", tab2);
    vi.advanceTimersByTime(WINDOW_MS);
    expect(diffs[2]).toEqual({ joins: {}, leaves: { "6": { metas: [tab2] } } });
    expect(unit.stateJson()).toBe("{}");
  });

  it("collects for longer in a larger room: a millisecond per person present, from the window up to a second", () => {
    // People present before the newcomer; with the newcomer, one more.
    for (const [people, windowMs] of [
      [10, WINDOW_MS],
      [199, 200],
      [5_000, 1_000],
    ] as const) {
      const { unit, diffs } = presence();
      unit.rebuild(Array.from({ length: people }, (_, n) => [String(n), meta(`user${n}`)] as [string, PresenceMeta]));
      const newcomer = meta("newcomer");
      unit.track("newcomer", newcomer);
      vi.advanceTimersByTime(windowMs - 1);
      expect(diffs).toEqual([]);
      vi.advanceTimersByTime(1);
      expect(diffs).toEqual([{ joins: { newcomer: { metas: [newcomer] } }, leaves: {} }]);
    }
  });

  it("flush() publishes what is pending at once, and the window's timer then sends nothing more", () => {
    const { unit, diffs } = presence();
    const gus = meta("gus");
    unit.track("7", gus);
    unit.flush();
    expect(diffs).toEqual([{ joins: { "7": { metas: [gus] } }, leaves: {} }]);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(10 * WINDOW_MS);
    expect(diffs).toHaveLength(1);
  });

  it("rebuild sets the published state from attachments, replacing the old one, and sends nothing", () => {
    const { unit, diffs } = presence();
    const stale = meta("stale");
    unit.track("99", stale);
    unit.flush();
    const [hal, halTab2, ida] = [meta("hal"), meta("hal"), meta("ida")];
    unit.rebuild([
      ["8", hal],
      ["10", ida],
      ["8", halTab2],
    ]);
    expect(diffs).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
    expect(stateOf(unit)).toEqual({ "8": { metas: [hal, halTab2] }, "10": { metas: [ida] } });

    // Diffs continue from the rebuilt state.
    const jon = meta("jon");
    unit.untrack("8", hal);
    unit.track("11", jon);
    vi.advanceTimersByTime(WINDOW_MS);
    expect(diffs[1]).toEqual({ joins: { "11": { metas: [jon] } }, leaves: { "8": { metas: [hal] } } });
    expect(stateOf(unit)).toEqual({ "8": { metas: [halTab2] }, "10": { metas: [ida] }, "11": { metas: [jon] } });
  });

  it("keeps the state right when a meta nobody was told of leaves", () => {
    const { unit, diffs } = presence();
    const [kim, unknownKim, unknownLee] = [meta("kim"), meta("kim"), meta("lee")];
    unit.rebuild([["12", kim]]);
    const joinerSaw = stateOf(unit);
    unit.untrack("12", unknownKim); // same key, a meta not in the state
    unit.untrack("13", unknownLee); // a key not in the state
    vi.advanceTimersByTime(WINDOW_MS);
    expect(stateOf(unit)).toEqual({ "12": { metas: [kim] } });
    expect(syncDiffs(joinerSaw, diffs)).toEqual(stateOf(unit));
    expect(vi.getTimerCount()).toBe(0);
  });

  it("stateJson is always what a joiner that then applies every later diff ends up with", () => {
    const { unit, diffs } = presence();
    // A fixed pseudo-random run of joins, leaves and windows, with joiners arriving throughout.
    let seed = 20_260_801;
    const random = (below: number) => {
      // mulberry32
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) % below;
    };
    const present: Array<[string, PresenceMeta]> = [];
    const joiners: Array<{ state: PresenceState; from: number }> = [];
    for (let step = 0; step < 400; step++) {
      const roll = random(10);
      if (roll < 4 || present.length === 0) {
        const key = String(random(8));
        const entry: [string, PresenceMeta] = [key, meta(`user${key}`)];
        present.push(entry);
        unit.track(...entry);
      } else if (roll < 7) {
        const [entry] = present.splice(random(present.length), 1);
        if (entry) unit.untrack(...entry);
      } else if (roll < 9) {
        vi.advanceTimersByTime(random(WINDOW_MS) + 1);
        // With nothing pending, every joiner has caught up with the state a joiner would be sent now.
        if (vi.getTimerCount() > 0) continue;
        const now = sorted(stateOf(unit));
        for (const joiner of joiners) expect(sorted(syncDiffs(joiner.state, diffs.slice(joiner.from)))).toBe(now);
      } else {
        joiners.push({ state: stateOf(unit), from: diffs.length });
      }
    }
    vi.advanceTimersByTime(WINDOW_MS);
    const truth: PresenceState = {};
    for (const [key, m] of present) truth[key] = { metas: [...(truth[key]?.metas ?? []), m] };
    expect(sorted(stateOf(unit))).toBe(sorted(truth));
    expect(joiners.length).toBeGreaterThan(10);
    expect(diffs.filter((diff) => Object.keys(diff.leaves).length > 0).length).toBeGreaterThan(10);
    for (const joiner of joiners) expect(sorted(syncDiffs(joiner.state, diffs.slice(joiner.from)))).toBe(sorted(truth));
  });
});
