/**
 * The post rate limit (room/rate-limit.ts), at its defaults from wrangler.toml: a bucket per user per room,
 * burst 10, 5 a second.
 */
import { evictDurableObject } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { DEFAULTS } from "../../../src/config";
import { posts } from "../../../src/db/schema";
import { closeAll, connectAndJoin, roomStub, type TestSocket } from "../../helpers/socket";
import { db, makeUser } from "../../helpers/users";

const open: TestSocket[] = [];
afterEach(() => closeAll(open));

async function stored(room: string): Promise<number> {
  return (await db.select().from(posts).where(eq(posts.room, room))).length;
}

function burstOf(socket: TestSocket, room: string, count: number) {
  return Promise.all(
    Array.from({ length: count }, (_, n) => socket.push(`room:${room}`, "new_post", { message: `burst ${n}` })),
  );
}

describe("post rate limit", () => {
  it("takes a burst of 10, then answers rate_limited with retry_after_ms, storing and broadcasting nothing", async () => {
    const user = await makeUser("flooder");
    const reader = await makeUser("flood_reader");
    const f = await connectAndJoin(user, "flood");
    const r = await connectAndJoin(reader, "flood");
    open.push(f.socket, r.socket);

    const replies = await burstOf(f.socket, "flood", 12);
    const accepted = replies.filter((reply) => reply.status === "ok");
    const limited = replies.filter((reply) => reply.status === "error");
    expect(accepted).toHaveLength(DEFAULTS.POSTS_BURST);
    expect(limited).toHaveLength(2);
    for (const reply of limited) {
      expect(reply.response).toEqual({ reason: "rate_limited", retry_after_ms: expect.any(Number) });
      expect(reply.response.retry_after_ms).toBeGreaterThan(0);
      expect(reply.response.retry_after_ms).toBeLessThanOrEqual(1000 / DEFAULTS.POSTS_PER_SECOND);
    }
    await r.socket.barrier();
    expect(r.socket.broadcasts("new_post")).toHaveLength(10);
    expect(await stored("flood")).toBe(10);

    // Another member is not slowed down by the flooder.
    expect((await r.socket.push("room:flood", "new_post", { message: "my turn" })).status).toBe("ok");
    // Waiting as told is enough.
    await new Promise((resolve) => setTimeout(resolve, Number(limited[0]?.response.retry_after_ms) + 20));
    expect((await f.socket.push("room:flood", "new_post", { message: "patient now" })).status).toBe("ok");
  });

  it("shares one bucket between a user's sockets in the room, and keeps it across an eviction", async () => {
    const user = await makeUser("two_tab_flooder");
    const tab1 = await connectAndJoin(user, "flood_tabs");
    const tab2 = await connectAndJoin(user, "flood_tabs");
    open.push(tab1.socket, tab2.socket);
    const first = await burstOf(tab1.socket, "flood_tabs", 10);
    expect(first.every((reply) => reply.status === "ok")).toBe(true);

    await evictDurableObject(roomStub("flood_tabs"));
    const other = await tab2.socket.push("room:flood_tabs", "new_post", { message: "from the other tab" });
    expect(other.response).toMatchObject({ reason: "rate_limited" });
    expect(await stored("flood_tabs")).toBe(10);
  });
});
