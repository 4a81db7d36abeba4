/**
 * Faults survived with nothing lost: D1 failing, and a room evicted under its members. D1's failures are
 * real: a trigger that aborts inserts, or a table renamed away, in the test's own database. (D1 slow is in
 * post-log.test.ts: local D1 runs on the room's own thread, so slow SQL here would stop the room's clock
 * too, which production's remote D1 never does.)
 */
import { evictDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { posts } from "../../../src/db/schema";
import { closeAll, connect, connectAndJoin, roomStub, type TestSocket } from "../../helpers/socket";
import { db, makeUser } from "../../helpers/users";

const open: TestSocket[] = [];
afterEach(async () => {
  await closeAll(open);
  await env.DB.exec("DROP TRIGGER IF EXISTS fail_post_inserts");
});

async function rows(room: string) {
  return db.select().from(posts).where(eq(posts.room, room)).orderBy(posts.id);
}

async function joinedPair(room: string) {
  const writer = await connectAndJoin(await makeUser(`${room}_w`), room);
  const reader = await connectAndJoin(await makeUser(`${room}_r`), room);
  open.push(writer.socket, reader.socket);
  return { writer: writer.socket, reader: reader.socket };
}

describe("D1 failing", () => {
  it("keeps the post in the room and shows it at once; answers unavailable until D1 has it; a retry then gets it", async () => {
    const { writer, reader } = await joinedPair("failing_d1");
    await env.DB.exec(
      "CREATE TRIGGER fail_post_inserts BEFORE INSERT ON posts BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
    );
    const failed = await writer.push("room:failing_d1", "new_post", { message: "kept?", client_id: "retry-me" });
    expect(failed.response).toEqual({ reason: "unavailable" });
    // Stored durably in the room, so already shown to everyone, in order; just not acknowledged yet.
    const shown = await reader.waitFor((f) => f[3] === "new_post");
    expect(shown[4]).toMatchObject({ message: "kept?" });
    expect(await rows("failing_d1")).toEqual([]);

    await env.DB.exec("DROP TRIGGER fail_post_inserts");
    const retried = await writer.push("room:failing_d1", "new_post", { message: "kept?", client_id: "retry-me" });
    expect(retried.status).toBe("ok");
    expect(retried.response).toEqual(shown[4]);
    await reader.barrier();
    expect(reader.broadcasts("new_post")).toHaveLength(1);
    expect((await rows("failing_d1")).map((row) => [row.seq, row.clientId])).toEqual([[shown[4].id, "retry-me"]]);
  });

  it("answers heartbeats without touching storage, even with D1 failing", async () => {
    const { writer: socket } = await joinedPair("heartbeat_no_db");
    await env.DB.exec("ALTER TABLE posts RENAME TO posts_elsewhere");
    await env.DB.exec("ALTER TABLE users RENAME TO users_elsewhere");
    try {
      await socket.barrier(); // a heartbeat and its ok reply
      await socket.barrier();
    } finally {
      await env.DB.exec("ALTER TABLE posts_elsewhere RENAME TO posts");
      await env.DB.exec("ALTER TABLE users_elsewhere RENAME TO users");
    }
  });

  it("answers a join that needs D1 (a room that has never logged a post) with `unavailable`, socket usable", async () => {
    const socket = await connect(await makeUser("history_down"), "history_down");
    open.push(socket);
    await env.DB.exec("ALTER TABLE posts RENAME TO posts_elsewhere");
    try {
      const refused = await socket.join("history_down");
      expect(refused.status).toBe("error");
      expect(refused.response).toEqual({ reason: "unavailable" });
    } finally {
      await env.DB.exec("ALTER TABLE posts_elsewhere RENAME TO posts");
    }
    const retried = await socket.join("history_down");
    expect(retried.status).toBe("ok");
  });
});

describe("a room evicted under its members", () => {
  it("keeps members, joins, filters, presence and rate limits, and serves everyone as before", async () => {
    const [loud, quiet, late] = [
      await makeUser("evict_loud"),
      await makeUser("evict_quiet"),
      await makeUser("evict_late"),
    ];
    const l = await connectAndJoin(loud, "evicted");
    const q = await connectAndJoin(quiet, "evicted", { mentions_only: true });
    open.push(l.socket, q.socket);
    const burst = await Promise.all(
      Array.from({ length: 10 }, (_, n) => l.socket.push("room:evicted", "new_post", { message: `burst ${n}` })),
    );
    expect(burst.every((reply) => reply.status === "ok")).toBe(true);

    await evictDurableObject(roomStub("evicted"));

    // Rate limit: the bucket the flood emptied is still empty.
    expect((await l.socket.push("room:evicted", "new_post", { message: "one more" })).response).toMatchObject({
      reason: "rate_limited",
    });
    // Filter and join: the quiet member still gets only mentions, as a push of its own join.
    const mention = await q.socket.push("room:evicted", "new_post", { message: "@evict_quiet here" }, q.joinRef);
    expect(mention.status).toBe("ok");
    await q.socket.barrier();
    expect(q.socket.received("new_post").map((f) => [f[0], f[4].message])).toEqual([[q.joinRef, "@evict_quiet here"]]);
    // Presence: a newcomer is told of both who were there before the eviction (and of itself).
    const n = await connectAndJoin(late, "evicted");
    open.push(n.socket);
    const state = (await n.socket.waitFor((f) => f[3] === "presence_state"))[4];
    expect(Object.keys(state).sort()).toEqual([String(loud.id), String(quiet.id), String(late.id)].sort());
  });
});
