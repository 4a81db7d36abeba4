/**
 * The room over real WebSockets: the worker's socket endpoint, the Room Durable Object and D1, spoken to
 * in raw Phoenix V2 frames.
 */
import { and, eq } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { posts } from "../../../src/db/schema";
import type { User } from "../../../src/db/users";
import { closeAll, connect, connectAndJoin, type Frame, type TestSocket } from "../../helpers/socket";
import { db, makeUser, seedPosts } from "../../helpers/users";

const open: TestSocket[] = [];
afterEach(() => closeAll(open));

let userCount = 0;
async function member(prefix = "member"): Promise<User> {
  userCount += 1;
  return makeUser(`${prefix}${userCount}`);
}

async function joined(user: User, room: string, params: Record<string, unknown> = {}) {
  const result = await connectAndJoin(user, room, params);
  open.push(result.socket);
  return result;
}

async function storedMessages(room: string): Promise<string[]> {
  const rows = await db.select().from(posts).where(eq(posts.room, room)).orderBy(posts.id);
  return rows.map((row) => row.message);
}

describe("join", () => {
  it("replies ok with the refs echoed, as phoenix.js matches them", async () => {
    const socket = await connect(await member(), "join_refs");
    open.push(socket);
    socket.send(["7", "7", "room:join_refs", "phx_join", {}]);
    const reply = await socket.waitFor((f) => f[1] === "7");
    expect(reply).toEqual([
      "7",
      "7",
      "room:join_refs",
      "phx_reply",
      { status: "ok", response: { posts: [], has_more: false, seq: 0, changes: [], last_read_id: 0 } },
    ]);
  });

  it("refuses any topic but this socket's own room: unmatched topic", async () => {
    const socket = await connect(await member(), "own_room");
    open.push(socket);
    socket.send(["1", "1", "room:someone_else", "phx_join", {}]);
    const reply = await socket.waitFor((f) => f[1] === "1");
    expect(reply).toEqual([
      null,
      "1",
      "room:someone_else",
      "phx_reply",
      { status: "error", response: { reason: "unmatched topic" } },
    ]);
    socket.send(["2", "2", "lobby", "phx_join", {}]);
    expect((await socket.waitFor((f) => f[1] === "2"))[4]).toEqual({
      status: "error",
      response: { reason: "unmatched topic" },
    });
  });

  it.each([
    [{ mentions_only: "yes" }, { mentions_only: "must be true or false" }],
    [{ last_seen_id: -1 }, { last_seen_id: "must be a non-negative integer" }],
    [{ last_seen_id: "5" }, { last_seen_id: "must be a non-negative integer" }],
    [{ last_seen_id: 1.5 }, { last_seen_id: "must be a non-negative integer" }],
    [{ last_seen_seq: -1 }, { last_seen_seq: "must be a non-negative integer" }],
    [{ last_seen_seq: "5", last_seen_id: 2 }, { last_seen_seq: "must be a non-negative integer" }],
    [
      { mentions_only: 1, last_seen_id: {} },
      { mentions_only: "must be true or false", last_seen_id: "must be a non-negative integer" },
    ],
  ])("refuses join params %j with reason invalid and the errors per field", async (params, errors) => {
    const socket = await connect(await member(), "bad_params");
    open.push(socket);
    const reply = await socket.join("bad_params", params);
    expect(reply.status).toBe("error");
    expect(reply.response).toEqual({ reason: "invalid", errors });
    // Not joined: a push is unmatched.
    expect((await socket.push("room:bad_params", "new_post", { message: "hi" })).response).toEqual({
      reason: "unmatched topic",
    });
  });

  it("answers pushes before a join with unmatched topic", async () => {
    const socket = await connect(await member(), "early");
    open.push(socket);
    const reply = await socket.push("room:early", "new_post", { message: "too soon" });
    expect(reply.frame[0]).toBeNull();
    expect(reply.response).toEqual({ reason: "unmatched topic" });
    expect(await storedMessages("early")).toEqual([]);
  });
});

describe("new_post", () => {
  it("stores the post, replies with it, and broadcasts it to every member including the sender", async () => {
    const [alice, bob, carol] = [await member("alice"), await member("bob"), await member("carol")];
    const a = (await joined(alice, "chat3")).socket;
    const b = (await joined(bob, "chat3")).socket;
    const c = (await joined(carol, "chat3")).socket;

    const reply = await a.push("room:chat3", "new_post", { message: "  hello, room  " }, "1");
    expect(reply.status).toBe("ok");
    const post = reply.response;
    expect(post).toEqual({
      id: expect.any(Number),
      message: "hello, room",
      inserted_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      user: { id: alice.id, username: alice.username },
    });
    expect(await storedMessages("chat3")).toEqual(["hello, room"]);

    for (const socket of [a, b, c]) {
      const frame = await socket.waitFor((f) => f[3] === "new_post");
      expect(frame).toEqual([null, null, "room:chat3", "new_post", post]);
    }
  });

  it("delivers posts to every member in id order, even when pushed concurrently", async () => {
    const [alice, bob] = [await member(), await member()];
    const a = (await joined(alice, "ordered")).socket;
    const b = (await joined(bob, "ordered")).socket;
    await Promise.all([
      ...Array.from({ length: 10 }, (_, n) => a.push("room:ordered", "new_post", { message: `a${n}` })),
      ...Array.from({ length: 10 }, (_, n) => b.push("room:ordered", "new_post", { message: `b${n}` })),
    ]);
    await a.barrier();
    await b.barrier();
    for (const socket of [a, b]) {
      const ids = socket.broadcasts("new_post").map((f) => f[4].id as number);
      expect(ids).toHaveLength(20);
      expect(ids).toEqual([...ids].sort((x, y) => x - y));
    }
  });

  it("processes a push without a ref but sends no reply", async () => {
    const a = (await joined(await member(), "noref")).socket;
    a.send([null, null, "room:noref", "new_post", { message: "fire and forget" }]);
    await a.waitFor((f) => f[3] === "new_post");
    expect(a.frames.filter((f) => f[3] === "phx_reply" && f[1] === null)).toEqual([]);
    // Nobody waits for its copy to D1 (it has no reply): it gets there with the room's next copy.
    let stored = await storedMessages("noref");
    for (const deadline = Date.now() + 5_000; stored.length === 0 && Date.now() < deadline; ) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      stored = await storedMessages("noref");
    }
    expect(stored).toEqual(["fire and forget"]);
  });

  it.each([
    ["empty", { message: "" }, "can't be blank"],
    ["whitespace only", { message: " \n\t " }, "can't be blank"],
    ["missing", {}, "can't be blank"],
    ["a number", { message: 42 }, "must be a string"],
    ["2001 characters", { message: "x".repeat(2001) }, "is too long (2001 characters, at most 2000)"],
    ["2001 emoji", { message: "🔥".repeat(2001) }, "is too long (2001 characters, at most 2000)"],
  ])("refuses a message that is %s: invalid, nothing stored or broadcast", async (_, payload, error) => {
    const room = `invalid_${userCount}`;
    const a = (await joined(await member(), room)).socket;
    const b = (await joined(await member(), room)).socket;
    const reply = await a.push(`room:${room}`, "new_post", payload);
    expect(reply.status).toBe("error");
    expect(reply.response).toEqual({ reason: "invalid", errors: { message: error } });
    await b.barrier();
    expect(b.broadcasts("new_post")).toEqual([]);
    expect(await storedMessages(room)).toEqual([]);
  });

  it("accepts exactly 2000 characters, counted in code points after trimming", async () => {
    const a = (await joined(await member(), "limit")).socket;
    const emoji = "🔥".repeat(2000); // 4000 UTF-16 units, 2000 characters
    expect((await a.push("room:limit", "new_post", { message: `  ${emoji}\n` })).status).toBe("ok");
    expect((await a.push("room:limit", "new_post", { message: "y".repeat(2000) })).status).toBe("ok");
    expect((await storedMessages("limit")).map((m) => [...m].length)).toEqual([2000, 2000]);
  });

  it("answers an unknown event with its name", async () => {
    const a = (await joined(await member(), "unknown")).socket;
    const reply = await a.push("room:unknown", "delete_everything", {});
    expect(reply.response).toEqual({ reason: "unknown event", event: "delete_everything" });
  });
});

describe("mentions only (intercept / handle_out)", () => {
  it("pushes a mentions-only member just the posts that @mention them; others get everything", async () => {
    const poster = await member("poster");
    const watcher = await makeUser("Watcher");
    const everyone = await member("everyone");
    const p = (await joined(poster, "mentions")).socket;
    const { socket: w, joinRef: watcherJoin } = await joined(watcher, "mentions", { mentions_only: true });
    const e = (await joined(everyone, "mentions")).socket;

    const messages = [
      "nothing to see",
      "hey @watcher, look", // case-insensitive
      "@Watcher_2 is someone else",
      "mail watcher@example.com",
      "(@WATCHER)",
    ];
    for (const message of messages) {
      expect((await p.push("room:mentions", "new_post", { message })).status).toBe("ok");
    }
    await w.barrier();
    await e.barrier();
    // What passes the filter is a push from the watcher's own channel, carrying its join_ref (as in Phoenix).
    expect(w.received("new_post").map((f) => f[4].message)).toEqual(["hey @watcher, look", "(@WATCHER)"]);
    expect(w.received("new_post").every((f) => f[0] === watcherJoin)).toBe(true);
    expect(e.broadcasts("new_post").map((f) => f[4].message)).toEqual(messages);
    expect(e.received("new_post")).toHaveLength(messages.length);
  });

  it("filters the sender's own broadcast too, but still replies to it", async () => {
    const quiet = await makeUser("quiet_one");
    const q = (await joined(quiet, "self_filter", { mentions_only: true })).socket;
    const reply = await q.push("room:self_filter", "new_post", { message: "talking to myself" });
    expect(reply.status).toBe("ok");
    const mention = await q.push("room:self_filter", "new_post", { message: "note to @quiet_one" });
    await q.barrier();
    expect(q.received("new_post").map((f) => f[4].id)).toEqual([mention.response.id]);
  });

  it("does not filter the join reply's history", async () => {
    const author = await member();
    const a = (await joined(author, "history_unfiltered")).socket;
    await a.push("room:history_unfiltered", "new_post", { message: "for everyone" });
    const reader = await member();
    const { joined: reply } = await joined(reader, "history_unfiltered", { mentions_only: true });
    expect((reply.response.posts as Array<{ message: string }>).map((p) => p.message)).toEqual(["for everyone"]);
  });
});

describe("history and catch-up", () => {
  it("replies to a plain join with the 50 most recent posts, oldest first", async () => {
    const author = await member();
    const ids = await seedPosts(author, "recent", 60);
    const { joined: reply } = await joined(await member(), "recent");
    const got = reply.response.posts as Array<{ id: number; message: string; user: unknown; inserted_at: string }>;
    expect(got.map((p) => p.id)).toEqual(ids.slice(10));
    expect(got[0]).toEqual({
      id: ids[10],
      message: "seed 11",
      inserted_at: expect.any(String),
      user: { id: author.id, username: author.username },
    });
  });

  it("replies to last_seen_id with the posts after it (exclusive), up to 500", async () => {
    const ids = await seedPosts(await member(), "catchup", 510);
    const lastSeen = ids[4] as number;
    const { joined: reply } = await joined(await member(), "catchup", { last_seen_id: lastSeen });
    const got = (reply.response.posts as Array<{ id: number }>).map((p) => p.id);
    expect(got).toEqual(ids.slice(5, 505));

    const { joined: latest } = await joined(await member(), "catchup", { last_seen_id: ids.at(-1) });
    expect(latest.response.posts).toEqual([]);

    const { joined: fromZero } = await joined(await member(), "catchup", { last_seen_id: 0 });
    expect((fromZero.response.posts as unknown[]).length).toBe(500);
  });

  it("only ever returns the room's own posts", async () => {
    await seedPosts(await member(), "room_a", 3);
    await seedPosts(await member(), "room_b", 2);
    const { joined: reply } = await joined(await member(), "room_b", { last_seen_id: 0 });
    expect((reply.response.posts as unknown[]).length).toBe(2);
  });

  it("misses nothing posted while a member was away", async () => {
    const [stayer, leaver] = [await member(), await member()];
    const s = (await joined(stayer, "away")).socket;
    const first = await joined(leaver, "away");
    await s.push("room:away", "new_post", { message: "before" });
    const before = await first.socket.waitFor((f) => f[3] === "new_post");
    first.socket.close();
    await s.push("room:away", "new_post", { message: "while away 1" });
    await s.push("room:away", "new_post", { message: "while away 2" });
    const { joined: back } = await joined(leaver, "away", { last_seen_id: before[4].id });
    expect((back.response.posts as Array<{ message: string }>).map((p) => p.message)).toEqual([
      "while away 1",
      "while away 2",
    ]);
  });
});

describe("socket-level protocol", () => {
  it("answers heartbeats on topic phoenix, joined or not", async () => {
    const socket = await connect(await member(), "hb");
    open.push(socket);
    socket.send([null, "9", "phoenix", "heartbeat", {}]);
    expect(await socket.waitFor((f) => f[1] === "9")).toEqual([
      null,
      "9",
      "phoenix",
      "phx_reply",
      { status: "ok", response: {} },
    ]);
  });

  it("leaves: replies ok, then phx_close with the join ref, and stops broadcasts", async () => {
    const [stayer, leaver] = [await member(), await member()];
    const s = (await joined(stayer, "leaving")).socket;
    const { socket: l, joinRef } = await joined(leaver, "leaving");
    const leave = await l.push("room:leaving", "phx_leave", {}, joinRef);
    expect(leave.frame).toEqual([joinRef, leave.frame[1], "room:leaving", "phx_reply", { status: "ok", response: {} }]);
    const close = await l.waitFor((f) => f[3] === "phx_close");
    expect(close).toEqual([joinRef, joinRef, "room:leaving", "phx_close", {}]);
    expect(l.frames.indexOf(close)).toBeGreaterThan(l.frames.indexOf(leave.frame));

    await s.push("room:leaving", "new_post", { message: "after you left" });
    await l.barrier();
    expect(l.broadcasts("new_post")).toEqual([]);
    expect((await l.push("room:leaving", "new_post", { message: "still here?" })).response).toEqual({
      reason: "unmatched topic",
    });
  });

  it("answers a leave when not joined with ok and nothing else", async () => {
    const socket = await connect(await member(), "leave_unjoined");
    open.push(socket);
    const reply = await socket.push("room:leave_unjoined", "phx_leave", {});
    expect(reply.status).toBe("ok");
    await socket.barrier();
    expect(socket.frames.filter((f) => f[3] === "phx_close")).toEqual([]);
  });

  it("on a second join, closes the first with phx_close and then joins anew (Phoenix's rule)", async () => {
    const watcher = await makeUser("rejoiner");
    const poster = await member();
    const p = (await joined(poster, "double")).socket;
    const { socket: w, joinRef: first } = await joined(watcher, "double");
    const second = await w.join("double", { mentions_only: true });
    expect(second.status).toBe("ok");
    const close = await w.waitFor((f) => f[3] === "phx_close");
    expect(close).toEqual([first, first, "room:double", "phx_close", {}]);
    expect(w.frames.indexOf(close)).toBeLessThan(w.frames.indexOf(second.frame));

    // One membership, with the new join's params: one copy of a mention, none of the rest.
    await p.push("room:double", "new_post", { message: "not for you" });
    await p.push("room:double", "new_post", { message: "@rejoiner hi" });
    await w.barrier();
    expect(w.received("new_post").map((f) => f[4].message)).toEqual(["@rejoiner hi"]);
  });

  it("closes the socket with 1007 when a join carries no ref at all", async () => {
    const socket = await connect(await member(), "noref_join");
    socket.send([null, null, "room:noref_join", "phx_join", {}]);
    expect((await socket.closed).code).toBe(1007);
  });
});

describe("bad frames never hurt the room or other members", () => {
  async function roomWithWitness(room: string) {
    const witness = (await joined(await member(), room)).socket;
    return {
      witness,
      async stillWorks() {
        const reply = await witness.push(`room:${room}`, "new_post", { message: "still alive" });
        expect(reply.status).toBe("ok");
        await witness.waitFor((f: Frame) => f[3] === "new_post" && f[4].id === reply.response.id);
      },
    };
  }

  it.each([
    ["a string payload", '[null,"5","room:bad_types","new_post","hello"]', "payload must be a JSON object"],
    ["a numeric topic", '[null,"5",3,"new_post",{}]', "topic must be a non-empty string"],
    [
      "a join_ref of 300 characters of JSON",
      `[{"k":"${"x".repeat(300)}"},"5","room:bad_types","new_post",{}]`,
      "join_ref must be at most 255 characters of JSON",
    ],
    // Too long to keep in the socket's attachment (16 KiB at most) or to carry in a binary frame.
    [
      "a join_ref of 20,000 characters",
      `["${"j".repeat(20_000)}","5","room:bad_types","phx_join",{}]`,
      "join_ref must be at most 255 characters",
    ],
  ])("answers a frame with %s with a malformed-frame error and keeps the socket", async (_, raw, detail) => {
    const { stillWorks } = await roomWithWitness("bad_types");
    const { socket } = await joined(await member(), "bad_types");
    socket.sendRaw(raw);
    const reply = await socket.waitFor((f) => f[1] === "5");
    expect(reply[3]).toBe("phx_reply");
    expect(reply[4]).toEqual({ status: "error", response: { reason: "malformed frame", detail } });
    await socket.barrier();
    await stillWorks();
  });

  it.each([
    ["text that is not JSON", "hello?"],
    ["a JSON object", '{"event":"new_post"}'],
    ["a 3-array", '["1","2","room:undecodable"]'],
    ["a frame without a ref and with bad types", '[null,null,"room:undecodable",1,2]'],
  ])("closes a socket that sends %s with 1007, and only that socket", async (_, raw) => {
    const { stillWorks } = await roomWithWitness("undecodable");
    const { socket } = await joined(await member(), "undecodable");
    socket.sendRaw(raw);
    const closed = await socket.closed;
    expect(closed.code).toBe(1007);
    expect(closed.reason.length).toBeGreaterThan(0);
    await stillWorks();
  });

  it("closes a socket that sends a binary frame with 1007", async () => {
    const { stillWorks } = await roomWithWitness("binary");
    const { socket } = await joined(await member(), "binary");
    socket.sendRaw(new Uint8Array([1, 2, 3]).buffer);
    expect((await socket.closed).code).toBe(1007);
    await stillWorks();
  });

  it("closes a socket that sends more than 64 KiB with 1009, storing nothing", async () => {
    const { witness, stillWorks } = await roomWithWitness("oversize");
    const { socket } = await joined(await member(), "oversize");
    socket.send([null, "5", "room:oversize", "new_post", { message: "x".repeat(64 * 1024) }]);
    expect((await socket.closed).code).toBe(1009);
    await stillWorks();
    expect(await storedMessages("oversize")).toEqual(["still alive"]);
    expect(witness.broadcasts("new_post")).toHaveLength(1);
  });

  it("counts the limit in UTF-8 bytes: 30,000 euro signs are 90,000 bytes, closed with 1009", async () => {
    const { stillWorks } = await roomWithWitness("utf8_size");
    const { socket } = await joined(await member(), "utf8_size");
    const frame = JSON.stringify([null, "5", "room:utf8_size", "new_post", { message: "€".repeat(30_000) }]);
    expect(frame.length).toBeLessThan(64 * 1024); // under the limit in UTF-16 units
    socket.sendRaw(frame);
    expect((await socket.closed).code).toBe(1009);
    await stillWorks();
  });

  it("accepts a frame of exactly 64 KiB", async () => {
    const { socket } = await joined(await member(), "under_limit");
    // 2000 four-byte characters fit easily; pad with a large ignored field up to just below the limit.
    const frame: Frame = [null, "5", "room:under_limit", "new_post", { message: "ok", pad: "" }];
    const overhead = new TextEncoder().encode(JSON.stringify(frame)).byteLength;
    frame[4].pad = "p".repeat(64 * 1024 - overhead);
    expect(new TextEncoder().encode(JSON.stringify(frame)).byteLength).toBe(64 * 1024);
    socket.send(frame);
    expect((await socket.waitFor((f) => f[1] === "5"))[4]).toMatchObject({ status: "ok" });
  });
});

describe("persistence", () => {
  it("stores exactly what was acknowledged, with the author", async () => {
    const author = await member();
    const a = (await joined(author, "persisted")).socket;
    const reply = await a.push("room:persisted", "new_post", { message: "kept" });
    const row = await db.query.posts.findFirst({
      where: and(eq(posts.room, "persisted"), eq(posts.seq, reply.response.id as number)),
    });
    expect(row).toMatchObject({ message: "kept", userId: author.id });
    expect(row?.insertedAt.toISOString()).toBe(reply.response.inserted_at);
  });
});
