/**
 * Your mentions through the real worker: `GET /api/mentions` (cookie or Bearer token) and the `/mentions`
 * page, fed by posts real rooms store, only from rooms you can read (a member removed mid-way loses that
 * room's mentions), the count in the top bar and what clears it, and the refusals of docs/bad-input.md.
 */
import { afterEach, describe, expect, it } from "vitest";
import { UNSEEN_MENTIONS_CAP } from "../../src/db/mentions";
import { copyPosts } from "../../src/db/posts";
import { type ApiClient, addMembers, bearer, browser, createRoom } from "../helpers/rooms";
import { closeAll, connectAndJoin, type TestSocket } from "../helpers/socket";
import { db } from "../helpers/users";
import { Visitor } from "../helpers/visitor";

const sockets: TestSocket[] = [];

afterEach(() => closeAll(sockets));

/** Posts through a real room, as a member does: in D1, mentions included, before the reply says ok. */
async function postIn(client: ApiClient, room: string, messages: string[]): Promise<void> {
  const { socket, joinRef } = await connectAndJoin(client.user, room);
  sockets.push(socket);
  for (const message of messages) {
    const reply = await socket.push(`room:${room}`, "new_post", { message }, joinRef);
    expect(reply.status, JSON.stringify(reply.response)).toBe("ok");
  }
}

interface MentionAnswer {
  id: number;
  room: string;
  message: string;
  inserted_at: string;
  user: { id: number; username: string };
}

async function mentionsPage(
  client: ApiClient,
  query = "",
): Promise<{ posts: MentionAnswer[]; next_before: string | null }> {
  const answer = await client.get(`/api/mentions${query}`);
  expect(answer.status, answer.text).toBe(200);
  expect(answer.headers.get("Cache-Control")).toBe("private, no-store");
  return answer.body;
}

/** The number in the top bar's "Mentions" link, 0 when it shows none. */
function countIn(html: string): string {
  return /<span id="mentions_count">([^<]*)<\/span>/.exec(html)?.[1] ?? "0";
}

describe("GET /api/mentions", () => {
  it("lists the posts mentioning you in every room you can read, newest first, each with its room, paged", async () => {
    const me = await bearer("api_me");
    const ann = await browser("api_ann");
    const ben = await bearer("api_ben");
    const secret = await createRoom(ann, { kind: "private", title: "Not yours" });
    await postIn(ann, "mentions_one", ["hello @api_me", "about @API_ME's idea", "no mention of api_me here"]);
    await postIn(ben, "mentions_two", ["@api_me over here"]);
    await postIn(me, "mentions_two", ["talking to myself, @api_me"]);
    await postIn(ann, secret.id, ["@api_me cannot read this"]);
    await postIn(ann, "mentions_one", ["last one, @api_me"]);

    const all = await mentionsPage(me);
    expect(all.posts.map((post) => [post.room, post.message])).toEqual([
      ["mentions_one", "last one, @api_me"],
      ["mentions_two", "@api_me over here"],
      ["mentions_one", "about @API_ME's idea"],
      ["mentions_one", "hello @api_me"],
    ]);
    expect(all.posts[1]).toEqual({
      id: 1,
      message: "@api_me over here",
      inserted_at: expect.stringMatching(/Z$/),
      user: { id: ben.user.id, username: "api_ben" },
      room: "mentions_two",
    });
    expect(all.next_before).toBeNull();

    const seen: string[] = [];
    let query = "?limit=3";
    for (;;) {
      const page = await mentionsPage(me, query);
      seen.push(...page.posts.map((post) => post.message));
      if (page.next_before === null) break;
      expect(page.posts).toHaveLength(3);
      query = `?limit=3&before=${encodeURIComponent(page.next_before)}`;
    }
    expect(seen).toEqual(all.posts.map((post) => post.message));
  });

  it("a member removed mid-way: that room's mentions vanish", async () => {
    const owner = await browser("gone_owner");
    const member = await bearer("gone_member");
    const room = await createRoom(owner, { kind: "private", title: "Leaving soon" });
    await addMembers(owner, room.id, [member]);
    await postIn(owner, room.id, ["@gone_member welcome"]);
    expect((await mentionsPage(member)).posts.map((post) => post.room)).toEqual([room.id]);
    expect((await owner.delete(`/api/rooms/${room.id}/members/${member.username}`)).status).toBe(204);
    expect((await mentionsPage(member)).posts).toEqual([]);
  });

  it("mentions, not logged in: 401, with no cookie or a bad token", async () => {
    const stranger = new Visitor();
    const anonymous = await stranger.get("/api/mentions");
    expect(anonymous.status).toBe(401);
    expect(JSON.parse(anonymous.html)).toEqual({
      error: "Log in (or send the socket token as Authorization: Bearer) to read your mentions.",
    });
    expect((await stranger.get("/api/mentions", { Authorization: "Bearer not.a.token" })).status).toBe(401);
  });

  it("a before that is no cursor: 400", async () => {
    const client = await bearer("bad_cursor");
    for (const before of ["", "12", "abc", "1.2.3", "-1.5", "1.0", "1.99999999999999999"]) {
      const answer = await client.get(`/api/mentions?before=${encodeURIComponent(before)}`);
      expect(answer.status, before).toBe(400);
      expect(answer.body, before).toEqual({ error: "before must be the next_before of an earlier page of mentions." });
    }
  });

  it("a bad mentions limit: 400; 100 is read", async () => {
    const client = await bearer("bad_limit");
    for (const limit of ["0", "101", "x", "2.5"]) {
      const answer = await client.get(`/api/mentions?limit=${limit}`);
      expect(answer.status, limit).toBe(400);
      expect(answer.body, limit).toEqual({ error: "limit must be a whole number from 1 to 100." });
    }
    expect((await client.get("/api/mentions?limit=100")).status).toBe(200);
  });
});

describe("the mentions page and the top bar's count", () => {
  it("counts new mentions in the top bar; the page lists them with links, and opening it clears the count", async () => {
    const me = await browser("page_me");
    const other = await browser("page_other");
    await postIn(other, "page_mentions", ["@page_me first <b>bold</b>", "@page_me second"]);

    const home = await me.get("/");
    expect(countIn(home.text)).toBe("2");
    expect(countIn((await other.get("/")).text)).toBe("0");

    const page = await me.get("/mentions");
    expect(page.status).toBe(200);
    const second = page.text.indexOf("@page_me second");
    const first = page.text.indexOf("@page_me first &lt;b&gt;bold&lt;/b&gt;");
    expect(second).toBeGreaterThan(0);
    expect(first).toBeGreaterThan(second);
    expect(page.text).toContain('href="/rooms/page_mentions#post-2"');
    expect(page.text).toContain('href="/rooms/page_mentions#post-1"');
    expect(countIn(page.text)).toBe("0");
    expect(countIn((await me.get("/")).text)).toBe("0");

    await postIn(other, "page_mentions", ["@page_me third"]);
    expect(countIn((await me.get("/account")).text)).toBe("1");
  });

  it("shows 99+ past 99, and pages back with Older mentions, which leaves the count alone", async () => {
    const me = await browser("many_me");
    const other = await bearer("many_other");
    const posts = Array.from({ length: UNSEEN_MENTIONS_CAP + 20 }, (_, n) => ({
      post: {
        id: n + 1,
        message: `@many_me number ${n + 1}`,
        inserted_at: new Date(Date.UTC(2026, 0, 1) + n).toISOString(),
        user: { id: other.user.id, username: other.username },
      },
      clientId: null,
    }));
    // As the room copies its log (this room's Durable Object never woke).
    await copyPosts(db, "many_mentions", posts);
    expect(countIn((await me.get("/")).text)).toBe("99+");

    // Before post 60's time (number 60 was copied at the start's time + 59 ms).
    const older = await me.get(`/mentions?before=${Date.UTC(2026, 0, 1) + 59}.1`);
    expect(older.status).toBe(200);
    expect(older.text).toContain("@many_me number 59<");
    expect(older.text).not.toContain("@many_me number 60<");
    expect(countIn(older.text)).toBe("99+");

    const newest = await me.get("/mentions");
    expect(newest.text).toContain("@many_me number 120<");
    expect(newest.text).toContain('id="older_mentions"');
    expect(countIn(newest.text)).toBe("0");
  });

  it("sends a logged-out visitor to log in; a before that is no cursor is a 400 page", async () => {
    const stranger = await new Visitor().get("/mentions");
    expect(stranger.status).toBe(303);
    expect(stranger.location).toBe("/login?next=%2Fmentions");
    const me = await browser("bad_page_me");
    const bad = await me.get("/mentions?before=nonsense");
    expect(bad.status).toBe(400);
    expect(bad.text).toContain("before must be the next_before of an earlier page of mentions.");
  });
});
