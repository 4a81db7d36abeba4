/**
 * `client_id` makes a push idempotent, per user and room, enforced by databases, not memory: the room's
 * own SQLite log (its first store) and D1's unique index. A retry answers ok with the original post and
 * broadcasts nothing new, even after a reconnect or an eviction.
 */
import { evictDurableObject } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { posts } from "../../../src/db/schema";
import { closeAll, connectAndJoin, roomStub, type TestSocket } from "../../helpers/socket";
import { db, makeUser } from "../../helpers/users";

const open: TestSocket[] = [];
afterEach(() => closeAll(open));

async function rowsIn(room: string) {
  return db.select().from(posts).where(eq(posts.room, room));
}

describe("client_id", () => {
  it("stores a retried push once, answers the retry with the original post and broadcasts it once", async () => {
    const writer = await makeUser("retrier");
    const reader = await makeUser("retry_reader");
    const w = await connectAndJoin(writer, "retry_room");
    const r = await connectAndJoin(reader, "retry_room");
    open.push(w.socket, r.socket);
    const clientId = "3f1c2a9e-6b3d-4a57-9d1e-0c2b8e7f4a10";

    const first = await w.socket.push("room:retry_room", "new_post", { message: "only once", client_id: clientId });
    const again = await w.socket.push("room:retry_room", "new_post", { message: "only once", client_id: clientId });
    expect(first.status).toBe("ok");
    expect(again).toMatchObject({ status: "ok", response: first.response });
    await r.socket.barrier();
    expect(r.socket.broadcasts("new_post").map((f) => f[4])).toEqual([first.response]);
    const rows = await rowsIn("retry_room");
    expect(rows).toHaveLength(1);
    expect(rows[0]?.clientId).toBe(clientId);
  });

  it("finds the original after a reconnect and an eviction: the database remembers, not the room", async () => {
    const writer = await makeUser("reconnector");
    const first = await connectAndJoin(writer, "retry_later");
    const sent = await first.socket.push("room:retry_later", "new_post", {
      message: "typed offline",
      client_id: "abc-1",
    });
    first.socket.close();
    await first.socket.closed;
    await evictDurableObject(roomStub("retry_later"));

    const second = await connectAndJoin(writer, "retry_later", { last_seen_id: 0 });
    open.push(second.socket);
    const retried = await second.socket.push("room:retry_later", "new_post", {
      message: "typed offline",
      client_id: "abc-1",
    });
    expect(retried.response).toEqual(sent.response);
    await second.socket.barrier();
    expect(second.socket.broadcasts("new_post")).toEqual([]);
    expect(await rowsIn("retry_later")).toHaveLength(1);
  });

  it("lets another user use the same client_id for their own post", async () => {
    const [one, two] = [await makeUser("cid_one"), await makeUser("cid_two")];
    const a = await connectAndJoin(one, "cid_shared");
    const b = await connectAndJoin(two, "cid_shared");
    open.push(a.socket, b.socket);
    const first = await a.socket.push("room:cid_shared", "new_post", { message: "mine", client_id: "same" });
    const second = await b.socket.push("room:cid_shared", "new_post", { message: "mine too", client_id: "same" });
    expect(first.status).toBe("ok");
    expect(second.status).toBe("ok");
    expect(second.response.id).not.toBe(first.response.id);
    expect(await rowsIn("cid_shared")).toHaveLength(2);
  });

  it("keeps client_ids apart per room: a retry goes to the room it was meant for", async () => {
    const user = await makeUser("cid_roamer");
    const a = await connectAndJoin(user, "cid_room_a");
    const b = await connectAndJoin(user, "cid_room_b");
    open.push(a.socket, b.socket);
    const here = await a.socket.push("room:cid_room_a", "new_post", { message: "here", client_id: "roam-1" });
    const there = await b.socket.push("room:cid_room_b", "new_post", { message: "there", client_id: "roam-1" });
    expect(here.response).toMatchObject({ message: "here" });
    expect(there.response).toMatchObject({ message: "there" });
    expect(await rowsIn("cid_room_a")).toHaveLength(1);
    expect(await rowsIn("cid_room_b")).toHaveLength(1);
  });

  it.each([
    ["empty", ""],
    ["65 characters", "a".repeat(65)],
    ["a space", "has space"],
    ["an underscore", "under_score"],
    ["unicode", "idé"],
    ["a number", 42],
    ["an object", { id: 1 }],
  ])("refuses a client_id that is %s with invalid naming client_id, storing nothing", async (_, clientId) => {
    const user = await makeUser(`cid_bad_${Math.random().toString(36).slice(2, 8)}`);
    const room = `cid_bad_${user.id}`;
    const { socket } = await connectAndJoin(user, room);
    open.push(socket);
    const reply = await socket.push(`room:${room}`, "new_post", { message: "hello", client_id: clientId });
    expect(reply.response).toEqual({
      reason: "invalid",
      errors: { client_id: "must be 1 to 64 of A-Z, a-z, 0-9 and -" },
    });
    expect(await rowsIn(room)).toEqual([]);
  });
});
