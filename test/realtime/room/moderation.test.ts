/**
 * Moderation as members meet it, on the three ways in (room-bound, multiplexed, LongPoll), through the real
 * worker, Room and D1: a mute refuses posts and typing (`muted {until}`) until it ends or is lifted;
 * read-only and slow mode refuse members but not moderators; a ban ends the member's channels on every
 * socket within a second and keeps them out; the `moderation` push tells each member what applies to
 * them, at the join and live; and all of it survives an eviction.
 */
import { env, evictDurableObject, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { LongPollClient } from "../../helpers/longpoll";
import { type ApiClient, bearer, createRoom } from "../../helpers/rooms";
import {
  closeAll,
  connect,
  connectAndJoin,
  connectMultiplexed,
  type Frame,
  roomStub,
  type TestSocket,
} from "../../helpers/socket";
import { tokenFor } from "../../helpers/users";

const open: TestSocket[] = [];
afterEach(() => closeAll(open));

type Reply = { status: string; response: Record<string, unknown> };

/** One way in, joined to a room: what a test does with it, the same whichever way it is. */
interface Way {
  name: "room-bound" | "multiplexed" | "longpoll";
  joinRef: string;
  frames: Frame[];
  push(event: string, payload?: Record<string, unknown>): Promise<Reply>;
  join(): Promise<Reply & { joinRef: string }>;
  waitFor(match: (frame: Frame) => boolean, timeoutMs?: number): Promise<Frame>;
}

/** `person` joined to `room` on all three ways in. */
async function threeWays(person: ApiClient, room: string): Promise<Way[]> {
  const topic = `room:${room}`;
  const bound = await connect(person.user, room);
  const mux = await connectMultiplexed(person.user);
  open.push(bound, mux);
  const poll = new LongPollClient({ token: await tokenFor(person.user) });
  expect((await poll.poll()).status).toBe(410);
  const ways: Way[] = [];
  for (const [name, client] of [
    ["room-bound", bound],
    ["multiplexed", mux],
    ["longpoll", poll],
  ] as const) {
    const joined = await client.join(room);
    expect(joined.status, name).toBe("ok");
    const way: Way = {
      name,
      joinRef: joined.joinRef,
      frames: client.frames,
      push: (event, payload = {}) => client.push(topic, event, payload, way.joinRef),
      join: async () => {
        const again = await client.join(room);
        way.joinRef = again.joinRef;
        return again;
      },
      waitFor: (match, timeoutMs) => client.waitFor(match, timeoutMs),
    };
    ways.push(way);
  }
  return ways;
}

/** The latest `moderation` push of a way's current join, once the latest satisfies `match`. */
async function moderationPush(way: Way, match: (state: Record<string, unknown>) => boolean) {
  const latest = () => way.frames.filter((f) => f[3] === "moderation" && f[0] === way.joinRef).at(-1);
  const frame = await way.waitFor((f) => f === latest() && match(f[4]));
  return frame[4];
}

function post(message: string): Record<string, unknown> {
  return { message };
}

describe("a mute", () => {
  it("refuses the member's posts and typing on all three ways in with muted {until}, while they still read; an unmute lets them post again", async () => {
    const owner = await bearer("mute_owner");
    const muted = await bearer("mute_member");
    await createRoom(owner, { kind: "public", name: "mute_room" });
    const speaker = await connectAndJoin(owner.user, "mute_room");
    open.push(speaker.socket);
    const ways = await threeWays(muted, "mute_room");
    const before = await ways[0]?.push("new_post", post("said before the mute"));
    expect(before?.status).toBe("ok");
    const ownId = before?.response.id;

    const answered = await owner.post("/api/rooms/mute_room/mutes", { username: muted.username, seconds: 3600 });
    expect(answered.status, answered.text).toBe(201);
    const { until } = answered.body.mute as { until: string };
    expect(Date.parse(until) - Date.now()).toBeGreaterThan(3_500_000);

    for (const way of ways) {
      expect(await moderationPush(way, (state) => state.muted_until === until), way.name).toEqual({
        muted_until: until,
        read_only: false,
        slow_mode_seconds: 0,
        exempt: false,
      });
      expect(await way.push("new_post", post(`from ${way.name}`)), way.name).toMatchObject({
        status: "error",
        response: { reason: "muted", until },
      });
      expect(await way.push("typing"), way.name).toMatchObject({
        status: "error",
        response: { reason: "muted", until },
      });
      // Nor edit what they said before: an edit is speech too.
      expect(await way.push("edit_post", { id: ownId, message: "sneaked in" }), way.name).toMatchObject({
        status: "error",
        response: { reason: "muted", until },
      });
    }
    // They still read.
    expect((await speaker.socket.push("room:mute_room", "new_post", post("you can read this"))).status).toBe("ok");
    for (const way of ways) {
      await way.waitFor((f) => f[3] === "new_post" && f[4].message === "you can read this");
      expect(way.frames.filter((f) => f[3] === "new_post").map((f) => f[4].message)).toEqual([
        "said before the mute",
        "you can read this",
      ]);
    }

    expect((await owner.delete(`/api/rooms/mute_room/mutes/${muted.username}`)).status).toBe(204);
    for (const way of ways) {
      await moderationPush(way, (state) => state.muted_until === null);
      expect(await way.push("new_post", post(`again from ${way.name}`)), way.name).toMatchObject({ status: "ok" });
    }
    expect(await ways[1]?.push("edit_post", { id: ownId, message: "fixed after the mute" })).toMatchObject({
      status: "ok",
      response: { id: ownId, message: "fixed after the mute" },
    });
  });

  it("ends by the server's clock: a mute whose time is past refuses nothing, though nobody lifted it", async () => {
    const owner = await bearer("expiry_owner");
    const muted = await bearer("expiry_member");
    await createRoom(owner, { kind: "public", name: "expiry_room" });
    const member = await connectAndJoin(muted.user, "expiry_room");
    open.push(member.socket);
    expect((await owner.post("/api/rooms/expiry_room/mutes", { username: muted.username, seconds: 60 })).status).toBe(
      201,
    );
    expect((await member.socket.push("room:expiry_room", "new_post", post("too soon"))).response.reason).toBe("muted");

    // A minute passes (the mute's end moved into the past, as the clock would move it).
    await runInDurableObject(roomStub("expiry_room"), (_room, state) => {
      state.storage.sql.exec("UPDATE moderation_mutes SET until = ?", Date.now() - 1);
    });
    await evictDurableObject(roomStub("expiry_room"));
    expect((await member.socket.push("room:expiry_room", "new_post", post("free again"))).status).toBe("ok");
    expect((await member.socket.push("room:expiry_room", "typing")).status).toBe("ok");
  });
});

describe("read-only", () => {
  it("refuses members' posts and typing with read_only on all three ways in; the owner and moderators post", async () => {
    const owner = await bearer("ro_owner");
    const moderator = await bearer("ro_moderator");
    const member = await bearer("ro_member");
    await createRoom(owner, { kind: "public", name: "ro_room" });
    expect(
      (await owner.post("/api/rooms/ro_room/members", { username: moderator.username, role: "moderator" })).status,
    ).toBe(201);
    const mod = await connectAndJoin(moderator.user, "ro_room");
    open.push(mod.socket);
    const ways = await threeWays(member, "ro_room");

    const set = await moderator.patch("/api/rooms/ro_room", { read_only: true });
    expect(set.status, set.text).toBe(200);
    expect(set.body.moderation).toMatchObject({ read_only: true, slow_mode_seconds: 0 });

    const modState = await mod.socket.waitFor((f) => f[3] === "moderation");
    expect(modState[4]).toEqual({ muted_until: null, read_only: true, slow_mode_seconds: 0, exempt: true });
    for (const way of ways) {
      expect(await moderationPush(way, (state) => state.read_only === true), way.name).toEqual({
        muted_until: null,
        read_only: true,
        slow_mode_seconds: 0,
        exempt: false,
      });
      expect(await way.push("new_post", post("may I?")), way.name).toEqual({
        status: "error",
        response: { reason: "read_only" },
        frame: expect.anything(),
      });
      expect((await way.push("typing")).response, way.name).toEqual({ reason: "read_only" });
    }
    expect((await mod.socket.push("room:ro_room", "new_post", post("moderators speak"))).status).toBe("ok");
    const ownerSocket = await connectAndJoin(owner.user, "ro_room");
    open.push(ownerSocket.socket);
    expect((await ownerSocket.socket.push("room:ro_room", "new_post", post("so does the owner"))).status).toBe("ok");

    // Made a moderator, the member is told at once that read-only no longer applies to them; and back.
    const added = await owner.post("/api/rooms/ro_room/members", { username: member.username, role: "moderator" });
    expect(added.status, added.text).toBe(201);
    for (const way of ways) {
      await moderationPush(way, (state) => state.exempt === true);
      expect((await way.push("new_post", post(`promoted, ${way.name}`))).status, way.name).toBe("ok");
    }
    expect((await owner.patch(`/api/rooms/ro_room/members/${member.username}`, { role: "member" })).status).toBe(200);
    for (const way of ways) await moderationPush(way, (state) => state.exempt === false);
    expect((await owner.delete(`/api/rooms/ro_room/members/${member.username}`)).status).toBe(204);

    expect((await owner.patch("/api/rooms/ro_room", { read_only: false })).status).toBe(200);
    for (const way of ways) {
      await moderationPush(way, (state) => state.read_only === false);
      expect((await way.push("new_post", post(`open again, ${way.name}`))).status, way.name).toBe("ok");
    }
  });
});

describe("a role change", () => {
  it("is pushed to the person on all three ways in (exempt true, then false), in a room where no mode is on", async () => {
    const owner = await bearer("role_owner");
    const member = await bearer("role_member");
    await createRoom(owner, { kind: "public", name: "role_room" });
    const ways = await threeWays(member, "role_room");
    expect(ways.flatMap((way) => way.frames.filter((f) => f[3] === "moderation"))).toEqual([]); // nothing applies
    expect(
      (await owner.post("/api/rooms/role_room/members", { username: member.username, role: "moderator" })).status,
    ).toBe(201);
    for (const way of ways) {
      expect(await moderationPush(way, (state) => state.exempt === true), way.name).toEqual({
        muted_until: null,
        read_only: false,
        slow_mode_seconds: 0,
        exempt: true,
      });
    }
    expect((await owner.patch(`/api/rooms/role_room/members/${member.username}`, { role: "member" })).status).toBe(200);
    for (const way of ways) await moderationPush(way, (state) => state.exempt === false);
  });
});

describe("slow mode", () => {
  it("takes one post per member per interval on all three ways in, answering slow_mode {retry_after_ms}; moderators are exempt; it survives an eviction", async () => {
    const owner = await bearer("slow_owner");
    const member = await bearer("slow_member");
    await createRoom(owner, { kind: "public", name: "slow_room" });
    const ownerSocket = await connectAndJoin(owner.user, "slow_room");
    open.push(ownerSocket.socket);
    const ways = await threeWays(member, "slow_room");
    const set = await owner.patch("/api/rooms/slow_room", { slow_mode_seconds: 30 });
    expect(set.status, set.text).toBe(200);
    for (const way of ways) await moderationPush(way, (state) => state.slow_mode_seconds === 30);

    // One post, from any of the three; every later one within 30 s is refused, whichever way it comes.
    const [first, ...others] = ways as [Way, ...Way[]];
    expect((await first.push("new_post", post("one"))).status).toBe("ok");
    for (const way of [first, ...others]) {
      const refused = await way.push("new_post", post(`two from ${way.name}`));
      expect(refused.response.reason, way.name).toBe("slow_mode");
      expect(refused.response.retry_after_ms, way.name).toBeGreaterThan(25_000);
      expect(refused.response.retry_after_ms, way.name).toBeLessThanOrEqual(30_000);
    }
    // Typing is not a post.
    expect((await first.push("typing")).status).toBe("ok");
    // The owner is exempt.
    for (const n of [1, 2, 3]) {
      expect((await ownerSocket.socket.push("room:slow_room", "new_post", post(`owner ${n}`))).status).toBe("ok");
    }

    await evictDurableObject(roomStub("slow_room"));
    expect((await first.push("new_post", post("after the nap"))).response.reason).toBe("slow_mode");

    // The interval passes (the last post moved back 30 s): the next post is taken, and starts a new wait.
    await runInDurableObject(roomStub("slow_room"), (_room, state) => {
      state.storage.sql.exec("UPDATE last_posts SET at = at - 30000");
    });
    expect((await others[1]?.push("new_post", post("later")))?.status).toBe("ok");
    expect((await first.push("new_post", post("too soon again"))).response.reason).toBe("slow_mode");

    // Off: posts are taken again at once.
    expect((await owner.patch("/api/rooms/slow_room", { slow_mode_seconds: 0 })).status).toBe(200);
    expect((await first.push("new_post", post("slow mode is off"))).status).toBe("ok");
  });
});

describe("a ban", () => {
  it.each([
    ["public", "ban_pub"],
    ["private", ""],
  ] as const)(
    "in a %s room ends the member's channel on all three ways in within a second, takes them out of presence, and keeps them out",
    async (kind, name) => {
      const owner = await bearer(`ban_${kind}_owner`);
      const banned = await bearer(`ban_${kind}_member`);
      const room = await createRoom(owner, kind === "public" ? { kind, name } : { kind, title: "Ban here" });
      if (kind === "private") {
        expect((await owner.post(`/api/rooms/${room.id}/members`, { username: banned.username })).status).toBe(201);
      }
      const watcher = await connectAndJoin(owner.user, room.id);
      open.push(watcher.socket);
      const ways = await threeWays(banned, room.id);
      await watcher.socket.waitFor((f) => f[3] === "presence_diff" && String(banned.user.id) in (f[4].joins as object));

      const bannedAt = Date.now();
      const answered = await owner.post(`/api/rooms/${room.id}/bans`, { username: banned.username });
      expect(answered.status, answered.text).toBe(201);
      await Promise.all(ways.map((way) => way.waitFor((f) => f[0] === way.joinRef && f[3] === "phx_close", 1_000)));
      expect(Date.now() - bannedAt).toBeLessThan(1_000);
      for (const way of ways) {
        const ofJoin = way.frames.filter((f) => f[0] === way.joinRef && f[3] !== "phx_reply");
        expect(
          ofJoin.slice(-2).map((f) => [f[3], f[4]]),
          way.name,
        ).toEqual([
          ["membership_ended", { reason: "banned" }],
          ["phx_close", {}],
        ]);
      }
      // Out of presence: everyone else hears them leave.
      await watcher.socket.waitFor(
        (f) => f[3] === "presence_diff" && String(banned.user.id) in (f[4].leaves as object),
      );

      // They cannot come back on any way in, nor read the history; the ban ended any membership.
      for (const way of ways) {
        expect((await way.join()).response, way.name).toEqual({ reason: "banned" });
      }
      // A new socket too: a private room lets them open one, so that its join can tell them why.
      const fresh = await connect(banned.user, room.id);
      open.push(fresh);
      expect((await fresh.join(room.id)).response).toEqual({ reason: "banned" });
      expect((await banned.get(`/rooms/${room.id}/posts`)).body).toEqual({ error: "You are banned from this room." });
      expect((await banned.get(`/rooms/${room.id}/posts`)).status).toBe(403);
      expect((await banned.get(`/rooms/${room.id}/changes?after_seq=0`)).status).toBe(403);
      expect((await banned.get(`/api/rooms/${room.id}`)).status).toBe(403);
      const members = (await owner.get(`/api/rooms/${room.id}`)).body.members as Array<{ username: string }>;
      expect(members.map((member) => member.username)).toEqual([owner.username]);

      // Unbanned: a public room takes them back at once; a private room once they are added again.
      expect((await owner.delete(`/api/rooms/${room.id}/bans/${banned.username}`)).status).toBe(204);
      const [bound] = ways as [Way];
      if (kind === "private") {
        expect((await bound.join()).response).toEqual({ reason: "no such room" });
        expect((await owner.post(`/api/rooms/${room.id}/members`, { username: banned.username })).status).toBe(201);
      }
      expect((await bound.join()).status).toBe("ok");
    },
  );

  it("with delete_recent_posts deletes their posts of the last day as a moderator, one change per post, live and in D1", async () => {
    const owner = await bearer("purge_owner");
    const spammer = await bearer("purge_spammer");
    await createRoom(owner, { kind: "public", name: "purge_room" });
    const watcher = await connectAndJoin(owner.user, "purge_room");
    const poster = await connectAndJoin(spammer.user, "purge_room");
    open.push(watcher.socket, poster.socket);
    const said = async (socket: TestSocket, message: string) =>
      (await socket.push("room:purge_room", "new_post", post(message))).response.id as number;
    const old = await said(poster.socket, "from two days ago");
    const spam = [await said(poster.socket, "spam one"), await said(poster.socket, "spam two")];
    const kept = await said(watcher.socket, "the owner's own post");
    // The first is two days old, in the room's log and in D1 alike.
    const twoDaysAgo = Date.now() - 2 * 24 * 60 * 60 * 1000;
    await runInDurableObject(roomStub("purge_room"), (_room, state) => {
      state.storage.sql.exec("UPDATE post_log SET inserted_at = ? WHERE seq = ?", twoDaysAgo, old);
    });
    await env.DB.prepare("UPDATE posts SET inserted_at = ? WHERE room = 'purge_room' AND seq = ?")
      .bind(twoDaysAgo, old)
      .run();

    const answered = await owner.post("/api/rooms/purge_room/bans", {
      username: spammer.username,
      delete_recent_posts: true,
    });
    expect(answered.status, answered.text).toBe(201);
    // Everyone still here saw each deletion, in order, as a moderator's.
    await watcher.socket.waitFor((f) => f[3] === "post_deleted" && f[4].id === spam[1]);
    const deleted = watcher.socket.frames.filter((f) => f[3] === "post_deleted").map((f) => f[4]);
    expect(deleted.map(({ id, deleted_by }) => ({ id, deleted_by }))).toEqual(
      spam.map((id) => ({ id, deleted_by: "moderator" })),
    );
    // D1 has them (the ban answered after it did): no text left, the rest untouched.
    const rows = await env.DB.prepare(
      "SELECT seq, message, deleted_by FROM posts WHERE room = 'purge_room' ORDER BY seq",
    ).all<{ seq: number; message: string; deleted_by: string | null }>();
    expect(rows.results).toEqual([
      { seq: old, message: "from two days ago", deleted_by: null },
      { seq: spam[0], message: "", deleted_by: "moderator" },
      { seq: spam[1], message: "", deleted_by: "moderator" },
      { seq: kept, message: "the owner's own post", deleted_by: null },
    ]);
    const changes = (await owner.get("/rooms/purge_room/changes?after_seq=0")).body.changes as Array<{
      type: string;
      post: { id: number };
    }>;
    expect(changes.filter((c) => c.type === "delete").map((c) => c.post.id)).toEqual(spam);
  });

  it("numbers each membership change and moderation action in the room's change stream, never saying who acted", async () => {
    const owner = await bearer("stream_owner");
    const member = await bearer("stream_member");
    const room = await createRoom(owner, { kind: "private", title: "Stream" });
    const base = `/api/rooms/${room.id}`;
    expect((await owner.post(`${base}/members`, { username: member.username })).status).toBe(201);
    expect((await owner.patch(`${base}/members/${member.username}`, { role: "moderator" })).status).toBe(200);
    expect((await owner.patch(`${base}/members/${member.username}`, { role: "member" })).status).toBe(200);
    expect((await owner.post(`${base}/mutes`, { username: member.username, seconds: 60 })).status).toBe(201);
    expect((await owner.patch(base, { read_only: true })).status).toBe(200);
    expect((await owner.post(`${base}/bans`, { username: member.username })).status).toBe(201);

    const who = { id: member.user.id, username: member.username };
    const expected = [
      { type: "member", action: "added", user: who, role: "member" },
      { type: "member", action: "role", user: who, role: "moderator" },
      { type: "member", action: "role", user: who, role: "member" },
      { type: "moderation", action: "mute", target: who },
      { type: "moderation", action: "read_only", target: null, on: true },
      { type: "member", action: "removed", user: who },
      { type: "moderation", action: "ban", target: who, delete_recent_posts: false },
    ];
    // From the room's memory (a join's catch-up) and from D1 alike, once copied.
    await expect
      .poll(async () => (await owner.get(`/rooms/${room.id}/changes?after_seq=0`)).body.changes, { timeout: 5_000 })
      .toMatchObject(expected);
    const changes = (await owner.get(`/rooms/${room.id}/changes?after_seq=0`)).body.changes as Array<
      Record<string, unknown>
    >;
    const seqs = changes.map((change) => change.seq as number);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    for (const change of changes) expect(JSON.stringify(change)).not.toContain(owner.username);
  });

  it("holds after an eviction, as do mutes and read-only; a joiner is told at the join what applies to them", async () => {
    const owner = await bearer("keep_owner");
    const muted = await bearer("keep_muted");
    const banned = await bearer("keep_banned");
    const plain = await bearer("keep_plain");
    await createRoom(owner, { kind: "public", name: "keep_room" });
    expect((await owner.post("/api/rooms/keep_room/mutes", { username: muted.username, seconds: 600 })).status).toBe(
      201,
    );
    expect((await owner.post("/api/rooms/keep_room/bans", { username: banned.username })).status).toBe(201);

    // Before any mode: a member nothing applies to gets no moderation push at the join.
    const quiet = await connectAndJoin(plain.user, "keep_room");
    open.push(quiet.socket);
    await quiet.socket.barrier();
    expect(quiet.socket.received("moderation")).toEqual([]);

    expect((await owner.patch("/api/rooms/keep_room", { read_only: true })).status).toBe(200);
    await evictDurableObject(roomStub("keep_room"));

    const m = await connectAndJoin(muted.user, "keep_room");
    open.push(m.socket);
    const pushed = await m.socket.waitFor((f) => f[3] === "moderation");
    // After the presence state, on the joiner's own channel.
    expect(m.socket.frames.findIndex((f) => f[3] === "presence_state")).toBeLessThan(m.socket.frames.indexOf(pushed));
    expect(pushed[0]).toBe(m.joinRef);
    expect(pushed[4]).toEqual({
      muted_until: expect.stringMatching(/Z$/),
      read_only: true,
      slow_mode_seconds: 0,
      exempt: false,
    });
    expect((await m.socket.push("room:keep_room", "new_post", post("still muted?"))).response.reason).toBe("muted");
    expect((await quiet.socket.push("room:keep_room", "new_post", post("still read-only?"))).response.reason).toBe(
      "read_only",
    );
    const b = await connect(banned.user, "keep_room");
    open.push(b);
    expect((await b.join("keep_room")).response).toEqual({ reason: "banned" });
  });
});
