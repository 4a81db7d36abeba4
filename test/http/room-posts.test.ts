/**
 * `GET /rooms/:room/posts`: a room's history as JSON, paged by post id (the post's number in its room),
 * for a logged-in page or an app with the socket token. History comes from the room, so a post members
 * have seen is in it even before D1 has its copy.
 */
import { describe, expect, it } from "vitest";
import type { Post } from "../../src/shared/post";
import { connectAndJoin } from "../helpers/socket";
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
