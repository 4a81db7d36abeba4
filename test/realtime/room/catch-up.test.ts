/**
 * Zero-gap catch-up whatever the gap: the room answers from memory when it can (no D1 at all), reads the
 * gap from D1 when memory does not reach back far enough, and says `has_more` when there is more than a
 * join reply holds, for the client to page through over HTTP. Edits and deletions made while a member was
 * away reach it the same ways, so its view ends as the room's.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { User } from "../../../src/db/users";
import type { Post } from "../../../src/shared/post";
import { CATCH_UP_LIMIT, type Change, type JoinResponse } from "../../../src/shared/room-contract";
import { closeAll, connectAndJoin, type TestSocket } from "../../helpers/socket";
import { makeUser, seedPosts } from "../../helpers/users";
import { Visitor } from "../../helpers/visitor";

const open: TestSocket[] = [];
afterEach(() => closeAll(open));

async function join(user: User, room: string, params: Record<string, unknown> = {}) {
  const result = await connectAndJoin(user, room, params);
  open.push(result.socket);
  return result.joined.response as {
    posts: Array<{ id: number; message: string }>;
    has_more: boolean;
    seq: number;
    changes?: Change[];
  };
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
      expect(plain).toEqual({
        posts: expect.any(Array),
        has_more: false,
        seq: ids.at(-1),
        changes: [],
        last_read_id: ids.at(-1),
      });
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

  it("brings edits and deletions made while away from memory (no D1), with last_seen_seq or last_seen_id", async () => {
    const [writer, reader] = [await makeUser("away_writer"), await makeUser("away_reader")];
    const w = await connectAndJoin(writer, "away_edits");
    open.push(w.socket);
    const ids: number[] = [];
    for (const n of [1, 2, 3, 4])
      ids.push((await w.socket.push("room:away_edits", "new_post", { message: `p${n}` })).response.id as number);
    const r = await connectAndJoin(reader, "away_edits");
    const view = new View();
    view.joined(r.joined.response as unknown as JoinResponse);
    r.socket.close();
    await r.socket.closed;

    const topic = "room:away_edits";
    await w.socket.push(topic, "edit_post", { id: ids[1], message: "p2, edited" });
    await w.socket.push(topic, "delete_post", { id: ids[2] });
    await w.socket.push(topic, "edit_post", { id: ids[1], message: "p2, edited twice" });
    const later = (await w.socket.push(topic, "new_post", { message: "p5" })).response.id as number;
    await w.socket.push(topic, "edit_post", { id: later, message: "p5, edited" });

    await env.DB.exec("ALTER TABLE posts RENAME TO posts_elsewhere");
    await env.DB.exec("ALTER TABLE changes RENAME TO changes_elsewhere");
    try {
      const left = view.seq;
      const back = await join(reader, "away_edits", { last_seen_seq: left });
      // The new post as it is now; each older post's latest change once; the room's seq.
      expect(back.posts.map((post) => [post.id, post.message])).toEqual([[later, "p5, edited"]]);
      expect((back.changes ?? []).map((change) => [change.type, change.post?.id, change.post?.message])).toEqual([
        ["delete", ids[2], ""],
        ["edit", ids[1], "p2, edited twice"],
      ]);
      view.joined(back as unknown as JoinResponse);
      const fresh = await join(await makeUser("away_fresh"), "away_edits");
      expect(view.posts()).toEqual(fresh.posts);
      // An older client's last_seen_id is a seq too: the same reply.
      expect(await join(reader, "away_edits", { last_seen_id: left })).toEqual(back);
    } finally {
      await env.DB.exec("ALTER TABLE posts_elsewhere RENAME TO posts");
      await env.DB.exec("ALTER TABLE changes_elsewhere RENAME TO changes");
    }
  });

  it("brings edits and deletions from further back than memory over GET /rooms/ROOM/changes, read from D1 and the log", async () => {
    const [writer, reader] = [await makeUser("far_edit_writer"), await makeUser("far_edit_reader")];
    const ids = await seedPosts(writer, "far_edits", 520);
    const w = await connectAndJoin(writer, "far_edits");
    open.push(w.socket);
    const topic = "room:far_edits";
    // The reader saw the first 10 posts and left; then an old post is edited and a recent one deleted.
    await w.socket.push(topic, "edit_post", { id: ids[4], message: "an old one, edited" }); // older than memory
    await w.socket.push(topic, "delete_post", { id: ids[515] });
    const reply = await join(reader, "far_edits", { last_seen_seq: ids[9] });
    expect([reply.has_more, reply.seq, reply.posts.length]).toEqual([true, ids[9], CATCH_UP_LIMIT]);

    const visitor = new Visitor();
    await visitor.register("far_edit_pager");
    const seen: Change[] = [];
    let after = reply.seq;
    for (;;) {
      const page = JSON.parse((await visitor.get(`/rooms/far_edits/changes?after_seq=${after}&limit=200`)).html) as {
        changes: Change[];
        has_more: boolean;
      };
      seen.push(...page.changes);
      after = page.changes.at(-1)?.seq ?? after;
      if (!page.has_more) break;
    }
    // Every change after the reader's seq, once each, in order: the posts, the edit of an older one, the deletion.
    expect(seen.map((change) => change.seq)).toEqual([
      ...ids.slice(10),
      (ids.at(-1) as number) + 1,
      (ids.at(-1) as number) + 2,
    ]);
    expect(seen.at(-2)).toEqual({
      seq: (ids.at(-1) as number) + 1,
      type: "edit",
      post: expect.objectContaining({ id: ids[4], message: "an old one, edited" }),
    });
    // Every post is as it is now, wherever in the stream it comes: the deleted one is a tombstone already.
    expect(seen.find((change) => change.post?.id === ids[515])?.post).toMatchObject({
      message: "",
      deleted_by: "author",
    });
  });
});

/** A member's view of a room, as a client keeps it: every post by id, each as the latest change it heard said. */
class View {
  readonly #posts = new Map<number, Post>();
  seq = 0;

  joined(reply: JoinResponse): void {
    for (const post of reply.posts) this.#posts.set(post.id, post);
    for (const change of reply.changes)
      if (change.post && this.#posts.has(change.post.id)) this.#posts.set(change.post.id, change.post);
    this.seq = reply.seq;
  }

  posts(): Post[] {
    return [...this.#posts.values()].sort((a, b) => a.id - b.id);
  }
}
