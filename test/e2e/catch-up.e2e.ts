/**
 * Zero-gap catch-up whatever the gap, with the room page's own `RoomFeed` (src/client/room-feed.ts) on
 * the official phoenix client against a real `wrangler dev`: a member who was away rejoins with
 * `last_seen_seq`, pages every change on over HTTP while the reply says `has_more`, merges the live posts
 * that arrive meanwhile, and ends up with exactly the room's stored sequence: every post once, none
 * missing, each as it now is (edits and deletions made while it was away included).
 */
import type { Channel, Socket } from "phoenix";
import { afterEach, describe, expect, inject, it } from "vitest";
import { RoomFeed } from "../../src/client/room-feed";
import { fetchChanges } from "../../src/client/room-posts";
import type { JoinResponse, PostDeleted, PostUpdated } from "../../src/shared/room-contract";
import { type RegisteredUser, registerUser, uniqueName, waitUntil } from "./helpers";
import {
  push as change,
  enterRoom,
  frames,
  type Member,
  OpenSockets,
  type Post,
  post,
  recordingTransport,
  storedPosts,
  type Wire,
} from "./phoenix";

const baseUrl = inject("baseUrl");
const sockets = new OpenSockets();
afterEach(() => sockets.disconnectAll());

/** A member whose posts come through a RoomFeed, as on the room page. */
interface Reader {
  socket: Socket;
  channel: Channel;
  feed: RoomFeed;
  wire: Wire;
  /** Every post the feed showed, in the order it showed them (as first shown). */
  shown: Post[];
  /** Every post the feed redrew, as it redrew it (edited, or a tombstone). */
  replaced: Post[];
  /** Every join reply, first join included. */
  replies: JoinResponse[];
  /** `after_seq` of every catch-up page asked for. */
  pagesAfter: number[];
  /** Live posts that arrived while the feed was catching up. */
  liveDuringCatchUp: Post[];
  /** Catch-ups given up for good (there should be none). */
  catchUpFailures: unknown[];
}

interface ReaderOptions {
  /** Runs before each catch-up page is fetched (its number from 1), e.g. to post live meanwhile. */
  beforePage?: (page: number) => Promise<void>;
}

async function enterAsReader(room: string, user: RegisteredUser, options: ReaderOptions = {}): Promise<Reader> {
  const shown: Post[] = [];
  const replaced: Post[] = [];
  const replies: JoinResponse[] = [];
  const pagesAfter: number[] = [];
  const liveDuringCatchUp: Post[] = [];
  const catchUpFailures: unknown[] = [];
  const wire: Wire = { sent: [], received: [] };
  const source = { baseUrl, room, headers: { Authorization: `Bearer ${user.token}` } };
  const feed = new RoomFeed({
    show: (posts) => shown.push(...posts),
    replace: (post) => replaced.push(post),
    fetchChanges: async (after, limit) => {
      pagesAfter.push(after);
      await options.beforePage?.(pagesAfter.length);
      return fetchChanges(source, after, limit);
    },
    onCatchUpFailed: (problem) => catchUpFailures.push(problem),
  });
  const member = await enterRoom({
    baseUrl,
    room,
    token: user.token,
    sockets,
    params: () => feed.joinParams(),
    socket: { transport: recordingTransport(wire), reconnectAfterMs: () => 50, rejoinAfterMs: () => 50 },
    prepare: (joining) => {
      joining.on("new_post", (live: Post) => {
        if (feed.catchingUp) liveDuringCatchUp.push(live);
        feed.received(live);
      });
      joining.on("post_updated", (change: PostUpdated) => feed.changed(change));
      joining.on("post_deleted", (change: PostDeleted) => feed.changed(change));
      joining.onError(() => feed.interrupted());
    },
    onEveryJoin: (response) => {
      replies.push(response);
      feed.joined(response);
    },
  });
  return {
    socket: member.socket,
    channel: member.channel,
    feed,
    wire,
    shown,
    replaced,
    replies,
    pagesAfter,
    liveDuringCatchUp,
    catchUpFailures,
  };
}

/** A fresh room with three members posting in it (one post already there) and Ann, who will read it. */
async function threePostersAndAReader(): Promise<{
  ann: RegisteredUser;
  room: string;
  members: Member[];
  livePoster: Member;
}> {
  const ann = await registerUser(baseUrl, uniqueName("ann"));
  const posters = await Promise.all(["ben", "cat", "dan"].map((name) => registerUser(baseUrl, uniqueName(name))));
  const room = uniqueName("e2e");
  const members = await Promise.all(posters.map((user) => enterRoom({ baseUrl, room, token: user.token, sockets })));
  const [livePoster] = members;
  if (!livePoster) throw new Error("no posters");
  await post(livePoster.channel, "before the gap");
  return { ann, room, members, livePoster };
}

/**
 * Posts `count` posts from each member at once (all pushes in flight together), answering them all. Up to
 * 750 pushes each wait for D1: their last replies come after phoenix.js's usual 10 s on a loaded 2-core
 * machine, and this is about catch-up, not latency, so they get a minute.
 */
async function postConcurrently(members: Member[], count: number, label: string): Promise<Post[]> {
  const pushes = members.flatMap((member, m) =>
    Array.from({ length: count }, (_, n) =>
      post(member.channel, `${label} ${m}.${n + 1}`, undefined, BULK_PUSH_TIMEOUT_MS),
    ),
  );
  return Promise.all(pushes);
}

const BULK_PUSH_TIMEOUT_MS = 60_000;

function ids(posts: Post[]): number[] {
  return posts.map((p) => p.id);
}

function lastSeenSeqsSent(wire: Wire): Array<number | undefined> {
  return frames(wire.sent)
    .filter(([, , , event]) => event === "phx_join")
    .map(([, , , , payload]) => payload.last_seen_seq as number | undefined);
}

/** The room's last seq: its last post's id, or the last change after it. */
async function roomSeq(room: string, token: string, lastPostId: number): Promise<number> {
  const source = { baseUrl, room, headers: { Authorization: `Bearer ${token}` } };
  const { changes } = await fetchChanges(source, lastPostId, 200);
  return changes.at(-1)?.seq ?? lastPostId;
}

async function expectExactlyTheStoredSequence(reader: Reader, room: string, token: string): Promise<void> {
  // Read what is stored only once the catch-up is over: posts are still being made during it.
  await waitUntil("the catch-up is over", () => !reader.feed.catchingUp, 20_000);
  const stored = await storedPosts(baseUrl, room, token);
  await waitUntil(`the reader has all ${stored.length} stored posts`, () => reader.shown.length >= stored.length);
  expect(reader.catchUpFailures).toEqual([]);
  const shownIds = ids(reader.shown);
  expect(new Set(shownIds).size, "no post is shown twice").toBe(shownIds.length);
  expect([...shownIds].sort((a, b) => a - b)).toEqual(ids(stored));
  // Each as the room has it now: edited, or a tombstone.
  expect(stored.map((p) => reader.feed.shown(p.id))).toEqual(stored);
  expect(reader.feed.completeThrough).toBe(await roomSeq(room, token, stored.at(-1)?.id ?? 0));
}

describe("catch-up with the room page's RoomFeed", () => {
  it("after a short gap, rejoins with last_seen_seq and shows the missed posts, edits and deletions, in order", async () => {
    const ann = await registerUser(baseUrl, uniqueName("ann"));
    const ben = await registerUser(baseUrl, uniqueName("ben"));
    const room = uniqueName("e2e");
    const poster = await enterRoom({ baseUrl, room, token: ben.token, sockets });
    const before = [await post(poster.channel, "before 1"), await post(poster.channel, "before 2")];
    const reader = await enterAsReader(room, ann);
    // Her read position, made at her first join, stays there: she never marks anything read.
    const lastRead = before[1]?.id;
    expect(reader.replies[0]).toEqual({
      posts: before,
      has_more: false,
      seq: before[1]?.id,
      changes: [],
      last_read_id: lastRead,
    });
    const live = await post(poster.channel, "live");
    await waitUntil("the reader has the live post", () => reader.shown.some((p) => p.id === live.id));

    reader.socket.disconnect();
    const missed = [];
    for (let n = 1; n <= 5; n++) missed.push(await post(poster.channel, `missed ${n}`));
    // Made while the reader is away: an edit of a post it has, a deletion of another, an edit of a new one.
    const edited = (await change(poster.channel, "edit_post", { id: before[0]?.id, message: "before 1, edited" }))
      .response as PostUpdated;
    const deleted = (await change(poster.channel, "delete_post", { id: live.id })).response as PostDeleted;
    const newEdited = (await change(poster.channel, "edit_post", { id: missed[4]?.id, message: "missed 5, edited" }))
      .response as PostUpdated;
    reader.socket.connect();
    await waitUntil("the reader rejoined", () => reader.replies.length === 2);
    const { seq: _seq, ...newNow } = newEdited;
    expect(reader.replies[1]).toEqual({
      posts: [...missed.slice(0, 4), newNow],
      has_more: false,
      seq: newEdited.seq,
      last_read_id: lastRead,
      changes: [
        {
          seq: edited.seq,
          type: "edit",
          post: expect.objectContaining({ id: before[0]?.id, message: "before 1, edited" }),
        },
        {
          seq: deleted.seq,
          type: "delete",
          post: expect.objectContaining({ id: live.id, message: "", deleted_by: "author" }),
        },
      ],
    });
    expect(lastSeenSeqsSent(reader.wire)).toEqual([undefined, live.id]);
    const after = await post(poster.channel, "after");
    await waitUntil("the reader has the post after", () => reader.shown.some((p) => p.id === after.id));

    // Shown in exactly id order, since nothing arrived out of turn; the two it had were redrawn.
    expect(ids(reader.shown)).toEqual(ids([...before, live, ...missed, after]));
    expect(reader.replaced.map((p) => [p.id, p.message])).toEqual([
      [before[0]?.id, "before 1, edited"],
      [live.id, ""],
    ]);
    await expectExactlyTheStoredSequence(reader, room, ann.token);
    expect(reader.pagesAfter).toEqual([]);
  });

  it("after a gap of more than 500 posts, pages every change over HTTP until has_more is false, merging live posts", async () => {
    const { ann, room, members, livePoster } = await threePostersAndAReader();

    let live: Post[] = [];
    const reader = await enterAsReader(room, ann, {
      // While the first page is on its way, more posts arrive live; the feed must show them, once.
      beforePage: async (page) => {
        if (page !== 1) return;
        live = await postConcurrently([livePoster], 20, "live during paging");
        await waitUntil("the reader got the live posts", () =>
          live.every((p) => reader.shown.some((s) => s.id === p.id)),
        );
      },
    });
    await waitUntil("the first join", () => reader.replies.length === 1);
    const lastSeen = reader.feed.completeThrough;

    reader.socket.disconnect();
    const missed = await postConcurrently(members, 250, "missed");
    expect(missed).toHaveLength(750);
    reader.socket.connect();

    await waitUntil("the reader rejoined", () => reader.replies.length === 2);
    const catchUp = reader.replies[1];
    expect(catchUp?.has_more).toBe(true);
    expect(catchUp?.posts).toHaveLength(500);
    expect(lastSeenSeqsSent(reader.wire)).toEqual([undefined, lastSeen]);

    expect(catchUp?.seq).toBe(lastSeen);
    await expectExactlyTheStoredSequence(reader, room, ann.token);
    // It paged from where it was (the reply's seq: the reply's 500 posts are in those pages too), then from
    // the last of each page, 200 changes a page, and stopped at the one that said has_more: false. The
    // 750 missed and the 20 live during the first page are 770 changes: four pages.
    expect(reader.pagesAfter).toEqual([0, 200, 400, 600].map((n) => (lastSeen ?? 0) + n));
    expect(reader.liveDuringCatchUp.map((p) => p.id)).toEqual(expect.arrayContaining(ids(live)));

    // Caught up: a later live post counts as complete at once.
    const later = await post(livePoster.channel, "after the catch-up");
    await waitUntil("the reader has it", () => reader.feed.completeThrough === later.id);
  });

  it("rejoins from the last complete post when the connection drops mid-catch-up, never past live posts", async () => {
    const { ann, room, members, livePoster } = await threePostersAndAReader();

    let cut = false;
    const reader = await enterAsReader(room, ann, {
      // Before the first page: live posts arrive (shown, but not complete: the page before them is not in
      // yet), then the connection drops and more is posted while it is down.
      beforePage: async () => {
        if (cut) return;
        cut = true;
        const live = await postConcurrently([livePoster], 20, "live during paging");
        await waitUntil("the reader got the live posts", () =>
          live.every((p) => reader.shown.some((s) => s.id === p.id)),
        );
        reader.socket.disconnect();
        await postConcurrently([livePoster], 5, "while down again");
        reader.socket.connect();
      },
    });
    await waitUntil("the first join", () => reader.replies.length === 1);
    const lastSeen = reader.feed.completeThrough;
    reader.socket.disconnect();
    await postConcurrently(members, 250, "missed");
    reader.socket.connect();

    await waitUntil("the reader rejoined twice", () => reader.replies.length === 3, 20_000);
    const firstCatchUp = reader.replies[1];
    expect(firstCatchUp?.has_more).toBe(true);
    // The second rejoin asks from where the first was (no page came in): the live posts did not move it.
    expect(lastSeenSeqsSent(reader.wire)).toEqual([undefined, lastSeen, lastSeen]);
    await expectExactlyTheStoredSequence(reader, room, ann.token);
  });
});
