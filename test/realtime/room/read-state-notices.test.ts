/**
 * Whom a room tells that their counts may have changed (room/read-state-notices.ts), the unit: what each
 * kind of commit changes and for whom, and the throttle (at most one notice a second, the first after a
 * quiet second at once), on a fake clock. Through a real room: test/realtime/room/read-positions.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Logged, LoggedChange } from "../../../src/db/posts";
import type { Holder } from "../../../src/realtime/room/read-positions";
import { NOTICE_INTERVAL_MS, ReadStateNotices } from "../../../src/realtime/room/read-state-notices";
import type { Post } from "../../../src/shared/post";

/** Holders as the room's read positions would answer for them: ann 1, ben 2, cal 3, dan 4 (banned). */
function holdersOf(positions: Record<string, [id: number, lastReadId: number]>) {
  const holders = new Map<number, Holder>(
    Object.entries(positions).map(([username, [userId, lastReadId]]) => [
      userId,
      { userId, username, lastReadId, at: 0 },
    ]),
  );
  return {
    holders: () => holders.values(),
    get: (userId: number) => holders.get(userId)?.lastReadId,
    userNamed: (name: string) => [...holders.values()].find((h) => h.username === name.toLowerCase())?.userId,
  };
}

function post(id: number, author: number, message = "hi"): Post {
  return { id, message, inserted_at: new Date(0).toISOString(), user: { id: author, username: `u${author}` } };
}

const newPost = (p: Post): Logged => ({ post: p, clientId: null });
function change(seq: number, type: "edit" | "delete", p: Post): Logged {
  const logged: LoggedChange = { seq, type, postSeq: p.id, at: 0, post: p, data: null };
  return { change: logged };
}

let sent: Array<{ at: number; users: number[] }>;
function noticesOver(positions = holdersOf({ ann: [1, 10], ben: [2, 10], cal: [3, 5], dan: [4, 0] })) {
  return new ReadStateNotices(positions, {
    mayRead: (userId) => userId !== 4,
    send: async (users) => {
      sent.push({ at: Date.now(), users: [...users].sort((a, b) => a - b) });
    },
  });
}

beforeEach(() => {
  sent = [];
  vi.useFakeTimers({ now: 1_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe("whom a commit concerns (dan is banned: he may not read the room)", () => {
  it("a new post: every holder who may read the room but its author; two authors: each has the other's", () => {
    const notices = noticesOver();
    notices.committed([newPost(post(11, 1))], []);
    expect(sent).toEqual([{ at: 1_000_000, users: [2, 3] }]);
    vi.advanceTimersByTime(NOTICE_INTERVAL_MS);
    notices.committed([newPost(post(12, 1)), newPost(post(13, 2))], []);
    expect(sent.at(-1)?.users).toEqual([1, 2, 3]);
  });

  it("a deletion: those who had not read up to it, not its author; a moved position: its holder", () => {
    const notices = noticesOver();
    notices.committed([change(14, "delete", post(8, 2))], [{ userId: 1, lastReadId: 12, at: 5 }]);
    // cal (at 5) had not read post 8 (nor dan, who may not read the room); ann moved her position.
    expect(sent).toEqual([{ at: 1_000_000, users: [1, 3] }]);
  });

  it("an edit: those its old or new text mentions who had not read it, never its author", () => {
    const notices = noticesOver();
    notices.edited(20, post(9, 2, "ask @Cal and @ben and @nobody"));
    notices.committed([change(20, "edit", post(9, 2, "ask @ann"))], []);
    // ann and ben read past post 9; cal had not; ben wrote it.
    expect(sent).toEqual([{ at: 1_000_000, users: [3] }]);
    vi.advanceTimersByTime(NOTICE_INTERVAL_MS);
    notices.committed([change(21, "edit", post(6, 1, "now @cal and @dan"))], []);
    expect(sent.at(-1)?.users).toEqual([3]);
  });

  it("membership or a ban mirrored to D1: those people, whether or not they may still read", () => {
    const notices = noticesOver();
    notices.accessChanged([4, 9]);
    expect(sent).toEqual([{ at: 1_000_000, users: [4, 9] }]);
  });

  it("a commit that changes nobody's counts sends nothing", () => {
    const notices = noticesOver(holdersOf({ ann: [1, 10] }));
    notices.committed([newPost(post(11, 1))], []);
    notices.committed([change(12, "delete", post(11, 1))], []);
    vi.advanceTimersByTime(5 * NOTICE_INTERVAL_MS);
    expect(sent).toEqual([]);
  });
});

describe("the throttle", () => {
  it("sends the first at once, groups what follows within the second into one, and the next after a quiet second at once", () => {
    const notices = noticesOver();
    notices.committed([], [{ userId: 1, lastReadId: 11, at: 1 }]);
    expect(sent).toEqual([{ at: 1_000_000, users: [1] }]);
    vi.advanceTimersByTime(100);
    notices.committed([], [{ userId: 2, lastReadId: 11, at: 2 }]);
    vi.advanceTimersByTime(300);
    notices.committed([newPost(post(12, 3))], []);
    expect(sent).toHaveLength(1);
    vi.advanceTimersByTime(599);
    expect(sent).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(sent[1]).toEqual({ at: 1_000_000 + NOTICE_INTERVAL_MS, users: [1, 2] });

    vi.advanceTimersByTime(5_000);
    notices.committed([], [{ userId: 3, lastReadId: 12, at: 3 }]);
    expect(sent[2]).toEqual({ at: 1_000_000 + NOTICE_INTERVAL_MS + 5_000, users: [3] });
  });
});
