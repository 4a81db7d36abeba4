/**
 * Faults survived with nothing lost: D1 failing on insert, and a room evicted under its members. D1's
 * failure is real: a trigger that aborts the insert, in the test's own database. (D1 slow on insert is in
 * post-writer.test.ts: local D1 runs on the same thread as the room, so a slow query here would stop the
 * room's clock too, which production's remote D1 never does.)
 */
import { evictDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { posts } from "../../src/db/schema";
import { closeAll, connectAndJoin, roomStub, type TestSocket } from "../helpers/socket";
import { db, makeUser } from "../helpers/users";

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

describe("D1 failing on insert", () => {
  it("answers unavailable, broadcasts nothing, and a retry with the same client_id once D1 is back stores one post", async () => {
    const { writer, reader } = await joinedPair("failing_d1");
    await env.DB.exec(
      "CREATE TRIGGER fail_post_inserts BEFORE INSERT ON posts BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
    );
    const failed = await writer.push("room:failing_d1", "new_post", { message: "lost?", client_id: "retry-me" });
    expect(failed.response).toEqual({ reason: "unavailable" });
    await reader.barrier();
    expect(reader.broadcasts("new_post")).toEqual([]);
    expect(await rows("failing_d1")).toEqual([]);

    await env.DB.exec("DROP TRIGGER fail_post_inserts");
    const retried = await writer.push("room:failing_d1", "new_post", { message: "lost?", client_id: "retry-me" });
    expect(retried.status).toBe("ok");
    const again = await writer.push("room:failing_d1", "new_post", { message: "lost?", client_id: "retry-me" });
    expect(again.response).toEqual(retried.response);
    await reader.barrier();
    expect(reader.broadcasts("new_post").map((f) => f[4])).toEqual([retried.response]);
    expect(await rows("failing_d1")).toHaveLength(1);
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
    // Presence: a newcomer is told of both who were there before the eviction.
    const n = await connectAndJoin(late, "evicted");
    open.push(n.socket);
    const state = (await n.socket.waitFor((f) => f[3] === "presence_state"))[4];
    expect(Object.keys(state).sort()).toEqual([String(loud.id), String(quiet.id), ...[]].sort());
  });
});
