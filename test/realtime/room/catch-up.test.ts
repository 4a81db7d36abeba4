/**
 * Zero-gap catch-up whatever the gap: the room answers from memory when it can (no D1 at all), reads the
 * gap from D1 when memory does not reach back far enough, and says `has_more` when there is more than a
 * join reply holds, for the client to page through over HTTP.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { User } from "../../../src/db/users";
import { CATCH_UP_LIMIT } from "../../../src/shared/room-contract";
import { closeAll, connectAndJoin, type TestSocket } from "../../helpers/socket";
import { makeUser, seedPosts } from "../../helpers/users";
import { Visitor } from "../../helpers/visitor";

const open: TestSocket[] = [];
afterEach(() => closeAll(open));

async function join(user: User, room: string, params: Record<string, unknown> = {}) {
  const result = await connectAndJoin(user, room, params);
  open.push(result.socket);
  return result.joined.response as { posts: Array<{ id: number; message: string }>; has_more: boolean };
}

describe("catch-up", () => {
  it("says has_more when more than 500 posts were missed, and HTTP paging brings the rest, none twice", async () => {
    const author = await makeUser("gap_author");
    const ids = await seedPosts(author, "big_gap", 700);
    const lastSeen = ids[49] as number;
    const reply = await join(await makeUser("gap_reader"), "big_gap", { last_seen_id: lastSeen });
    expect(reply.has_more).toBe(true);
    expect(reply.posts.map((post) => post.id)).toEqual(ids.slice(50, 50 + CATCH_UP_LIMIT));

    // Page on from the last post in the reply, as the browser client does.
    const visitor = new Visitor();
    await visitor.register("gap_pager");
    const seen = reply.posts.map((post) => post.id);
    for (;;) {
      const page = await visitor.get(`/rooms/big_gap/posts?after=${seen.at(-1)}&limit=200`);
      const { posts: more } = JSON.parse(page.html) as { posts: Array<{ id: number }> };
      seen.push(...more.map((post) => post.id));
      if (more.length < 200) break;
    }
    expect(seen).toEqual(ids.slice(50));
  });

  it("answers from memory once the room is awake: joins and short catch-ups need no D1", async () => {
    const author = await makeUser("memory_author");
    const ids = await seedPosts(author, "from_memory", 80);
    await join(await makeUser("memory_waker"), "from_memory"); // wakes the room, which reads its history once
    await env.DB.exec("ALTER TABLE posts RENAME TO posts_elsewhere");
    try {
      const plain = await join(await makeUser("memory_plain"), "from_memory");
      expect(plain).toEqual({ posts: expect.any(Array), has_more: false, seq: ids.at(-1), changes: [] });
      expect(plain.posts.map((post) => post.id)).toEqual(ids.slice(30));
      const short = await join(await makeUser("memory_short"), "from_memory", { last_seen_id: ids[69] });
      expect(short.posts.map((post) => post.id)).toEqual(ids.slice(70));
    } finally {
      await env.DB.exec("ALTER TABLE posts_elsewhere RENAME TO posts");
    }
  });

  it("reads the gap from D1 when memory does not reach back that far, and says has_more", async () => {
    const author = await makeUser("far_author");
    const ids = await seedPosts(author, "far_back", 520); // more than memory keeps
    await join(author, "far_back"); // wakes the room: memory holds the newest 500
    const reply = await join(await makeUser("far_reader"), "far_back", { last_seen_id: ids[9] });
    expect(reply.has_more).toBe(true);
    expect(reply.posts.map((post) => post.id)).toEqual(ids.slice(10, 10 + CATCH_UP_LIMIT));
  });

  it("delivers every post stored after the join reply to the joiner, in id order, even while posts pour in", async () => {
    const [writer, reader] = [await makeUser("pour_writer"), await makeUser("pour_reader")];
    const ids = await seedPosts(writer, "pouring", 600);
    const w = await connectAndJoin(writer, "pouring");
    open.push(w.socket);
    const pushes = Array.from({ length: 10 }, (_, n) =>
      w.socket.push("room:pouring", "new_post", { message: `during ${n}` }),
    );
    const r = await connectAndJoin(reader, "pouring", { last_seen_id: ids[550] });
    open.push(r.socket);
    const stored = (await Promise.all(pushes)).map((reply) => reply.response.id as number);
    await r.socket.barrier();
    const inReply = (r.joined.response.posts as Array<{ id: number }>).map((post) => post.id);
    const live = r.socket.broadcasts("new_post").map((frame) => frame[4].id as number);
    // Whatever the reply did not hold came live, nothing came both ways, and it is all in id order.
    expect([...inReply, ...live]).toEqual([...ids.slice(551), ...stored]);
  });
});
