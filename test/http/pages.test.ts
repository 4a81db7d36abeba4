import { env } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { verifyUserToken } from "../../src/auth/token";
import { posts } from "../../src/db/schema";
import { db, makeUser, postAs, seedPosts, testSecrets } from "../helpers/users";
import { userTokenOf, Visitor } from "../helpers/visitor";

async function loggedIn(username: string): Promise<Visitor> {
  const visitor = new Visitor();
  expect((await visitor.register(username)).status).toBe(303);
  return visitor;
}

describe("layout", () => {
  it("embeds no user token and offers log in / sign up when logged out", async () => {
    const page = await new Visitor().get("/");
    expect(page.status).toBe(200);
    expect(page.html.startsWith("<!doctype html>")).toBe(true);
    expect(page.html).not.toContain('name="user_token"');
    expect(page.html).toContain('href="/login"');
    expect(page.html).toContain('href="/register"');
  });

  it("embeds a valid socket token for the logged-in user, their name and a logout button", async () => {
    const visitor = await loggedIn("layout_user");
    const page = await visitor.get("/");
    const token = userTokenOf(page.html);
    expect(token).toBeDefined();
    const verified = await verifyUserToken(token ?? "", testSecrets(), db);
    expect(verified).toMatchObject({ ok: true, user: { username: "layout_user" } });
    expect(page.html).toContain('id="whoami">layout_user<');
    expect(page.html).toMatch(/<form method="post" action="\/logout">/);
  });

  it("sends a CSP that allows no inline script, and other security headers", async () => {
    const page = await new Visitor().get("/");
    const csp = page.headers.get("Content-Security-Policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("unsafe-inline");
    expect(page.headers.get("X-Content-Type-Options")).toBe("nosniff");
    expect(page.html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // every script is an external file
  });

  it("answers unknown paths with a 404 page", async () => {
    const page = await new Visitor().get("/no/such/page");
    expect(page.status).toBe(404);
    expect(page.html).toContain("There is no page at this address.");
  });
});

describe("GET /", () => {
  it("lists rooms with recent posts, most recent first, and offers to open any room", async () => {
    const author = await makeUser("home_author");
    await postAs(author, "older", "one", new Date(Date.now() - 60_000));
    await postAs(author, "newer", "two", new Date());
    const page = await new Visitor().get("/");
    expect(page.html).toContain('action="/rooms"');
    const newer = page.html.indexOf('href="/rooms/newer"');
    const older = page.html.indexOf('href="/rooms/older"');
    expect(newer).toBeGreaterThan(-1);
    expect(older).toBeGreaterThan(newer);
  });

  it("shows each room's post count and last activity, counted as posts are stored", async () => {
    const author = await makeUser("count_author");
    await seedPosts(author, "counted", 3, new Date(Date.now() - 5 * 60_000));
    const page = await new Visitor().get("/");
    const entry = /<a href="\/rooms\/counted">#counted<\/a>.*?<\/li>/s.exec(page.html)?.[0] ?? "";
    expect(entry).toContain('<span class="post-count">3 posts</span>');
    expect(entry).toContain("last post 5 min ago");
  });
});

describe("GET /rooms?name=", () => {
  it("opens a valid room name", async () => {
    const page = await new Visitor().get("/rooms?name=%23garden");
    expect(page.status).toBe(303);
    expect(page.location).toBe("/rooms/garden");
  });

  it.each([
    ["", "Type a room name to open it."],
    ["bad name", "Room names are 1 to 64 letters, digits, - or _."],
    ["x".repeat(65), "Room names are 1 to 64 letters, digits, - or _."],
  ])("refuses %j with 422 and a message", async (name, message) => {
    const page = await new Visitor().get(`/rooms?name=${encodeURIComponent(name)}`);
    expect(page.status).toBe(422);
    expect(page.html).toContain(message);
  });
});

describe("GET /rooms/:room", () => {
  it("sends a logged-out visitor to log in, and back here afterwards", async () => {
    const page = await new Visitor().get("/rooms/lobby");
    expect(page.status).toBe(303);
    expect(page.location).toBe("/login?next=%2Frooms%2Flobby");
  });

  it.each(["bad!name", "a".repeat(65), "%3Cscript%3E", "dots.are.not.allowed"])(
    "is a 404 for room name %j",
    async (room) => {
      const visitor = await loggedIn(`room404_${room.length}_${room.charCodeAt(0)}`);
      const page = await visitor.get(`/rooms/${room}`);
      expect(page.status).toBe(404);
      expect(page.html).not.toContain("<script>");
    },
  );

  it("accepts 1 and 64 characters of A-Z a-z 0-9 _ -", async () => {
    const visitor = await loggedIn("room_edges");
    expect((await visitor.get("/rooms/a")).status).toBe(200);
    expect((await visitor.get(`/rooms/${"Az09_-".repeat(10)}abcd`)).status).toBe(200);
  });

  it("renders the room's recent posts on the server, oldest first, with the composer", async () => {
    const author = await makeUser("room_author");
    for (let n = 1; n <= 3; n++) {
      await postAs(author, "ordered", `post number ${n}`, new Date());
    }
    await postAs(author, "elsewhere", "not in this room", new Date());
    const page = await (await loggedIn("room_reader")).get("/rooms/ordered");
    expect(page.status).toBe(200);
    const list = /<ol id="posts"[^>]*>([\s\S]*?)<\/ol>/.exec(page.html)?.[1] ?? "";
    const order = [...list.matchAll(/post number (\d)/g)].map((match) => match[1]);
    expect(order).toEqual(["1", "2", "3"]);
    expect(list).toContain('<span class="author">room_author</span>');
    expect(list).not.toContain("not in this room");
    expect(page.html).toContain('<input id="post_message"');
    expect(page.html).toContain('src="/assets/room.js"');
  });

  it("shows only the 50 most recent posts", async () => {
    const author = await makeUser("busy_author");
    for (let n = 1; n <= 55; n++) {
      await postAs(author, "busy", `busy ${n} end`, new Date());
    }
    const page = await (await loggedIn("busy_reader")).get("/rooms/busy");
    const shown = [...page.html.matchAll(/busy (\d+) end/g)].map((match) => Number(match[1]));
    expect(shown).toHaveLength(50);
    expect(shown[0]).toBe(6);
    expect(shown.at(-1)).toBe(55);
  });

  it("escapes post text: a <script> post is shown as text", async () => {
    const author = await makeUser("xss_author");
    const attack = `<script>alert("pwned")</script><img src=x onerror=alert(1)>`;
    await postAs(author, "xss", attack, new Date());
    const page = await (await loggedIn("xss_reader")).get("/rooms/xss");
    expect(page.html).not.toContain(attack);
    expect(page.html).not.toContain("<img src=x");
    expect(page.html).toContain(
      "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;",
    );
  });

  it("marks the viewer's own posts, so mentions-only mode keeps them in view", async () => {
    const visitor = await loggedIn("own_reader");
    const me = await db.query.users.findFirst({ where: (users, { eq }) => eq(users.username, "own_reader") });
    if (!me) throw new Error("own_reader was not created");
    await postAs(me, "own", "written by me");
    const page = await visitor.get("/rooms/own");
    expect(page.html).toMatch(
      /<li class="post own" data-id="(\d+)" data-user-id="\d+" id="post-\1"><span class="author">own_reader<\/span>/,
    );
  });

  it("is never cached when it carries a user's token", async () => {
    const page = await (await loggedIn("no_cache_reader")).get("/rooms/nocache");
    expect(page.headers.get("Cache-Control")).toBe("private, no-store");
  });

  it("highlights posts that mention the viewer", async () => {
    const author = await makeUser("mention_author");
    await postAs(author, "hl", "hey @hl_reader look", new Date());
    await postAs(author, "hl", "nothing for you", new Date());
    const page = await (await loggedIn("hl_reader")).get("/rooms/hl");
    expect(page.html).toMatch(
      /<li class="post mention" data-id="(\d+)" data-user-id="\d+" id="post-\1"><span class="author">mention_author<\/span><time[^>]*>[^<]*<\/time><p class="message">hey @hl_reader look/,
    );
    expect(page.html).toMatch(
      /<li class="post" data-id="(\d+)" data-user-id="\d+" id="post-\1"><span class="author">mention_author<\/span><time[^>]*>[^<]*<\/time><p class="message">nothing for you/,
    );
  });

  it("shows each post as it is now: 'edited' with its time, a tombstone's words, and what the reader may do", async () => {
    const author = await makeUser("now_author");
    const visitor = await loggedIn("now_reader");
    const reader = await db.query.users.findFirst({ where: (users, { eq }) => eq(users.username, "now_reader") });
    if (!reader) throw new Error("now_reader was not created");
    const at = new Date("2026-12-06T09:30:00Z");
    const [edited, byAuthor, byModerator] = await seedPosts(author, "as_now", ["edited text", "gone", "spam"]);
    await postAs(reader, "as_now", "mine");
    await db
      .update(posts)
      .set({ message: "edited text, fixed", editedAt: at })
      .where(and(eq(posts.room, "as_now"), eq(posts.seq, edited as number)));
    for (const [seq, by] of [
      [byAuthor, "author"],
      [byModerator, "moderator"],
    ] as const) {
      await db
        .update(posts)
        .set({ message: "", deletedAt: at, deletedBy: by })
        .where(and(eq(posts.room, "as_now"), eq(posts.seq, seq as number)));
    }
    const html = (await visitor.get("/rooms/as_now")).html;
    expect(html).toMatch(
      /<time class="edited" datetime="2026-12-06T09:30:00.000Z">edited [^<]*09:30<\/time><p class="message">edited text, fixed<\/p><span class="actions"><button type="button" class="link" data-action="unread">Mark unread<\/button><\/span><\/li>/,
    );
    expect(html).toMatch(/<li class="post deleted"[^>]*>.*?<p class="message tombstone">message deleted<\/p><\/li>/);
    expect(html).toMatch(
      /<li class="post deleted"[^>]*>.*?<p class="message tombstone">removed by a moderator<\/p><\/li>/,
    );
    expect(html).not.toContain(">gone<");
    expect(html).not.toContain(">spam<");
    // Their own post: Edit and Delete; on someone else's only Mark unread (they do not moderate this room);
    // nothing on a tombstone.
    expect(html).toMatch(
      /<p class="message">mine<\/p><span class="actions"><button type="button" class="link" data-action="edit">Edit<\/button><button type="button" class="link" data-action="delete">Delete<\/button><\/span><\/li>/,
    );
    expect(html.match(/data-action=/g)).toHaveLength(3);
  });
});

describe("fail closed without TOKEN_SECRET", () => {
  it.each([
    ["missing", undefined],
    ["too short", "short-secret"],
  ])("answers every page and upgrade with 500 and logs how to set it (%s)", async (_, secret) => {
    const { createApp } = await import("../../src/http/app");
    const app = createApp();
    const errors: unknown[][] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => errors.push(args);
    try {
      const broken = { ...env, TOKEN_SECRET: secret } as Env;
      const home = await app.fetch(new Request("https://pyre.example/"), broken);
      const login = await app.fetch(new Request("https://pyre.example/login"), broken);
      const upgrade = await app.fetch(
        new Request("https://pyre.example/socket/websocket?room=lobby&token=x", { headers: { Upgrade: "websocket" } }),
        broken,
      );
      for (const response of [home, login, upgrade]) expect(response.status).toBe(500);
      expect(await home.text()).toContain("signing secret is missing");
    } finally {
      console.error = original;
    }
    expect(errors.flat().join(" ")).toContain("wrangler secret put TOKEN_SECRET");
  });
});
