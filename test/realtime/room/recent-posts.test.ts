/**
 * The room's recent posts in memory (room/recent-posts.ts): one read when the room wakes, every stored
 * post appended after it, and `after` exact or undefined. The reader stands for the room's log and D1: a
 * room whose posts are ids 1..N, read the way `loadNewest` promises (the newest `limit`, oldest first).
 */
import { describe, expect, it } from "vitest";
import { RecentPosts } from "../../../src/realtime/room/recent-posts";
import type { Post } from "../../../src/shared/post";

function post(id: number): Post {
  return {
    id,
    message: `post ${id}`,
    inserted_at: new Date(Date.UTC(2026, 0, 1, 0, 0, id)).toISOString(),
    user: { id: 1, username: "ann" },
  };
}

const range = (from: number, to: number) =>
  Array.from({ length: Math.max(0, to - from + 1) }, (_, n) => post(from + n));
const ids = (posts: readonly Post[] | undefined) => posts?.map((p) => p.id);

/** A room's stored posts and a reader of its newest ones that counts its reads and can be held or failed. */
class Room {
  stored: Post[] = [];
  reads: number[] = [];
  #held: Array<() => void> = [];
  hold = false;
  failNext = false;
  /** A held read returns the posts as they were when it began (true) or when it is released (false). */
  snapshotAtStart = false;

  store(count: number): Post[] {
    const added = range(this.stored.length + 1, this.stored.length + count);
    this.stored.push(...added);
    return added;
  }

  readonly loadNewest = async (limit: number): Promise<Post[]> => {
    this.reads.push(limit);
    const atStart = this.stored.slice(-limit);
    if (this.hold) await new Promise<void>((resolve) => this.#held.push(resolve));
    if (this.failNext) {
      this.failNext = false;
      throw new Error("D1 unavailable");
    }
    return this.snapshotAtStart ? atStart : this.stored.slice(-limit);
  };

  /** Lets held reads finish; they read the room as it is then. */
  release(): void {
    this.hold = false;
    for (const resolve of this.#held.splice(0)) resolve();
  }
}

/** The posts after `afterId`, as the room's whole history has them. */
const truthAfter = (room: Room, afterId: number) => ids(room.stored.filter((p) => p.id > afterId));

describe("RecentPosts", () => {
  it("reads the newest `capacity` posts on the first ready(), and never again", async () => {
    const room = new Room();
    room.store(30);
    const recent = new RecentPosts(room.loadNewest, 10);
    await Promise.all([recent.ready(), recent.ready(), recent.ready()]);
    await recent.ready();
    expect(room.reads).toEqual([10]);
    expect(ids(recent.newest(10))).toEqual(ids(room.stored.slice(-10)));
    expect(ids(recent.newest(3))).toEqual(ids(room.stored.slice(-3)));
  });

  it("ignores posts appended before the first read: the read will find them", async () => {
    const room = new Room();
    room.store(3);
    const recent = new RecentPosts(room.loadNewest, 10);
    recent.append(room.store(2));
    await recent.ready();
    expect(ids(recent.newest(10))).toEqual([1, 2, 3, 4, 5]);
  });

  it("merges posts stored while the read was in flight, without duplicates, whether the read saw them or not", async () => {
    for (const readSeesThem of [false, true]) {
      const room = new Room();
      room.store(20);
      const recent = new RecentPosts(room.loadNewest, 10);
      room.hold = true;
      room.snapshotAtStart = !readSeesThem; // posts 11..20 only, or 14..23
      const ready = recent.ready();
      recent.append(room.store(2));
      recent.append(room.store(1));
      room.release();
      await ready;
      expect(room.reads).toHaveLength(1);
      expect(ids(recent.newest(100))).toEqual(ids(room.stored.slice(-10)));
      // Holding 14..23 either way, so complete after 13 and no further back.
      expect(recent.after(12)).toBeUndefined();
      expect(ids(recent.after(13))).toEqual(truthAfter(room, 13));
      expect(ids(recent.after(20))).toEqual(truthAfter(room, 20));
    }
  });

  it("is complete back to the start of a room smaller than its capacity", async () => {
    const room = new Room();
    room.store(4);
    const recent = new RecentPosts(room.loadNewest, 10);
    await recent.ready();
    for (const afterId of [0, 1, 4, 9]) expect(ids(recent.after(afterId))).toEqual(truthAfter(room, afterId));

    const empty = new RecentPosts(new Room().loadNewest, 10);
    await empty.ready();
    expect(empty.after(0)).toEqual([]);
    expect(empty.newest(5)).toEqual([]);
  });

  it("answers `after` exactly as far back as memory reaches, and undefined beyond", async () => {
    const room = new Room();
    room.store(25);
    const recent = new RecentPosts(room.loadNewest, 10); // holds 16..25
    await recent.ready();
    expect(recent.after(14)).toBeUndefined();
    expect(ids(recent.after(15))).toEqual(truthAfter(room, 15));
    expect(ids(recent.after(20))).toEqual(truthAfter(room, 20));
    expect(recent.after(25)).toEqual([]);
    expect(recent.after(1_000)).toEqual([]);
  });

  it("trims to capacity as posts are appended, moving how far back it is complete", async () => {
    const room = new Room();
    room.store(8);
    const recent = new RecentPosts(room.loadNewest, 10);
    await recent.ready();
    expect(ids(recent.after(0))).toEqual(truthAfter(room, 0)); // the whole room

    recent.append(room.store(2)); // 10 posts: still all of them
    expect(ids(recent.after(0))).toEqual(truthAfter(room, 0));
    recent.append(room.store(3)); // 13 stored, 4..13 kept
    expect(ids(recent.newest(100))).toEqual(ids(room.stored.slice(-10)));
    expect(recent.after(2)).toBeUndefined();
    expect(ids(recent.after(3))).toEqual(truthAfter(room, 3));

    for (let n = 0; n < 7; n++) recent.append(room.store(1 + (n % 3)));
    const oldest = room.stored.length - 10;
    expect(ids(recent.newest(100))).toEqual(ids(room.stored.slice(-10)));
    expect(recent.after(oldest - 1)).toBeUndefined();
    for (const afterId of [oldest, oldest + 4, room.stored.length]) {
      expect(ids(recent.after(afterId))).toEqual(truthAfter(room, afterId));
    }
  });

  it("trims a batch bigger than its capacity, appended while the read was in flight", async () => {
    const room = new Room();
    room.store(5);
    const recent = new RecentPosts(room.loadNewest, 4);
    room.hold = true;
    const ready = recent.ready();
    recent.append(room.store(6));
    room.release();
    await ready;
    expect(ids(recent.newest(100))).toEqual(ids(room.stored.slice(-4)));
    expect(recent.after(6)).toBeUndefined();
    expect(ids(recent.after(7))).toEqual(truthAfter(room, 7));
  });

  it("rejects ready() when the read fails, and reads again on the next ready()", async () => {
    const room = new Room();
    room.store(12);
    const recent = new RecentPosts(room.loadNewest, 10);
    room.failNext = true;
    room.hold = true;
    const first = recent.ready();
    const alsoFirst = recent.ready();
    recent.append(room.store(1)); // stored while the failing read is in flight
    room.release();
    await expect(first).rejects.toThrow("D1 unavailable");
    await expect(alsoFirst).rejects.toThrow("D1 unavailable");
    expect(room.reads).toHaveLength(1);

    recent.append(room.store(1)); // cold again: left to the next read
    await recent.ready();
    expect(room.reads).toHaveLength(2);
    expect(ids(recent.newest(100))).toEqual(ids(room.stored.slice(-10)));
    const oldest = room.stored.length - 10;
    expect(recent.after(oldest - 1)).toBeUndefined();
    expect(ids(recent.after(oldest))).toEqual(truthAfter(room, oldest));

    // Warm now: appends go straight in.
    recent.append(room.store(1));
    expect(ids(recent.after(oldest + 1))).toEqual(truthAfter(room, oldest + 1));
  });
});
