/**
 * Read positions (room/read-positions.ts), decided by the room through its channel (`mark_read`,
 * `mark_unread`, `last_read_id` in the join reply) on every way in, kept across an eviction, copied to D1
 * in the room's group commit, and counted there (src/db/read-states.ts) as the sidebar will show them:
 * through real rooms, real sockets and real D1. Which users the room then tells (room/read-state-notices.ts)
 * is read off UserSockets' `readStatesChanged`, watched as it is called (it still runs).
 */
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { batch } from "../../../src/db/batch";
import { type ReadState, readPositionStatements, readStates } from "../../../src/db/read-states";
import type { User } from "../../../src/db/users";
import { UserSockets } from "../../../src/realtime/user-sockets/user-sockets";
import { LongPollClient } from "../../helpers/longpoll";
import { addMembers, bearer, createRoom } from "../../helpers/rooms";
import { closeAll, connectAndJoin, connectMultiplexed, roomStub, type TestSocket } from "../../helpers/socket";
import { db, makeUser, seedPosts, seedRooms, tokenFor } from "../../helpers/users";

/**
 * Every `readStatesChanged` a room makes from now on (until the test ends), as UserSockets receives it:
 * watched, not replaced, so every call still reaches UserSockets.
 */
function watchNotices(): Array<{ room: string; users: number[] }> {
  const told: Array<{ room: string; users: number[] }> = [];
  const delivered = UserSockets.prototype.readStatesChanged;
  vi.spyOn(UserSockets.prototype, "readStatesChanged").mockImplementation(function (this: UserSockets, room, users) {
    told.push({ room, users: [...users].sort((x, y) => x - y) });
    return delivered.call(this, room, users);
  });
  return told;
}

const open: TestSocket[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  await closeAll(open);
});

async function joined(user: User, room: string, params: Record<string, unknown> = {}) {
  const result = await connectAndJoin(user, room, params);
  open.push(result.socket);
  return result;
}

/** What D1 counts for `user` in `room` (undefined: the room is not among their read states). */
async function countsIn(user: User, room: string): Promise<Omit<ReadState, "room" | "user_id"> | undefined> {
  const [state] = await readStates(db, { userIds: [user.id], rooms: [room] });
  return state && { last_read_id: state.last_read_id, unread: state.unread, mentions: state.mentions };
}

/** Waits (bounded) until D1 counts `expected` for `user` in `room`: positions reach D1 with the room's next copy. */
async function expectCounts(user: User, room: string, expected: Awaited<ReturnType<typeof countsIn>>) {
  const deadline = Date.now() + 3_000;
  let got = await countsIn(user, room);
  while (JSON.stringify(got) !== JSON.stringify(expected) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    got = await countsIn(user, room);
  }
  expect(got).toEqual(expected);
}

describe("the read position on the room channel", () => {
  it("starts at the room's last seq on the first join; mark_read moves it forward only, mark_unread back", async () => {
    const [ann, ben] = [await makeUser("rp_ann"), await makeUser("rp_ben")];
    await seedPosts(ann, "rp_basic", 3);
    const a = await joined(ann, "rp_basic");
    expect(a.joined.response.last_read_id).toBe(3);
    const topic = "room:rp_basic";
    const posted = [];
    for (const message of ["four", "five", "six"])
      posted.push((await a.socket.push(topic, "new_post", { message })).response.id);
    expect(posted).toEqual([4, 5, 6]);

    // A newcomer: nothing said before they came is unread.
    const b = await joined(ben, "rp_basic");
    expect(b.joined.response.last_read_id).toBe(6);

    expect(await a.socket.push(topic, "mark_read", { up_to_id: 5 })).toMatchObject({
      status: "ok",
      response: { last_read_id: 5 },
    });
    // A lower id leaves it where it is: ok, with the position as it is.
    expect((await a.socket.push(topic, "mark_read", { up_to_id: 4 })).response).toEqual({ last_read_id: 5 });
    expect((await a.socket.push(topic, "mark_unread", { from_id: 2 })).response).toEqual({ last_read_id: 1 });
    expect((await a.socket.push(topic, "mark_unread", { from_id: 6 })).response).toEqual({ last_read_id: 5 });
    expect((await a.socket.push(topic, "mark_read", { up_to_id: 0 })).response).toEqual({ last_read_id: 5 });

    // A rejoin (and another tab's join) carries the position as it is now.
    const again = await joined(ann, "rp_basic", { last_seen_seq: 6 });
    expect(again.joined.response).toEqual({ posts: [], has_more: false, seq: 6, changes: [], last_read_id: 5 });
  });

  it("stores the positions a burst of first joins makes a little later, in one turn, and keeps them across an eviction", async () => {
    const [ann, ben, cat] = [await makeUser("fj_ann"), await makeUser("fj_ben"), await makeUser("fj_cat")];
    const topic = "room:rp_first_joins";
    const poster = await joined(cat, "rp_first_joins");
    for (let n = 1; n <= 2; n++) await poster.socket.push(topic, "new_post", { message: `post ${n}` });
    const [a, b] = await Promise.all([joined(ann, "rp_first_joins"), joined(ben, "rp_first_joins")]);
    // Answered from memory at once; stored within LATER_MS (write-turns.ts).
    expect([a.joined.response.last_read_id, b.joined.response.last_read_id]).toEqual([2, 2]);
    const stored = () =>
      runInDurableObject(roomStub("rp_first_joins"), (_room, state) =>
        state.storage.sql
          .exec<{ user_id: number; last_read_id: number }>(
            "SELECT user_id, last_read_id FROM read_positions WHERE user_id IN (?, ?) ORDER BY user_id",
            ann.id,
            ben.id,
          )
          .toArray(),
      );
    const deadline = Date.now() + 2_000;
    while ((await stored()).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(await stored()).toEqual([
      { user_id: ann.id, last_read_id: 2 },
      { user_id: ben.id, last_read_id: 2 },
    ]);
    await evictDurableObject(roomStub("rp_first_joins"));
    await poster.socket.push(topic, "new_post", { message: "post 3" });
    const back = await joined(ann, "rp_first_joins");
    expect(back.joined.response.last_read_id).toBe(2); // post 3 is unread, not swallowed by a new position
  });

  it("resolves two tabs to the furthest either has read, and keeps the position across an eviction", async () => {
    const [ann, ben] = [await makeUser("tabs_ann"), await makeUser("tabs_ben")];
    const topic = "room:rp_tabs";
    const poster = await joined(ben, "rp_tabs");
    for (let n = 1; n <= 4; n++) await poster.socket.push(topic, "new_post", { message: `post ${n}` });
    const one = await joined(ann, "rp_tabs", { last_seen_seq: 0 });
    const two = await joined(ann, "rp_tabs", { last_seen_seq: 0 });
    expect([one.joined.response.last_read_id, two.joined.response.last_read_id]).toEqual([4, 4]);
    await one.socket.push(topic, "mark_unread", { from_id: 1 });
    expect((await two.socket.push(topic, "mark_read", { up_to_id: 3 })).response).toEqual({ last_read_id: 3 });
    expect((await one.socket.push(topic, "mark_read", { up_to_id: 2 })).response).toEqual({ last_read_id: 3 });

    await evictDurableObject(roomStub("rp_tabs"));
    // After the eviction the room answers from its own storage, before and after the sockets rejoin.
    expect((await one.socket.push(topic, "mark_read", { up_to_id: 1 })).response).toEqual({ last_read_id: 3 });
    const back = await joined(ann, "rp_tabs");
    expect(back.joined.response.last_read_id).toBe(3);
    await expectCounts(ann, "rp_tabs", { last_read_id: 3, unread: 1, mentions: 0 });
  });
});

describe("a room from before rooms kept read positions", () => {
  it("takes D1's positions over once, so its members keep what they had not read", async () => {
    const [ann, ben] = [await makeUser("old_ann"), await makeUser("old_ben")];
    await seedRooms(ann, ["rp_old"]);
    await seedPosts(ann, "rp_old", 5);
    // As the migration left it: ben had read up to post 2 (ann has no position there).
    await batch(db, readPositionStatements("rp_old", [{ userId: ben.id, lastReadId: 2, at: Date.now() }]));
    const b = await joined(ben, "rp_old");
    expect(b.joined.response.last_read_id).toBe(2);
    const a = await joined(ann, "rp_old");
    expect(a.joined.response.last_read_id).toBe(5);
    await expectCounts(ben, "rp_old", { last_read_id: 2, unread: 3, mentions: 0 });
  });
});

describe("on every way in", () => {
  it("answers mark_read and mark_unread alike on a room-bound socket, a multiplexed one and LongPoll", async () => {
    const [ann, ben, cal] = [await makeUser("ways_ann"), await makeUser("ways_ben"), await makeUser("ways_cal")];
    const room = "rp_ways";
    const topic = `room:${room}`;
    const poster = await joined(ann, room);
    for (let n = 1; n <= 3; n++) await poster.socket.push(topic, "new_post", { message: `post ${n}` });

    const mux = await connectMultiplexed(ben);
    open.push(mux);
    const muxJoin = await mux.join(room);
    expect(muxJoin.response.last_read_id).toBe(3);
    expect((await mux.push(topic, "mark_unread", { from_id: 2 }, muxJoin.joinRef)).response).toEqual({
      last_read_id: 1,
    });
    expect((await mux.push(topic, "mark_read", { up_to_id: 4 }, muxJoin.joinRef)).response).toEqual({
      reason: "invalid",
      errors: { up_to_id: "must be at most 3, the room's last seq" },
    });

    const poll = new LongPollClient({ token: await tokenFor(cal) });
    await poll.poll();
    const pollJoin = await poll.join(room);
    expect(pollJoin.response.last_read_id).toBe(3);
    expect((await poll.push(topic, "mark_unread", { from_id: 3 }, pollJoin.joinRef)).response).toEqual({
      last_read_id: 2,
    });
    expect((await poll.push(topic, "mark_unread", { from_id: 0 }, pollJoin.joinRef)).response).toEqual({
      reason: "invalid",
      errors: { from_id: "must be a positive integer" },
    });
    await expectCounts(ben, room, { last_read_id: 1, unread: 2, mentions: 0 });
    await expectCounts(cal, room, { last_read_id: 2, unread: 1, mentions: 0 });
  });
});

describe("counts in D1, through the room", () => {
  it("counts a post for the others, never for its author; a mark_read clears it; a deletion takes it back", async () => {
    const owner = await bearer("cnt_owner");
    const room = await createRoom(owner, { kind: "private", title: "Counting" });
    const member = await bearer("cnt_member");
    await addMembers(owner, room.id, [member]);
    const o = await joined(owner.user, room.id);
    // Added: a position at the room's last seq (its membership changes are numbered too), in D1 before
    // they ever join.
    const start = o.joined.response.seq as number;
    await expectCounts(member.user, room.id, { last_read_id: start, unread: 0, mentions: 0 });

    const topic = `room:${room.id}`;
    const first = (await o.socket.push(topic, "new_post", { message: `hello @${member.username}` })).response;
    await expectCounts(member.user, room.id, { last_read_id: start, unread: 1, mentions: 1 });
    // The owner's, made with the room, is from before the member was added.
    const ownerStart = o.joined.response.last_read_id as number;
    expect(ownerStart).toBeLessThan(start);
    await expectCounts(owner.user, room.id, { last_read_id: ownerStart, unread: 0, mentions: 0 });

    const m = await joined(member.user, room.id);
    expect(m.joined.response.last_read_id).toBe(start);
    expect((await m.socket.push(topic, "mark_read", { up_to_id: first.id })).status).toBe("ok");
    await expectCounts(member.user, room.id, { last_read_id: first.id as number, unread: 0, mentions: 0 });

    const second = (await o.socket.push(topic, "new_post", { message: "another" })).response;
    await expectCounts(member.user, room.id, { last_read_id: first.id as number, unread: 1, mentions: 0 });
    expect((await o.socket.push(topic, "delete_post", { id: second.id })).status).toBe("ok");
    await expectCounts(member.user, room.id, { last_read_id: first.id as number, unread: 0, mentions: 0 });
  });

  it("lets a muted member mark read, refuses a removed one as for a post, and drops the room from their counts", async () => {
    const owner = await bearer("leak_owner");
    const room = await createRoom(owner, { kind: "private", title: "Secrets" });
    const member = await bearer("leak_member");
    await addMembers(owner, room.id, [member]);
    const topic = `room:${room.id}`;
    const o = await joined(owner.user, room.id);
    const m = await joined(member.user, room.id);
    const start = m.joined.response.last_read_id as number;
    const one = (await o.socket.push(topic, "new_post", { message: "one" })).response.id as number;
    await expectCounts(member.user, room.id, { last_read_id: start, unread: 1, mentions: 0 });

    const muted = await owner.post(`/api/rooms/${room.id}/mutes`, { username: member.username, seconds: 600 });
    expect(muted.status, muted.text).toBe(201);
    expect((await m.socket.push(topic, "mark_read", { up_to_id: one })).response).toEqual({ last_read_id: one });
    await o.socket.push(topic, "new_post", { message: "two" });
    await expectCounts(member.user, room.id, { last_read_id: one, unread: 1, mentions: 0 });

    // Removed mid-way: the room vanishes from their counts, end to end (the room's removal, D1's mirror),
    // and they are told, once D1 says so.
    const told = watchNotices();
    expect((await owner.delete(`/api/rooms/${room.id}/members/${member.username}`)).status).toBe(204);
    await expectCounts(member.user, room.id, undefined);
    for (const deadline = Date.now() + 5_000; Date.now() < deadline; ) {
      if (told.some((notice) => notice.room === room.id && notice.users.includes(member.user.id))) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // (With whoever else the same notice concerns: it groups a second's commits.)
    expect(told.some((notice) => notice.room === room.id && notice.users.includes(member.user.id))).toBe(true);
    expect(await readStates(db, { userIds: [member.user.id] })).toEqual([]);
    // Their channel was ended; a push on it is a push to a topic they are not in. A new socket is refused.
    expect((await m.socket.push(topic, "mark_read", { up_to_id: one }, m.joinRef)).response).toEqual({
      reason: "unmatched topic",
    });
    const again = await connectMultiplexed(member.user);
    open.push(again);
    expect((await again.join(room.id)).response).toEqual({ reason: "no such room" });
    // Added back: nothing said while they were out is news to them.
    await addMembers(owner, room.id, [member]);
    const back = await joined(member.user, room.id);
    expect(back.joined.response.last_read_id).toBe(back.joined.response.seq);
    await expectCounts(member.user, room.id, {
      last_read_id: back.joined.response.seq as number,
      unread: 0,
      mentions: 0,
    });
  });

  it("gives a direct message's two people a position when it opens, and refuses a banned member's marks", async () => {
    const [ann, ben] = [await bearer("dm_ann"), await bearer("dm_ben")];
    const opened = await ann.post("/api/dm", { username: ben.username });
    expect(opened.status, opened.text).toBe(200);
    const id = opened.body.room.id as string;
    await expectCounts(ann.user, id, { last_read_id: 0, unread: 0, mentions: 0 });
    await expectCounts(ben.user, id, { last_read_id: 0, unread: 0, mentions: 0 });
    const a = await joined(ann.user, id);
    await a.socket.push(`room:${id}`, "new_post", { message: "hi ben" });
    await expectCounts(ben.user, id, { last_read_id: 0, unread: 1, mentions: 0 });

    const owner = await bearer("ban_owner");
    const cal = await makeUser("ban_cal");
    await joined(owner.user, "rp_banning");
    const c = await joined(cal, "rp_banning");
    const banned = await owner.post("/api/rooms/rp_banning/bans", { username: cal.username });
    expect(banned.status, banned.text).toBe(201);
    // A ban ends their channel at once: a mark_read after it goes to a topic they are no longer in.
    expect((await c.socket.push("room:rp_banning", "mark_read", { up_to_id: 0 }, c.joinRef)).response).toEqual({
      reason: "unmatched topic",
    });
    await expectCounts(cal, "rp_banning", undefined);
  });
});

describe("whom the room tells", () => {
  it("tells each commit's people: others of a post, the mover of a position, who had not read a deleted or edited post", {
    timeout: 30_000,
  }, async () => {
    const told = watchNotices();
    const [ann, ben, cal] = [await makeUser("tell_ann"), await makeUser("tell_ben"), await makeUser("tell_cal")];
    const room = "rp_tell";
    const topic = `room:${room}`;
    const inRoom = () => told.filter((notice) => notice.room === room);
    /** The next notice after `count` of them, within a bound. */
    async function nextNotice(count: number): Promise<number[]> {
      const deadline = Date.now() + 5_000;
      while (inRoom().length <= count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      return inRoom()[count]?.users ?? [];
    }
    const a = await joined(ann, room);
    const b = await joined(ben, room);
    await joined(cal, room);
    // Their first joins made their positions: each is told once D1 has it.
    const everyone = [ann.id, ben.id, cal.id].sort((x, y) => x - y);
    for (let seen = 0; new Set(inRoom().flatMap((n) => n.users)).size < 3; seen++) await nextNotice(seen);
    expect([...new Set(inRoom().flatMap((n) => n.users))].sort((x, y) => x - y)).toEqual(everyone);

    let count = inRoom().length;
    const p1 = (await a.socket.push(topic, "new_post", { message: "news" })).response.id as number;
    expect(await nextNotice(count++)).toEqual([ben.id, cal.id].sort((x, y) => x - y));
    await b.socket.push(topic, "mark_read", { up_to_id: p1 });
    expect(await nextNotice(count++)).toEqual([ben.id]);
    // Edited to mention ben, who has read it: nobody's counts change; then cal, who has not: only cal is
    // told (of both edits at most once).
    await a.socket.push(topic, "edit_post", { id: p1, message: `news for @${ben.username}` });
    await a.socket.push(topic, "edit_post", { id: p1, message: `news for @${cal.username}` });
    expect(await nextNotice(count++)).toEqual([cal.id]);
    // Deleted: only cal had not read it (ann wrote it).
    await a.socket.push(topic, "delete_post", { id: p1 });
    expect(await nextNotice(count++)).toEqual([cal.id]);
  });
});

describe("the join reply", () => {
  it("is encoded once for a burst of joins, each member's own last_read_id spliced in", async () => {
    const users = await Promise.all(Array.from({ length: 6 }, (_, n) => makeUser(`burst_${n}`)));
    const room = "rp_burst";
    const topic = `room:${room}`;
    const first = await joined(users[0] as User, room);
    for (let n = 1; n <= 8; n++) await first.socket.push(topic, "new_post", { message: `post ${n}` });
    const sockets = [];
    for (const [n, user] of users.entries()) {
      const { socket } = n === 0 ? first : await joined(user, room);
      await socket.push(topic, "mark_unread", { from_id: n + 1 });
      sockets.push(socket);
    }
    // A post lands: the next join's reply is encoded anew, once, for the whole burst.
    await first.socket.push(topic, "new_post", { message: "post 9" });
    const encoded = vi.spyOn(JSON, "stringify");
    const replies = await Promise.all(sockets.map((socket) => socket.join(room)));
    const postsEncoded = encoded.mock.calls.filter(
      ([value]) => typeof value === "object" && value !== null && "posts" in value,
    );
    encoded.mockRestore();
    expect(postsEncoded).toHaveLength(1);
    expect(replies.map((reply) => reply.response.last_read_id)).toEqual([0, 1, 2, 3, 4, 5]);
    for (const reply of replies) {
      expect({ ...reply.response, last_read_id: 0 }).toEqual({ ...replies[0]?.response, last_read_id: 0 });
      expect((reply.response.posts as unknown[]).length).toBe(9);
    }
  });
});
