/**
 * `GET /search` through the real worker: JSON for apps (cookie or Bearer token), the page for people, the
 * search box in every logged-in page's top bar, posts written by real rooms, a private room found only by
 * its members, and every refusal of docs/bad-input.md's search rows.
 */
import { afterEach, describe, expect, it } from "vitest";
import { type ApiClient, addMembers, bearer, browser, createRoom } from "../helpers/rooms";
import { closeAll, connectAndJoin, type TestSocket } from "../helpers/socket";
import { makeUser, searchIndexCaughtUp, seedPosts } from "../helpers/users";
import { Visitor } from "../helpers/visitor";

const JSON_ACCEPT = { Accept: "application/json" };
const sockets: TestSocket[] = [];

afterEach(() => closeAll(sockets));

/**
 * Posts through a real room, as a member does: in D1 (mentions included) before ok, and in the search index
 * right after (the room indexes after each copy, off the poster's path).
 */
async function postIn(client: ApiClient, room: string, messages: string[]): Promise<void> {
  const { socket, joinRef } = await connectAndJoin(client.user, room);
  sockets.push(socket);
  for (const message of messages) {
    const reply = await socket.push(`room:${room}`, "new_post", { message }, joinRef);
    expect(reply.status, JSON.stringify(reply.response)).toBe("ok");
  }
  await searchIndexCaughtUp();
}

async function searchJson(client: ApiClient, query: string) {
  return client.get(`/search?${query}`, JSON_ACCEPT);
}

describe("GET /search as JSON", () => {
  it("answers the results a room's posts give, each with its room, the post and a snippet, by cookie or token", async () => {
    const poster = await browser("json_poster");
    await postIn(poster, "search_json", [
      "the quarterly <report> & 'numbers' are in",
      "lunch plans?",
      "a report, again",
    ]);
    const reader = await bearer("json_reader");

    const found = await searchJson(reader, "q=report&room=search_json");
    expect(found.status, found.text).toBe(200);
    expect(found.headers.get("Content-Type")).toContain("application/json");
    expect(found.headers.get("Cache-Control")).toBe("private, no-store");
    expect(found.body.results).toHaveLength(2);
    const [best] = found.body.results;
    expect(best).toEqual({
      room: "search_json",
      post: {
        id: 3,
        message: "a report, again",
        inserted_at: expect.stringMatching(/Z$/),
        user: { id: poster.user.id, username: "json_poster" },
      },
      snippet: "a <mark>report</mark>, again",
    });
    // All other text is escaped: the post's own markup stays text.
    expect(found.body.results[1].snippet).toBe(
      "the quarterly &lt;<mark>report</mark>&gt; &amp; &#39;numbers&#39; are in",
    );
    expect((await searchJson(poster, "q=lunch")).body.results.map((r: { post: { id: number } }) => r.post.id)).toEqual([
      2,
    ]);
  });

  it("filters by person with from= (with or without @), and bounds limit at 50 (20 by default)", async () => {
    const alice = await makeUser("from_alice");
    const bob = await makeUser("from_bob");
    await seedPosts(
      alice,
      "search_from",
      Array.from({ length: 25 }, (_, n) => `walrus ${n}`),
    );
    await seedPosts(bob, "search_from", ["walrus from bob"]);
    const reader = await bearer("from_reader");
    const byBob = await searchJson(reader, "q=walrus&from=%40FROM_BOB");
    expect(byBob.body.results.map((r: { post: { message: string } }) => r.post.message)).toEqual(["walrus from bob"]);
    expect((await searchJson(reader, "q=walrus&room=search_from")).body.results).toHaveLength(20);
    expect((await searchJson(reader, "q=walrus&room=search_from&limit=50")).body.results).toHaveLength(26);
    expect((await searchJson(reader, "q=walrus&room=%23search_from&limit=3")).body.results).toHaveLength(3);
  });

  it("searching a private room you are not in: never found, and no longer once a member is removed", async () => {
    const owner = await browser("hush_owner");
    const member = await bearer("hush_member");
    const outsider = await bearer("hush_outsider");
    const room = await createRoom(owner, { kind: "private", title: "Hush" });
    await addMembers(owner, room.id, [member]);
    await postIn(owner, room.id, ["the pelican password is hunter2"]);

    const ids = async (client: ApiClient, query: string) => {
      const answer = await searchJson(client, query);
      expect(answer.status, answer.text).toBe(200);
      return answer.body.results.map((r: { room: string }) => r.room);
    };
    expect(await ids(member, "q=pelican")).toEqual([room.id]);
    expect(await ids(outsider, "q=pelican")).toEqual([]);
    expect(await ids(outsider, `q=pelican&room=${room.id}`)).toEqual([]);

    expect((await owner.delete(`/api/rooms/${room.id}/members/${member.username}`)).status).toBe(204);
    expect(await ids(member, "q=pelican")).toEqual([]);
    expect(await ids(owner, "q=pelican")).toEqual([room.id]);
  });

  it("FTS operators and quotes in q: each is only text, answered 200", async () => {
    const author = await makeUser("syntax_author");
    await seedPosts(author, "search_ops", ['she said "NEAR" AND left', "title: draft*"]);
    const reader = await bearer("syntax_reader");
    for (const [q, expected] of [
      ['"NEAR', 1],
      ["NEAR(said left)", 0],
      ["AND", 1],
      ['"unterminated', 0],
      ["title:", 1],
      ["draft*", 1],
      ["dra*", 0],
      ["-left OR", 0],
      ["(", null],
    ] as const) {
      const answer = await searchJson(reader, `q=${encodeURIComponent(q)}&room=search_ops`);
      if (expected === null) {
        expect(answer.status, q).toBe(400);
      } else {
        expect(answer.status, `${q}: ${answer.text}`).toBe(200);
        expect(answer.body.results.length, q).toBe(expected);
      }
    }
  });
});

describe("GET /search, bad input", () => {
  it("not logged in: 401 for JSON (a bad token too); the page sends you to log in", async () => {
    const stranger = new Visitor();
    const json = await stranger.get("/search?q=x", JSON_ACCEPT);
    expect(json.status).toBe(401);
    expect(JSON.parse(json.html)).toEqual({
      error: "Log in (or send the socket token as Authorization: Bearer) to search.",
    });
    const badToken = await stranger.get("/search?q=x", { ...JSON_ACCEPT, Authorization: "Bearer not.a.token" });
    expect(badToken.status).toBe(401);
    const page = await stranger.get("/search?q=x");
    expect(page.status).toBe(303);
    expect(page.location).toBe("/login?next=%2Fsearch%3Fq%3Dx");
  });

  it("an empty search: 400 for JSON; the page shows the empty search box", async () => {
    const client = await browser("empty_searcher");
    for (const query of ["", "q=", "q=%20%20"]) {
      const json = await searchJson(client, query);
      expect(json.status).toBe(400);
      expect(json.body).toEqual({ error: "q is required: the words to search for." });
    }
    const page = await client.get("/search");
    expect(page.status).toBe(200);
    expect(page.text).toContain('id="search_q"');
    expect(page.text).not.toContain('id="search_error"');
    expect(page.text).not.toContain("search_results_heading");
  });

  it("a search of 1,000 characters: 400, saying the length and the limit (200 characters is searched)", async () => {
    const client = await browser("long_searcher");
    const long = await searchJson(client, `q=${"a".repeat(1000)}`);
    expect(long.status).toBe(400);
    expect(long.body).toEqual({ error: "q is too long (1000 characters, at most 200)." });
    // Counted in characters (code points), after trimming.
    const emoji = await searchJson(client, `q=${encodeURIComponent(`  ${"🔥".repeat(201)}  `)}`);
    expect(emoji.body).toEqual({ error: "q is too long (201 characters, at most 200)." });
    expect((await searchJson(client, `q=${"a".repeat(200)}`)).status).toBe(200);
    const page = await client.get(`/search?q=${"a".repeat(1000)}`);
    expect(page.status).toBe(400);
    expect(page.text).toContain("q is too long (1000 characters, at most 200).");
  });

  it("a search with no words (only punctuation, operators' symbols or emoji): 400", async () => {
    const client = await browser("wordless_searcher");
    for (const q of ['"', "*", "( ) - : ^", "🔥🔥", "..."]) {
      const answer = await searchJson(client, `q=${encodeURIComponent(q)}`);
      expect(answer.status, q).toBe(400);
      expect(answer.body).toEqual({ error: "q has no words to search for: give at least one letter or digit." });
    }
  });

  it("a bad room, from or limit: 400 naming each, all at once", async () => {
    const client = await browser("filter_searcher");
    const answer = await searchJson(client, "q=x&room=a%2Fb&from=no%20spaces&limit=51");
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({
      error:
        "room must be a room's id: a public room's name (1 to 64 of A-Z a-z 0-9 _ -) or a private room's id; " +
        "from must be a username: 3 to 24 letters, digits or _; limit must be a whole number from 1 to 50.",
    });
    for (const limit of ["0", "-1", "1.5", "x", ""]) {
      expect((await searchJson(client, `q=x&limit=${limit}`)).status, limit).toBe(400);
    }
    expect((await searchJson(client, `q=x&room=${"r".repeat(65)}`)).status).toBe(400);
    expect((await searchJson(client, "q=x&from=ab")).status).toBe(400);
  });
});

describe("the search page", () => {
  it("lists the results with their matches marked, each linking to the post in its room, all text escaped", async () => {
    const author = await makeUser("page_author");
    const [id] = await seedPosts(author, "search_page", ["<script>alert(1)</script> beware the <b>badger</b>"]);
    const client = await browser("page_searcher");
    const page = await client.get("/search?q=badger&room=search_page");
    expect(page.status).toBe(200);
    expect(page.text).toContain(`href="/rooms/search_page#post-${id}"`);
    expect(page.text).toContain(
      "&lt;script&gt;alert(1)&lt;/script&gt; beware the &lt;b&gt;<mark>badger</mark>&lt;/b&gt;",
    );
    expect(page.text).not.toContain("<script>alert(1)");
    expect(page.text).toContain('value="badger"');
    const none = await client.get("/search?q=nothingmatchesthis");
    expect(none.text).toContain("Nothing found");
  });

  it("is offered in every logged-in page's top bar, and not to visitors", async () => {
    const client = await browser("topbar_searcher");
    for (const path of ["/", "/account", "/rooms/topbar_room"]) {
      const page = await client.get(path);
      expect(page.text, path).toContain('<form method="get" action="/search">');
      expect(page.text, path).toContain('id="mentions_link"');
    }
    expect((await new Visitor().get("/")).html).not.toContain('action="/search"');
  });
});
