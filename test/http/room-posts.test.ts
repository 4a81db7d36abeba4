/**
 * `GET /rooms/:room/posts`: a room's history as JSON, paged by post id (the post's number in its room),
 * for a logged-in page or an app with the socket token; and `GET /rooms/:room/changes`, every change of
 * the room in order (new posts, edits, deletions), paged by seq. History comes from the room, so a post or
 * change members have seen is in it even before D1 has its copy, and every post is as it is now.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Post } from "../../src/shared/post";
import type { Change } from "../../src/shared/room-contract";
import { bearer, createRoom, roomStorage } from "../helpers/rooms";
import { closeAll, connectAndJoin, type TestSocket } from "../helpers/socket";
import { makeUser, seedPosts, tokenFor } from "../helpers/users";
import { Visitor } from "../helpers/visitor";

async function loggedIn(username: string): Promise<Visitor> {
  const visitor = new Visitor();
  expect((await visitor.register(username)).status).toBe(303);
  return visitor;
}

async function page(
  visitor: Visitor,
  path: string,
): Promise<{ status: number; body: { posts?: Post[]; error?: string } }> {
  const answer = await visitor.get(path);
  expect(answer.headers.get("Content-Type")).toContain("application/json");
  return { status: answer.status, body: JSON.parse(answer.html) };
}

function ids(posts: Post[] | undefined): number[] {
  return (posts ?? []).map((post) => post.id);
}

describe("GET /rooms/:room/posts", () => {
  it("pages the history: the newest page, before, after, the last page, oldest first", async () => {
    const author = await makeUser("history_author");
    const seeded = await seedPosts(author, "paged", 120);
    const visitor = await loggedIn("history_reader");

    const newest = await page(visitor, "/rooms/paged/posts");
    expect(newest.status).toBe(200);
    expect(ids(newest.body.posts)).toEqual(seeded.slice(-50));
    expect(newest.body.posts?.[0]).toEqual({
      id: seeded[70],
      message: "seed 71",
      inserted_at: expect.stringMatching(/Z$/),
      user: { id: author.id, username: "history_author" },
    });

    const older = await page(visitor, `/rooms/paged/posts?before=${seeded[70]}&limit=30`);
    expect(ids(older.body.posts)).toEqual(seeded.slice(40, 70));
    const first = await page(visitor, `/rooms/paged/posts?before=${seeded[40]}&limit=200`);
    expect(ids(first.body.posts)).toEqual(seeded.slice(0, 40)); // short: the beginning of the room

    // after=0 is "from the first post": what a client that had seen nothing pages on from.
    expect(ids((await page(visitor, "/rooms/paged/posts?after=0&limit=5")).body.posts)).toEqual(seeded.slice(0, 5));
    const next = await page(visitor, `/rooms/paged/posts?after=${seeded[9]}&limit=100`);
    expect(ids(next.body.posts)).toEqual(seeded.slice(10, 110));
    const last = await page(visitor, `/rooms/paged/posts?after=${seeded[109]}&limit=100`);
    expect(ids(last.body.posts)).toEqual(seeded.slice(110)); // short: caught up
    expect((await page(visitor, `/rooms/paged/posts?after=${seeded[119]}`)).body.posts).toEqual([]);
    expect((await page(visitor, "/rooms/nothing_here/posts")).body.posts).toEqual([]);
  });

  it("includes posts members have seen live, and serves an app holding the socket token", async () => {
    const writer = await makeUser("history_live");
    const { socket } = await connectAndJoin(writer, "live_history");
    const sent = await socket.push("room:live_history", "new_post", { message: "seen live" });
    socket.close();
    const answer = await new Visitor().get("/rooms/live_history/posts", {
      Authorization: `Bearer ${await tokenFor(writer)}`,
    });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.html)).toEqual({ posts: [sent.response] });
  });

  it.each([
    ["before=abc", "before must be a positive integer (a post id)."],
    ["before=0", "before must be a positive integer (a post id)."],
    ["after=-3", "after must be a non-negative integer (a post id, or 0 for the first)."],
    ["after=1.5", "after must be a non-negative integer (a post id, or 0 for the first)."],
    ["after=01", "after must be a non-negative integer (a post id, or 0 for the first)."],
    ["limit=0", "limit must be a positive integer, at most 200."],
    ["limit=201", "limit must be at most 200."],
    ["before=5&after=3", "give before or after, not both."],
    ["before=x&limit=9999", "before must be a positive integer (a post id); limit must be at most 200."],
  ])("answers %s with 400 and says what is wrong", async (query, error) => {
    const visitor = await loggedIn(`bad_query_${Math.random().toString(36).slice(2, 8)}`);
    expect(await page(visitor, `/rooms/lobby/posts?${query}`)).toEqual({ status: 400, body: { error } });
  });

  it("answers 401 JSON to a visitor who is not logged in, and to a bad bearer token", async () => {
    const expected = {
      status: 401,
      body: { error: "Log in (or send the socket token as Authorization: Bearer) to read a room's history." },
    };
    expect(await page(new Visitor(), "/rooms/lobby/posts")).toEqual(expected);
    const answer = await new Visitor().get("/rooms/lobby/posts", { Authorization: "Bearer not-a-token" });
    expect({ status: answer.status, body: JSON.parse(answer.html) }).toEqual(expected);
  });

  it("answers 404 JSON for a room name that cannot exist", async () => {
    const visitor = await loggedIn("history_bad_room");
    expect(await page(visitor, "/rooms/no%20spaces/posts")).toEqual({
      status: 404,
      body: { error: "Room names are 1 to 64 of A-Z a-z 0-9 _ -." },
    });
  });
});

const open: TestSocket[] = [];
afterEach(() => closeAll(open));

describe("GET /rooms/:room/changes", () => {
  it("pages every change in order, each post as it is now, saying has_more until the last page", async () => {
    const author = await bearer("changes_author");
    const seeded = await seedPosts(author.user, "changes_paged", 3);
    const { socket } = await connectAndJoin(author.user, "changes_paged");
    open.push(socket);
    const topic = "room:changes_paged";
    const edit = await socket.push(topic, "edit_post", { id: seeded[0], message: "first, edited" });
    const deleted = await socket.push(topic, "delete_post", { id: seeded[1] });
    const live = await socket.push(topic, "new_post", { message: "live" });
    const [first, second, third] = seeded as [number, number, number];

    const all = await author.get("/rooms/changes_paged/changes?after_seq=0");
    expect(all.status).toBe(200);
    expect(all.headers.get("Cache-Control")).toBe("private, no-store");
    const { seq: _seq, ...firstNow } = edit.response;
    expect(all.body).toEqual({
      changes: [
        { seq: first, type: "post", post: firstNow },
        { seq: second, type: "post", post: expect.objectContaining({ id: second, message: "", deleted_by: "author" }) },
        { seq: third, type: "post", post: expect.objectContaining({ id: third, message: "seed 3" }) },
        { seq: edit.response.seq, type: "edit", post: firstNow },
        { seq: deleted.response.seq, type: "delete", post: expect.objectContaining({ id: second, message: "" }) },
        { seq: live.response.id, type: "post", post: live.response },
      ],
      has_more: false,
    });
    const pages: Change[][] = [];
    let after = 0;
    for (;;) {
      const page = await author.get(`/rooms/changes_paged/changes?after_seq=${after}&limit=4`);
      pages.push(page.body.changes);
      after = page.body.changes.at(-1)?.seq ?? after;
      if (!page.body.has_more) break;
    }
    expect(pages.map((page) => page.map((change) => change.seq))).toEqual([
      [first, second, third, edit.response.seq],
      [deleted.response.seq, live.response.id],
    ]);
    expect((await author.get(`/rooms/changes_paged/changes?after_seq=${live.response.id}`)).body).toEqual({
      changes: [],
      has_more: false,
    });
  });

  it("answers exactly as /posts does to who may not read the room: 401, and 404 for a private room or an impossible name", async () => {
    const owner = await bearer("changes_owner");
    const outsider = await bearer("changes_outsider");
    const room = await createRoom(owner, { kind: "private", title: "Changes" });
    expect((await owner.get(`/rooms/${room.id}/changes?after_seq=0`)).body).toEqual({ changes: [], has_more: false });
    const refused = await outsider.get(`/rooms/${room.id}/changes?after_seq=0`);
    expect([refused.status, refused.body]).toEqual([404, { error: "There is no such room." }]);
    const loggedOut = await new Visitor().get("/rooms/lobby/changes?after_seq=0");
    expect([loggedOut.status, JSON.parse(loggedOut.html)]).toEqual([
      401,
      { error: "Log in (or send the socket token as Authorization: Bearer) to read a room's history." },
    ]);
    const impossible = await owner.get("/rooms/no%20spaces/changes?after_seq=0");
    expect([impossible.status, impossible.body]).toEqual([
      404,
      { error: "Room names are 1 to 64 of A-Z a-z 0-9 _ -." },
    ]);
    // A public room nobody opened has no changes, and reading them creates nothing.
    expect((await owner.get("/rooms/changes_nobody/changes?after_seq=0")).body).toEqual({
      changes: [],
      has_more: false,
    });
    expect(await roomStorage("changes_nobody")).toEqual({ keys: [], tables: [] });
  });
});
