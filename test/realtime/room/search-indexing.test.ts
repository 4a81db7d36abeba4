/**
 * A room indexing its posts for search after their copy to D1 (search-indexing.ts, over
 * src/db/search-index.ts), through real rooms, sockets and the real D1: the poster's ok never waits for the
 * index; a post is found once the index has it, the room trying again after a failure; and a post edited or
 * deleted before it was indexed is found by its new text only, or never. The index failing is real: a
 * trigger that aborts moving its watermark.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { ftsQuery, searchPosts } from "../../../src/db/search";
import type { User } from "../../../src/db/users";
import { closeAll, connectAndJoin, type TestSocket } from "../../helpers/socket";
import { db, makeUser, searchIndexCaughtUp } from "../../helpers/users";

const open: TestSocket[] = [];
afterEach(async () => {
  await closeAll(open);
  await env.DB.exec("DROP TRIGGER IF EXISTS fail_indexing");
});

function failIndexing(): Promise<D1ExecResult> {
  return env.DB.exec(
    "CREATE TRIGGER fail_indexing BEFORE UPDATE ON posts_fts_indexed BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
  );
}

async function found(viewer: User, room: string, word: string): Promise<string[]> {
  const results = await searchPosts(db, viewer.id, { match: ftsQuery(word) as string, room, limit: 50 });
  return results.map((result) => result.post.message);
}

async function joined(room: string) {
  const user = await makeUser(`${room}_u`);
  const { socket, joinRef } = await connectAndJoin(user, room);
  open.push(socket);
  const push = async (event: string, payload: Record<string, unknown>) => {
    const reply = await socket.push(`room:${room}`, event, payload, joinRef);
    expect(reply.status, JSON.stringify(reply.response)).toBe("ok");
    return reply.response as { id: number };
  };
  return { user, push };
}

describe("search indexing after the copy", () => {
  it("answers ok while the index fails, and the room tries again until the post is found", async () => {
    const { user, push } = await joined("index_failing");
    await failIndexing();
    await push("new_post", { message: "pelicans over the harbour" });
    expect(await found(user, "index_failing", "pelicans")).toEqual([]);

    await env.DB.exec("DROP TRIGGER fail_indexing");
    await expect
      .poll(() => found(user, "index_failing", "pelicans"), { timeout: 5_000 })
      .toEqual(["pelicans over the harbour"]);
  });

  it("finds a post edited before it was indexed by its new text only, and one deleted before it never", async () => {
    const { user, push } = await joined("index_changed");
    await failIndexing();
    const rewritten = await push("new_post", { message: "walrus first draft" });
    const removed = await push("new_post", { message: "walrus said something rude" });
    await push("edit_post", { id: rewritten.id, message: "narwhal final word" });
    await push("delete_post", { id: removed.id });

    await env.DB.exec("DROP TRIGGER fail_indexing");
    await searchIndexCaughtUp();
    expect(await found(user, "index_changed", "walrus")).toEqual([]);
    expect(await found(user, "index_changed", "rude")).toEqual([]);
    expect(await found(user, "index_changed", "narwhal")).toEqual(["narwhal final word"]);
  });
});
