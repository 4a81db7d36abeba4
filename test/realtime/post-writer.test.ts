/**
 * Group commit against the real D1: batching, order, the timeout, and what happens to a write that lands
 * after its poster was told `unavailable`. Slowness is network-like latency in front of the real D1 call
 * (local D1 runs on the room's own thread, so slow SQL would stop the clock as well).
 */
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { type PostDraft, storePosts } from "../../src/db/posts";
import { posts } from "../../src/db/schema";
import type { User } from "../../src/db/users";
import { PostWriter, type WriteResult } from "../../src/realtime/post-writer";
import type { Post } from "../../src/shared/post";
import { db, makeUser } from "../helpers/users";

afterEach(() => env.DB.exec("DROP TRIGGER IF EXISTS fail_writer_inserts"));

function draft(user: User, room: string, message: string, clientId: string | null = null): PostDraft {
  return { room, user, tokenGeneration: user.tokenGeneration, message, clientId, insertedAt: new Date() };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * A writer over the real D1, with latency in front of each write (a number, or one per write in turn);
 * records batches and announcements.
 */
function writerFor(latency: number | number[], timeoutMs = 1_000) {
  const batches: number[] = [];
  const announced: Post[] = [];
  const problems: unknown[] = [];
  const writer = new PostWriter({
    store: async (drafts) => {
      batches.push(drafts.length);
      await delay(typeof latency === "number" ? latency : (latency[batches.length - 1] ?? 0));
      return storePosts(db, drafts);
    },
    onStored: (stored) => announced.push(...stored),
    log: (_where, problem) => problems.push(problem),
    timeoutMs,
  });
  return { writer, batches, announced, problems };
}

async function rows(room: string) {
  return db.select().from(posts).where(eq(posts.room, room)).orderBy(posts.id);
}

describe("PostWriter", () => {
  it("writes posts that arrive during a write together in the next one, in arrival order", async () => {
    const user = await makeUser("batcher");
    const { writer, batches, announced } = writerFor(50);
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, n) => writer.submit(draft(user, "batched", `post ${n}`))),
    );
    expect(batches).toEqual([1, 11]); // the first goes at once; the rest share the next write
    const ids = results.map((result) => (result.kind === "stored" ? result.post.id : -1));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(announced.map((post) => post.message)).toEqual(Array.from({ length: 12 }, (_, n) => `post ${n}`));
  });

  it("announces a batch before answering its posters", async () => {
    const user = await makeUser("announcer");
    const { writer, announced } = writerFor(0);
    const result = await writer.submit(draft(user, "announce_first", "hello"));
    expect(result.kind).toBe("stored");
    expect(announced).toHaveLength(1); // already announced when the poster hears back
  });

  it("answers unavailable once the timeout passes; a write that lands later is announced, and a retry finds it", async () => {
    const user = await makeUser("slow_writer");
    const { writer, announced } = writerFor([1_500, 0], 500);
    const startedAt = Date.now();
    const first: WriteResult = await writer.submit(draft(user, "slow_room", "slow", "slow-1"));
    expect(first).toEqual({ kind: "unavailable" });
    expect(Date.now() - startedAt).toBeLessThan(1_400); // answered before the write came back

    await delay(1_300); // the write lands after all
    expect(announced.map((post) => post.message)).toEqual(["slow"]);
    const retry = await writer.submit(draft(user, "slow_room", "slow", "slow-1"));
    expect(retry).toEqual({ kind: "duplicate", post: announced[0] });
    expect(await rows("slow_room")).toHaveLength(1);
  });

  it("gives up on posts still queued behind a slow write, and never writes them", async () => {
    const user = await makeUser("queued_writer");
    const { writer, batches } = writerFor(800, 300);
    const [first, second] = await Promise.all([
      writer.submit(draft(user, "queued_room", "in flight")),
      writer.submit(draft(user, "queued_room", "queued")),
    ]);
    expect(first).toEqual({ kind: "unavailable" });
    expect(second).toEqual({ kind: "unavailable" });
    await delay(700);
    expect(batches).toEqual([1]);
    expect((await rows("queued_room")).map((row) => row.message)).toEqual(["in flight"]);
  });

  it("answers a failed write unavailable, announces nothing, and goes on with the next", async () => {
    const user = await makeUser("failing_writer");
    const { writer, announced, problems } = writerFor(0);
    await env.DB.exec(
      "CREATE TRIGGER fail_writer_inserts BEFORE INSERT ON posts WHEN NEW.message = 'doomed' BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
    );
    expect(await writer.submit(draft(user, "failing_room", "doomed"))).toEqual({ kind: "unavailable" });
    expect(announced).toEqual([]);
    expect(problems).toHaveLength(1);
    expect((await writer.submit(draft(user, "failing_room", "fine"))).kind).toBe("stored");
  });
});
