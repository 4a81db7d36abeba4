/**
 * The `user:ID` topic (src/realtime/user-sockets/user-topic.ts, served by room/user-topic.ts on a room-bound
 * socket and by session/relay.ts on a multiplexed socket and LongPoll): who may join it, its join reply (the
 * user's counts from D1), and the `read_state` pushes UserSockets sends through each holder when
 * `readStatesChanged` is called, in V2 and V1, across evictions of every object involved. Counts and read
 * positions are written straight into D1 with the app's own statements, as a room's copy writes them.
 */
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { batch } from "../../../src/db/batch";
import { readPositionStatements } from "../../../src/db/read-states";
import { roomMembers, rooms } from "../../../src/db/schema";
import type { User } from "../../../src/db/users";
import type { Ref } from "../../../src/realtime/phoenix/protocol";
import { sessionStub } from "../../../src/realtime/session/client";
import { readSlotHolder, readStatesChanged, userSockets } from "../../../src/realtime/user-sockets/client";
import { LongPollClient } from "../../helpers/longpoll";
import { closeAll, connect, connectMultiplexed, type Frame, roomStub, type TestSocket } from "../../helpers/socket";
import { copiedPosts, db, makeUser, tokenFor } from "../../helpers/users";

const open: TestSocket[] = [];
afterEach(() => closeAll(open));

let made = 0;

/** A room as D1 knows it (no Durable Object): public, or private with `members`. */
async function roomInD1(prefix: string, kind: "public" | "private" = "public", members: User[] = []): Promise<string> {
  made += 1;
  const id = `${prefix}_${made}`;
  await db.insert(rooms).values({ id, kind, postCount: 0, lastPostAt: new Date() });
  const at = new Date();
  for (const member of members)
    await db.insert(roomMembers).values({ room: id, userId: member.id, role: "member", addedAt: at });
  return id;
}

/** One author's posts copied to D1 as a room copies its log, numbered from `first`. */
function posted(room: string, author: User, messages: string[], first: number): Promise<void> {
  return copiedPosts(
    room,
    messages.map((message): [User, string] => [author, message]),
    first,
  );
}

async function readUpTo(room: string, user: User, lastReadId: number): Promise<void> {
  await batch(db, readPositionStatements(room, [{ userId: user.id, lastReadId, at: Date.now() }]));
}

/** What the room's commit would trigger: UserSockets told that `users`' counts in `room` may have changed. */
function changed(room: string, users: User[]): Promise<void> {
  return readStatesChanged(
    env,
    room,
    users.map(({ id }) => id),
    "test",
  );
}

interface Reply {
  status: string;
  response: Record<string, unknown>;
  frame: Frame;
}

/** A join of `topic` as phoenix.js sends it (join_ref == ref; in V1 the ref alone). */
async function joinOn(socket: TestSocket | LongPollClient, topic: string): Promise<Reply & { joinRef: Ref }> {
  const ref = socket.nextRef();
  const frame: Frame = [socket.vsn === "1.0.0" ? null : ref, ref, topic, "phx_join", {}];
  if (socket instanceof LongPollClient) expect((await socket.send([frame])).status).toBe(200);
  else socket.send(frame);
  const reply = await socket.waitFor((f) => f[1] === ref && f[3] === "phx_reply");
  return { ...(reply[4] as { status: string; response: Record<string, unknown> }), frame: reply, joinRef: ref };
}

async function longPoll(user: User, vsn?: string): Promise<LongPollClient> {
  const client = new LongPollClient({ token: await tokenFor(user), ...(vsn ? { vsn } : {}) });
  expect((await client.poll()).status).toBe(410);
  return client;
}

function readStatesOf(socket: TestSocket | LongPollClient, room?: string): Array<Record<string, unknown>> {
  return socket.frames
    .filter((f) => f[3] === "read_state" && (room === undefined || f[4].room === room))
    .map((f) => f[4]);
}

function waitForReadState(socket: TestSocket | LongPollClient, room: string, state: Record<string, unknown>) {
  return socket.waitFor((f) => f[3] === "read_state" && JSON.stringify(f[4]) === JSON.stringify({ room, ...state }));
}

/** Everything sent to a LongPoll client before now has been polled: a heartbeat's reply comes after it. */
async function pollBarrier(client: LongPollClient): Promise<void> {
  const reply = await client.push("phoenix", "heartbeat");
  expect(reply.status).toBe("ok");
}

function slotsOf(user: User) {
  return runInDurableObject(userSockets(env, user.id), (_object, state) =>
    state.storage.sql
      .exec<{ holder: string; watch: string | null }>("SELECT holder, watch FROM slots WHERE user_id = ?", user.id)
      .toArray(),
  );
}

describe("joining user:ID", () => {
  it("refuses another user's topic with forbidden and a malformed one with unmatched topic, on all three ways in", async () => {
    const me = await makeUser("ut_refused");
    const other = await makeUser("ut_other");
    const roomBound = await connect(me, "ut_refusals");
    const multiplexed = await connectMultiplexed(me);
    open.push(roomBound, multiplexed);
    const polled = await longPoll(me);
    for (const socket of [roomBound, multiplexed, polled]) {
      const forbidden = await joinOn(socket, `user:${other.id}`);
      expect(forbidden.status).toBe("error");
      expect(forbidden.response).toEqual({ reason: "forbidden" });
      for (const topic of ["user:abc", `user:0${me.id}`, "user:0", "user:", `user:${me.id}.0`, "user:-1"]) {
        const refused = await joinOn(socket, topic);
        expect([topic, refused.response]).toEqual([topic, { reason: "unmatched topic" }]);
        expect(refused.frame[0], "no join_ref, as Phoenix's unmatched topic").toBeNull();
      }
      // A push to a user topic not joined, and a leave of one: as for any topic not joined.
      const pushed = await socket.push(`user:${me.id}`, "anything");
      expect(pushed.response).toEqual({ reason: "unmatched topic" });
      expect((await socket.push(`user:${other.id}`, "phx_leave")).status).toBe("ok");
      // The socket goes on: its own topic joins.
      const own = await joinOn(socket, `user:${me.id}`);
      expect(own.status).toBe("ok");
      // Which takes no events from clients.
      const unknown = await socket.push(`user:${me.id}`, "mark_read", {}, own.joinRef);
      expect(unknown.response).toEqual({ reason: "unknown event", event: "mark_read" });
    }
    // A refused join watched nothing: only the three own joins are watched.
    expect((await slotsOf(me)).filter(({ watch }) => watch !== null)).toHaveLength(3);
  });

  it("closes a socket whose join of the user topic carries no ref at all with 1007, room-bound and multiplexed", async () => {
    const me = await makeUser("ut_refless");
    for (const socket of [await connect(me, "ut_refless_room"), await connectMultiplexed(me)]) {
      open.push(socket);
      socket.send([null, null, `user:${me.id}`, "phx_join", {}]);
      expect(await socket.closed).toEqual({ code: 1007, reason: "phx_join must carry a join_ref or ref" });
    }
  });

  it("answers with the user's counts in every room they may read, from D1", async () => {
    const me = await makeUser("ut_counts");
    const poster = await makeUser("ut_counts_poster");
    const busy = await roomInD1("ut_busy");
    const quiet = await roomInD1("ut_quiet");
    const secret = await roomInD1("ut_secret", "private", [poster]);
    await posted(busy, poster, ["one", "two @ut_counts", "three", "four @ut_counts"], 1);
    await posted(busy, me, ["mine"], 5);
    await posted(secret, poster, ["not for you"], 1);
    await readUpTo(busy, me, 2);
    await readUpTo(quiet, me, 0);
    await readUpTo(secret, me, 0); // a position, but no access: never counted

    const socket = await connect(me, busy);
    open.push(socket);
    const joined = await joinOn(socket, `user:${me.id}`);
    expect(joined.status).toBe("ok");
    expect(joined.response).toEqual({
      rooms: [
        { room: busy, last_read_id: 2, unread: 2, mentions: 1 },
        { room: quiet, last_read_id: 0, unread: 0, mentions: 0 },
      ],
    });
  });

  it("is refused rate_limited past the join allowance, per user on every way in", async () => {
    const me = await makeUser("ut_flood");
    const socket = await connectMultiplexed(me);
    open.push(socket);
    // JOINS_BURST joins of the topic (100 in the pool), straight to UserSockets as a holder asks; then one more.
    const joinsBurst = Number(env.JOINS_BURST);
    for (let n = 0; n < joinsBurst; n++) await userSockets(env, me.id).watch(me.id, "no-such-slot", "w");
    const refused = await joinOn(socket, `user:${me.id}`);
    expect(refused.status).toBe("error");
    expect(refused.response.reason).toBe("rate_limited");
    expect(refused.response.retry_after_ms).toBeGreaterThan(0);
    expect(refused.response.retry_after_ms).toBeLessThanOrEqual(2_000);
    expect((await slotsOf(me)).map(({ watch }) => watch)).toEqual([null]);
  });
});

describe("read_state", () => {
  it("reaches the user's room-bound socket (beside its room), multiplexed socket and LongPoll, each in its serializer; nobody else's", async () => {
    const me = await makeUser("ut_pushed");
    const poster = await makeUser("ut_pushed_poster");
    const someone = await makeUser("ut_bystander");
    const room = await roomInD1("ut_pushed");
    await readUpTo(room, me, 0);
    await readUpTo(room, someone, 0);

    const roomBound = await connect(me, "ut_home");
    const multiplexed = await connectMultiplexed(me, { vsn: "1.0.0" });
    const bystander = await connect(someone, "ut_home");
    open.push(roomBound, multiplexed, bystander);
    const polled = await longPoll(me);
    // The room-bound socket is in its own room too, which goes on as before.
    expect((await roomBound.join("ut_home")).status).toBe("ok");
    const joins = [];
    for (const socket of [roomBound, multiplexed, polled]) joins.push(await joinOn(socket, `user:${me.id}`));
    // The bystander joins their own topic and is not told of another's counts.
    expect((await joinOn(bystander, `user:${someone.id}`)).status).toBe("ok");

    await posted(room, poster, ["hello @ut_pushed", "and more"], 1);
    await changed(room, [me]);
    const state = { last_read_id: 0, unread: 2, mentions: 1 };
    for (const socket of [roomBound, multiplexed, polled]) await waitForReadState(socket, room, state);
    const topic = `user:${me.id}`;
    const payload = JSON.stringify({ room, ...state });
    // V2: a push from the channel (its join_ref, no ref); V1: the same as an object, ref null.
    expect(roomBound.texts).toContain(`["${joins[0]?.joinRef}",null,"${topic}","read_state",${payload}]`);
    expect(multiplexed.texts).toContain(`{"topic":"${topic}","event":"read_state","payload":${payload},"ref":null}`);

    // A post in the room-bound socket's own room still arrives as before.
    const post = await roomBound.push("room:ut_home", "new_post", { message: "still here" });
    expect(post.status).toBe("ok");
    await bystander.barrier();
    expect(readStatesOf(bystander)).toEqual([]);
  });

  it("stops after a leave: phx_close, then nothing; the watch is gone", async () => {
    const me = await makeUser("ut_leaver");
    const room = await roomInD1("ut_left");
    await readUpTo(room, me, 0);
    const roomBound = await connect(me, "ut_leaver_home");
    const multiplexed = await connectMultiplexed(me);
    open.push(roomBound, multiplexed);
    const polled = await longPoll(me);
    for (const socket of [roomBound, multiplexed, polled]) {
      const { joinRef } = await joinOn(socket, `user:${me.id}`);
      const left = await socket.push(`user:${me.id}`, "phx_leave", {}, joinRef);
      expect(left.status).toBe("ok");
      expect(await socket.waitFor((f) => f[3] === "phx_close")).toEqual([
        socket.vsn === "1.0.0" ? null : joinRef,
        joinRef,
        `user:${me.id}`,
        "phx_close",
        {},
      ]);
    }
    await expect
      .poll(async () => (await slotsOf(me)).map(({ watch }) => watch), { timeout: 3_000 })
      .toEqual([null, null, null]);
    await changed(room, [me]);
    await roomBound.barrier();
    await multiplexed.barrier();
    await pollBarrier(polled);
    for (const socket of [roomBound, multiplexed, polled]) expect(readStatesOf(socket)).toEqual([]);
  });

  it("follows a second join of the topic: the first one's phx_close, then pushes under the new join_ref", async () => {
    const me = await makeUser("ut_rejoiner");
    const room = await roomInD1("ut_rejoined");
    await readUpTo(room, me, 0);
    const socket = await connect(me, "ut_rejoiner_home");
    open.push(socket);
    const first = await joinOn(socket, `user:${me.id}`);
    const second = await joinOn(socket, `user:${me.id}`);
    expect(second.status).toBe("ok");
    const closeAt = socket.frames.findIndex((f) => f[3] === "phx_close");
    expect(socket.frames[closeAt]).toEqual([first.joinRef, first.joinRef, `user:${me.id}`, "phx_close", {}]);
    expect(closeAt).toBeLessThan(socket.frames.indexOf(second.frame));
    await changed(room, [me]);
    const pushed = await waitForReadState(socket, room, { last_read_id: 0, unread: 0, mentions: 0 });
    expect(pushed[0]).toBe(second.joinRef);
    expect(readStatesOf(socket)).toHaveLength(1);
  });

  it("tells a user who lost access to a room: last_read_id null and no counts", async () => {
    const me = await makeUser("ut_removed");
    const owner = await makeUser("ut_removed_owner");
    const room = await roomInD1("ut_private", "private", [owner, me]);
    await posted(room, owner, ["secret 1", "secret 2"], 1);
    await readUpTo(room, me, 1);
    const socket = await connectMultiplexed(me);
    open.push(socket);
    const joined = await joinOn(socket, `user:${me.id}`);
    expect(joined.response).toEqual({ rooms: [{ room, last_read_id: 1, unread: 1, mentions: 0 }] });

    // The room removed them, and mirrored it to D1; then it tells UserSockets.
    await db.delete(roomMembers).where(and(eq(roomMembers.room, room), eq(roomMembers.userId, me.id)));
    await changed(room, [me]);
    await waitForReadState(socket, room, { last_read_id: null, unread: 0, mentions: 0 });
  });

  it("forgets the watch of a socket its holder no longer has on the topic, and the watch of a slot given back", async () => {
    const me = await makeUser("ut_forgotten");
    const room = await roomInD1("ut_forgotten");
    await readUpTo(room, me, 0);
    const socket = await connect(me, "ut_forgotten_home");
    open.push(socket);
    // A watch its holder does not know of (a join the room has lost): the next read_state drops it.
    await runInDurableObject(userSockets(env, me.id), (_object, state) => {
      state.storage.sql.exec("UPDATE slots SET watch = 'phantom' WHERE user_id = ?", me.id);
    });
    await changed(room, [me]);
    expect((await slotsOf(me)).map(({ watch }) => watch)).toEqual([null]);
    await socket.barrier();
    expect(readStatesOf(socket)).toEqual([]);

    expect((await joinOn(socket, `user:${me.id}`)).status).toBe("ok");
    expect((await slotsOf(me)).map(({ watch }) => watch !== null)).toEqual([true]);
    socket.close();
    await socket.closed;
    await expect.poll(() => slotsOf(me), { timeout: 3_000 }).toEqual([]);
  });
});

describe("the user topic across evictions", () => {
  it("keeps a room-bound socket's join when the room is evicted", async () => {
    const me = await makeUser("ut_room_nap");
    const room = await roomInD1("ut_room_nap");
    await readUpTo(room, me, 0);
    const socket = await connect(me, "ut_napping");
    open.push(socket);
    const { joinRef } = await joinOn(socket, `user:${me.id}`);
    await evictDurableObject(roomStub("ut_napping"));

    await changed(room, [me]);
    const pushed = await waitForReadState(socket, room, { last_read_id: 0, unread: 0, mentions: 0 });
    expect(pushed[0]).toBe(joinRef);
    // Woken by a frame afterwards, the room still knows the join: its leave closes it.
    expect((await socket.push(`user:${me.id}`, "phx_leave", {}, joinRef)).status).toBe("ok");
    await socket.waitFor((f) => f[3] === "phx_close" && f[0] === joinRef);
  });

  it("keeps a multiplexed socket's join when its session is evicted, and watches when UserSockets is", async () => {
    const me = await makeUser("ut_session_nap");
    const room = await roomInD1("ut_session_nap");
    await readUpTo(room, me, 0);
    const socket = await connectMultiplexed(me, { vsn: "1.0.0" });
    open.push(socket);
    const { joinRef } = await joinOn(socket, `user:${me.id}`);
    const [slot] = await slotsOf(me);
    const holder = readSlotHolder(slot?.holder ?? "");
    if (holder.kind !== "session") throw new Error(`a session's slot, not ${slot?.holder}`);

    await evictDurableObject(sessionStub(env, holder.id));
    await evictDurableObject(userSockets(env, me.id));
    await posted(room, await makeUser("ut_session_poster"), ["while asleep"], 1);
    await changed(room, [me]);
    await waitForReadState(socket, room, { last_read_id: 0, unread: 1, mentions: 0 });
    // The session woke from the socket's attachment: the join is still the same one.
    expect((await socket.push(`user:${me.id}`, "phx_leave", {}, joinRef)).status).toBe("ok");
    expect(await socket.waitFor((f) => f[3] === "phx_close")).toEqual([
      null,
      joinRef,
      `user:${me.id}`,
      "phx_close",
      {},
    ]);
  });
});
