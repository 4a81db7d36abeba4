/**
 * A join's reply from memory, encoded once per room state (room/join-replies.ts): between two changes, the
 * same question gets the very same encoded reply; a post or an edit landing makes the next one new; the
 * cache stays bounded; a catch-up carries the room's seq and the changes of the posts the member had.
 * Over a real `RecentPosts` whose reader stands for the room's log and D1 (posts 1..N).
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import type { EncodedReply } from "../../../src/realtime/phoenix/serializer";
import { JoinReplies, missedMore, OLDER_REPLIES_KEPT, withLastRead } from "../../../src/realtime/room/join-replies";
import { RecentPosts } from "../../../src/realtime/room/recent-posts";
import type { Post } from "../../../src/shared/post";
import { CATCH_UP_LIMIT, type JoinResponse, RECENT_POSTS_LIMIT } from "../../../src/shared/room-contract";

function post(id: number, length = 20): Post {
  return {
    id,
    message: `${id} ${"x".repeat(length)}`,
    inserted_at: new Date(Date.UTC(2026, 0, 1, 0, 0, id)).toISOString(),
    user: { id: 1, username: "ann" },
  };
}

const range = (from: number, to: number, length?: number) =>
  Array.from({ length: Math.max(0, to - from + 1) }, (_, n) => post(from + n, length));

/** A warm memory of a room whose posts are 1..`count`, with room for `capacity`. */
async function memoryOf(count: number, capacity = CATCH_UP_LIMIT, length?: number) {
  const recent = new RecentPosts(async (limit) => range(Math.max(1, count - limit + 1), count, length), capacity);
  await recent.ready();
  return recent;
}

const parsed = (reply: { responseJson: string } | undefined) =>
  reply ? (JSON.parse(reply.responseJson) as JoinResponse) : undefined;
const idsOf = (reply: { responseJson: string } | undefined) => parsed(reply)?.posts.map((p) => p.id);

afterEach(() => {
  vi.restoreAllMocks();
});

describe("JoinReplies", () => {
  it("answers a flood of the same join with one encoding, the same reply object each time", async () => {
    // 500 posts of 2,000 characters: the join of issue 15's flood, a reply of about a megabyte.
    const recent = await memoryOf(500, CATCH_UP_LIMIT, 2_000);
    const replies = new JoinReplies(recent);
    const stringify = vi.spyOn(JSON, "stringify");
    const first = replies.reply(0);
    const all = Array.from({ length: 100 }, () => replies.reply(0));
    expect(stringify).toHaveBeenCalledTimes(1);
    for (const reply of all) expect(reply).toBe(first);
    expect(first?.status).toBe("ok");
    expect(idsOf(first)).toEqual(range(1, 500).map((p) => p.id));
    expect(parsed(first)?.has_more).toBe(false);
    expect(first?.responseJson.length).toBeGreaterThan(1_000_000);
  });

  it("splices each member's last_read_id into the shared reply, without encoding the posts again", async () => {
    const recent = await memoryOf(500, CATCH_UP_LIMIT, 2_000);
    const replies = new JoinReplies(recent);
    const stringify = vi.spyOn(JSON, "stringify");
    const own = Array.from({ length: 100 }, (_, n) => withLastRead(replies.reply(0) as EncodedReply, n * 5));
    expect(stringify).toHaveBeenCalledTimes(1);
    stringify.mockRestore();
    const shared = parsed(replies.reply(0));
    own.forEach((reply, n) => {
      expect(reply.status).toBe("ok");
      expect(JSON.parse(reply.responseJson)).toEqual({ ...shared, last_read_id: n * 5 });
    });
    expect(JSON.parse(withLastRead(missedMore(7), 3).responseJson)).toEqual({
      last_read_id: 3,
      posts: [],
      has_more: true,
      seq: 7,
      changes: [],
    });
  });

  it("builds a new reply once a post lands, and the same one again until the next", async () => {
    const recent = await memoryOf(80);
    const replies = new JoinReplies(recent);
    const newest = replies.reply(null);
    const caughtUp = replies.reply(70);
    expect(idsOf(newest)).toEqual(range(31, 80).map((p) => p.id));
    expect(parsed(newest)?.has_more).toBe(false);
    expect(idsOf(caughtUp)).toEqual(range(71, 80).map((p) => p.id));
    expect(replies.reply(null)).toBe(newest);
    expect(replies.reply(70)).toBe(caughtUp);

    recent.append([post(81)]);
    const newestAfter = replies.reply(null);
    expect(newestAfter).not.toBe(newest);
    expect(idsOf(newestAfter)).toEqual(range(32, 81).map((p) => p.id));
    expect(idsOf(replies.reply(70))).toEqual(range(71, 81).map((p) => p.id));
    expect(replies.reply(null)).toBe(newestAfter);
    expect(idsOf(replies.reply(null))).toHaveLength(RECENT_POSTS_LIMIT);
  });

  it("answers undefined when memory does not reach back that far, and has_more past 500 missed", async () => {
    const recent = await memoryOf(700, 600);
    const replies = new JoinReplies(recent);
    expect(replies.reply(50)).toBeUndefined(); // memory holds 101..700
    const long = replies.reply(100);
    expect(idsOf(long)).toEqual(range(101, 100 + CATCH_UP_LIMIT).map((p) => p.id));
    expect(parsed(long)?.has_more).toBe(true);
    // Past 500 missed, the member pages every change from where it was: the reply's seq says where.
    expect(parsed(long)?.seq).toBe(100);
    expect(parsed(replies.reply(700))).toEqual({ posts: [], has_more: false, seq: 700, changes: [] });
  });

  it("keeps at most maxChars of replies, dropping the oldest but never the one just built", async () => {
    const recent = await memoryOf(100);
    const one = JSON.stringify({ posts: range(91, 100), has_more: false }).length;
    const replies = new JoinReplies(recent, one * 2);
    const r90 = replies.reply(90);
    const r95 = replies.reply(95);
    expect(replies.reply(90)).toBe(r90);
    const r0 = replies.reply(0); // far larger than the bound: kept alone
    expect(replies.reply(0)).toBe(r0);
    expect(replies.reply(95)).not.toBe(r95); // dropped, so built again (equal, not the same)
    expect(replies.reply(95)?.responseJson).toBe(r95?.responseJson);
  });

  it("reads a join from further back than memory once for a burst, keeps it across posts, and rereads after a failure", async () => {
    const recent = await memoryOf(1_000);
    const replies = new JoinReplies(recent);
    const reads: number[] = [];
    let fail = false;
    const reader = (after: number) => async () => {
      reads.push(after);
      if (fail) throw new Error("D1 is down");
      return range(after + 1, after + CATCH_UP_LIMIT);
    };
    // A burst asking at once (while the first read is on its way) shares one read and one reply.
    const burst = await Promise.all(Array.from({ length: 20 }, () => replies.older(10, reader(10))));
    expect(reads).toEqual([10]);
    for (const reply of burst) expect(reply).toBe(burst[0]);
    expect(parsed(burst[0])).toEqual({ posts: range(11, 10 + CATCH_UP_LIMIT), has_more: true, seq: 10, changes: [] });
    // Posts land: those 500 posts stay the oldest after 10, so the reply stands.
    recent.append([post(1_001)]);
    expect(await replies.older(10, reader(10))).toBe(burst[0]);
    expect(reads).toEqual([10]);

    // A failed read is not kept.
    fail = true;
    await expect(replies.older(20, reader(20))).rejects.toThrow("D1 is down");
    fail = false;
    expect(idsOf(await replies.older(20, reader(20)))?.[0]).toBe(21);
    expect(reads).toEqual([10, 20, 20]);
    // Only the last few are kept.
    for (let n = 0; n < OLDER_REPLIES_KEPT; n++) await replies.older(30 + n, reader(30 + n));
    await replies.older(10, reader(10));
    expect(reads.filter((after) => after === 10)).toHaveLength(2);
  });

  it("carries the room's seq, and for a catch-up the changes of older posts; a change makes the next reply new", async () => {
    const recent = await memoryOf(10);
    const replies = new JoinReplies(recent);
    const before = replies.reply(8);
    expect(parsed(before)).toEqual({ posts: range(9, 10), has_more: false, seq: 10, changes: [] });
    const edited: Post = { ...post(5), message: "five, edited", edited_at: "2026-12-06T10:00:00.000Z" };
    recent.applyChange({ seq: 11, type: "edit", postSeq: 5, at: 0, post: edited, data: null });
    const tail = replies.reply(8);
    expect(tail).not.toBe(before);
    expect(parsed(tail)).toEqual({
      posts: range(9, 10),
      has_more: false,
      seq: 11,
      changes: [{ seq: 11, type: "edit", post: edited }],
    });
    // A member who saw the edit gets nothing more; a plain join shows the post as it is now.
    expect(parsed(replies.reply(11))).toEqual({ posts: [], has_more: false, seq: 11, changes: [] });
    expect(parsed(replies.reply(null))?.posts[4]).toEqual(edited);
    expect(replies.reply(8)).toBe(tail);
  });
});
