/**
 * Abuse limits, at their defaults from wrangler.toml: a post bucket per user per room (burst 10, 5 a
 * second) and at most 10 concurrent sockets per user across all rooms.
 */
import { evictDurableObject } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { DEFAULTS } from "../../../src/config";
import { posts } from "../../../src/db/schema";
import { closeAll, connect, connectAndJoin, roomStub, type TestSocket, upgrade } from "../../helpers/socket";
import { db, makeUser, tokenFor } from "../../helpers/users";

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

describe("sockets per user", () => {
  it("refuses the 11th socket, across rooms, with 429 and a message; closing one frees a place at once", async () => {
    const user = await makeUser("many_tabs");
    const sockets: TestSocket[] = [];
    for (let n = 0; n < DEFAULTS.SOCKETS_PER_USER; n++) sockets.push(await connect(user, `tabs_${n % 3}`));
    open.push(...sockets);

    const refused = await upgrade({ room: "tabs_other", token: await tokenFor(user) });
    expect(refused.status).toBe(429);
    expect(await refused.text()).toBe(
      "Too many open sockets: at most 10 per user across all rooms. Close a tab or another app's connection, then try again.",
    );
    // Somebody else is not affected.
    open.push(await connect(await makeUser("few_tabs"), "tabs_other"));

    const [first] = sockets;
    first?.close();
    await first?.closed;
    open.push(await connect(user, "tabs_other"));
  });

  it("counts a socket the room refused or dropped as gone", async () => {
    const user = await makeUser("dropped_tabs");
    const sockets: TestSocket[] = [];
    for (let n = 0; n < DEFAULTS.SOCKETS_PER_USER; n++) sockets.push(await connect(user, "dropping"));
    open.push(...sockets);
    const [bad] = sockets;
    bad?.sendRaw("not json"); // the room closes this one with 1007
    expect((await bad?.closed)?.code).toBe(1007);
    await expect
      .poll(async () => (await upgrade({ room: "dropping", token: await tokenFor(user) })).status, { timeout: 3_000 })
      .toBe(101);
  });
});
