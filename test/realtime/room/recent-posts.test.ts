/**
 * The room's recent posts in memory (room/recent-posts.ts): one read when the room wakes, every stored
 * post appended after it, and `after` exact or undefined; and its other changes (edits, deletions, other
 * kinds), applied to the posts they change and answered to catch-ups. The reader stands for the room's log and D1: a
 * room whose posts are ids 1..N, read the way `loadNewest` promises (the newest `limit`, oldest first).
 */
import { describe, expect, it } from "vitest";
import type { LoggedChange } from "../../../src/db/posts";
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

/**
 * A room whose posts and other changes share one sequence, as a room's log keeps them: `post` stores a new
 * post, `edit` and `remove` change one, and `readChanges` reads the newest other changes as the log does.
 */
class ChangingRoom {
  posts: Post[] = [];
  changes: LoggedChange[] = [];
  seq = 0;
  hold = false;
  #held: Array<() => void> = [];

  post(): Post {
    this.seq += 1;
    const added: Post = { ...post(this.seq), id: this.seq };
    this.posts.push(added);
    return added;
  }

  edit(id: number, message: string): LoggedChange {
    return this.#change("edit", { ...this.#find(id), message, edited_at: new Date().toISOString() });
  }

  remove(id: number): LoggedChange {
    const { inserted_at, user } = this.#find(id);
    const gone: Post = {
      id,
      message: "",
      inserted_at,
      user,
      deleted_at: new Date().toISOString(),
      deleted_by: "author",
    };
    for (const change of this.changes) if (change.post?.id === id) change.post = gone;
    return this.#change("delete", gone);
  }

  note(data: Record<string, unknown>): LoggedChange {
    this.seq += 1;
    const change: LoggedChange = { seq: this.seq, type: "note", postSeq: null, at: 0, post: null, data };
    this.changes.push(change);
    return change;
  }

  /** A held read returns the posts as they were when it began, as a read from D1 would. */
  readonly loadNewest = async (limit: number): Promise<Post[]> => {
    const atStart = this.posts.slice(-limit);
    if (this.hold) await new Promise<void>((resolve) => this.#held.push(resolve));
    return atStart;
  };

  readonly readChanges = (limit: number) => ({ changes: this.changes.slice(-limit), coveredAfter: 0 });

  release(): void {
    this.hold = false;
    for (const resolve of this.#held.splice(0)) resolve();
  }

  #find(id: number): Post {
    const found = this.posts.find((p) => p.id === id);
    if (!found) throw new Error(`no post ${id}`);
    return found;
  }

  #change(type: string, changed: Post): LoggedChange {
    this.seq += 1;
    this.posts = this.posts.map((p) => (p.id === changed.id ? changed : p));
    const change: LoggedChange = { seq: this.seq, type, postSeq: changed.id, at: 0, post: changed, data: null };
    this.changes.push(change);
    return change;
  }
}

describe("RecentPosts and the room's other changes", () => {
  it("replaces a post by what its change made of it, so every join shows it as it is now", async () => {
    const room = new ChangingRoom();
    const [one, two] = [room.post(), room.post()];
    const recent = new RecentPosts(room.loadNewest, 10, room.readChanges);
    await recent.ready();
    const version = recent.version;
    recent.applyChange(room.edit(one.id, "one, edited"));
    expect(recent.version).not.toBe(version);
    recent.applyChange(room.remove(two.id));
    expect(recent.newest(10)).toEqual(room.posts);
    expect(recent.get(one.id)?.message).toBe("one, edited");
    expect(recent.lastSeq).toBe(room.seq);
  });

  it("answers what a member who saw up to a seq missed: each older post's latest change, once, in seq order", async () => {
    const room = new ChangingRoom();
    const [a, b] = [room.post(), room.post(), room.post()];
    const recent = new RecentPosts(room.loadNewest, 10, room.readChanges);
    await recent.ready();
    const seen = room.seq; // the member saw a, b, c
    for (const change of [room.edit(a.id, "a1"), room.edit(b.id, "b1"), room.edit(a.id, "a2")])
      recent.applyChange(change);
    const d = room.post();
    recent.append([d]);
    recent.applyChange(room.edit(d.id, "d1")); // a post after `seen`: in `posts` as it is now, not a change
    const note = room.note({ says: "hi" });
    recent.applyChange(note);
    recent.applyChange(room.remove(b.id));
    expect(recent.changesAfter(seen)).toEqual([
      { seq: room.seq - 4, type: "edit", post: room.posts.find((p) => p.id === a.id) },
      { seq: note.seq, type: "note", says: "hi" },
      { seq: room.seq, type: "delete", post: room.posts.find((p) => p.id === b.id) },
    ]);
    expect(recent.after(seen)).toEqual([room.posts.find((p) => p.id === d.id)]);
    // A deletion blanks what memory held of the post's earlier changes too.
    expect(JSON.stringify(recent.changesAfter(0))).not.toContain("b1");
    expect(recent.changesAfter(room.seq)).toEqual([]);
  });

  it("applies changes made while the first read was in flight, and reads them from the log once it lands", async () => {
    const room = new ChangingRoom();
    const [one] = [room.post(), room.post()];
    const recent = new RecentPosts(room.loadNewest, 10, room.readChanges);
    room.hold = true;
    const ready = recent.ready(); // reads the posts as they are now: before the edit
    const edit = room.edit((one as Post).id, "edited while loading");
    recent.applyChange(edit);
    room.release();
    await ready;
    expect(recent.get((one as Post).id)?.message).toBe("edited while loading");
    expect(recent.changesAfter(2)).toEqual([{ seq: edit.seq, type: "edit", post: edit.post }]); // once
    expect(recent.lastSeq).toBe(edit.seq);
  });

  it("keeps `capacity` changes, and answers undefined for a member from further back than they reach", async () => {
    const room = new ChangingRoom();
    const target = room.post();
    const recent = new RecentPosts(room.loadNewest, 4, room.readChanges);
    await recent.ready();
    for (let n = 0; n < 6; n++) recent.applyChange(room.edit(target.id, `take ${n}`));
    const kept = room.changes.slice(-4);
    expect(recent.changesAfter((kept[0]?.seq ?? 0) - 2)).toBeUndefined();
    expect(recent.changesAfter((kept[0]?.seq ?? 0) - 1)).toEqual([
      { seq: room.seq, type: "edit", post: room.posts[0] },
    ]);
  });
});
