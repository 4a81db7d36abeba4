/**
 * docs/bad-input.md, "Pages and forms": room names in addresses and in the open-a-room form, and
 * usernames in the sign-up form. The answers are HTTP statuses with a message on the page, checked here
 * through the real worker as a browser would see them. A room name is refused before D1 or a room is
 * asked anything; a refused sign-up creates no user.
 */
import { count } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { users } from "../../src/db/schema";
import { db } from "../helpers/users";
import { type Page, Visitor } from "../helpers/visitor";

const ROOM_RULE = "Room names are 1 to 64 letters, digits, - or _.";
const USERNAME_RULE = "Username must be 3 to 24 letters, digits or underscores";

let people = 0;
async function loggedIn(): Promise<Visitor> {
  people += 1;
  const visitor = new Visitor();
  expect((await visitor.register(`viewer_${people}`)).status).toBe(303);
  return visitor;
}

/** The page's message as the browser shows it, with HTML's escaping undone. */
function errorMessage(page: Page): string | undefined {
  const match = /<p id="error_message">([^<]*)<\/p>/.exec(page.html) ?? /id="room_name_error">([^<]*)</.exec(page.html);
  return match?.[1]
    ?.replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&")
    .trim();
}

async function countUsers(): Promise<number> {
  return (await db.select({ n: count() }).from(users))[0]?.n ?? 0;
}

/** What the open-a-room form answers to `name`. */
async function openRoomForm(visitor: Visitor, name: string): Promise<[number, string | undefined]> {
  const page = await visitor.get(`/rooms?name=${encodeURIComponent(name)}`);
  return [page.status, errorMessage(page)];
}

describe("room names in pages and forms", () => {
  it("a room name with /: another path (404 page, or room a's history), 404 when encoded, 422 in the form", async () => {
    const visitor = await loggedIn();
    const nested = await visitor.get("/rooms/a/b");
    expect([nested.status, errorMessage(nested)]).toEqual([404, "There is no page at this address."]);
    // `/rooms/a/posts` is not a room called "a/posts": it is room a's history (JSON), the route it matches.
    const history = await visitor.get("/rooms/a/posts");
    expect([history.status, JSON.parse(history.html)]).toEqual([200, { posts: [] }]);
    const encoded = await visitor.get("/rooms/a%2Fb");
    expect([encoded.status, errorMessage(encoded)]).toEqual([404, `There is no room "a/b". ${ROOM_RULE}`]);
    const encodedHistory = await visitor.get("/rooms/a%2Fb/posts");
    expect([encodedHistory.status, JSON.parse(encodedHistory.html)]).toEqual([
      404,
      { error: "Room names are 1 to 64 of A-Z a-z 0-9 _ -." },
    ]);
    expect(await openRoomForm(visitor, "a/b")).toEqual([422, ROOM_RULE]);
  });

  it("a room name ..: the address resolves to / (the home page), 404 for ..., 422 in the form", async () => {
    const visitor = await loggedIn();
    for (const path of ["/rooms/..", "/rooms/%2e%2e", "/rooms/.%2E/"]) {
      const page = await visitor.get(path);
      expect(page.status, path).toBe(200);
      expect(page.html, path).toContain('id="room_name"'); // the home page's open-a-room form
    }
    const dots = await visitor.get("/rooms/...");
    expect([dots.status, errorMessage(dots)]).toEqual([404, `There is no room "...". ${ROOM_RULE}`]);
    expect(await openRoomForm(visitor, "..")).toEqual([422, ROOM_RULE]);
  });

  it("a room name in unicode: 404 on the page, 404 JSON from the history, 422 in the form", async () => {
    const visitor = await loggedIn();
    for (const name of ["café", "🔥", "ｌｏｂｂｙ"]) {
      const page = await visitor.get(`/rooms/${encodeURIComponent(name)}`);
      expect([page.status, errorMessage(page)], name).toEqual([404, `There is no room "${name}". ${ROOM_RULE}`]);
      const history = await visitor.get(`/rooms/${encodeURIComponent(name)}/posts`);
      expect(history.status, name).toBe(404);
      expect(await openRoomForm(visitor, name)).toEqual([422, ROOM_RULE]);
    }
  });

  it("a room name of 65 characters: 404 on the page, 422 in the form; 64 opens the room", async () => {
    const visitor = await loggedIn();
    const long = "r".repeat(65);
    const page = await visitor.get(`/rooms/${long}`);
    expect([page.status, errorMessage(page)]).toEqual([404, `There is no room "${long}". ${ROOM_RULE}`]);
    expect(await openRoomForm(visitor, long)).toEqual([422, ROOM_RULE]);
    const opened = await visitor.get(`/rooms?name=${"r".repeat(64)}`);
    expect([opened.status, opened.location]).toEqual([303, `/rooms/${"r".repeat(64)}`]);
  });
});

describe("usernames in the sign-up form", () => {
  it("an extremely long username: 422 naming the rule (10,000 characters), 413 past the 16 KiB form limit", async () => {
    const before = await countUsers();
    const long = await new Visitor().register("a".repeat(10_000), "correct horse battery", "long@example.com");
    expect(long.status).toBe(422);
    expect(long.html).toContain(`<p class="field-error" id="username_error">${USERNAME_RULE}</p>`);
    const huge = await new Visitor().register("a".repeat(20_000), "correct horse battery", "huge@example.com");
    expect([huge.status, errorMessage(huge)]).toEqual([413, "That form was larger than 16 KiB, so it was refused."]);
    expect(await countUsers()).toBe(before);
    // Others unaffected: the next person signs up as usual.
    expect((await new Visitor().register("after_long")).status).toBe(303);
  });

  it.each([
    ["CJK", "名前です"],
    ["accented", "Zoë_smith"],
    ["emoji", "🔥🔥🔥"],
    ["fullwidth letters", "ａｄｍｉｎ"],
    ["a zero-width space", "admin\u200b"],
    ["a right-to-left override", "\u202enimda"],
    ["markup", "<b>admin</b>"],
  ])("a unicode username (%s): 422 naming the rule, typed value shown back escaped", async (_, username) => {
    const before = await countUsers();
    const page = await new Visitor().register(username, "correct horse battery", "unicode@example.com");
    expect(page.status).toBe(422);
    expect(page.html).toContain(`<p class="field-error" id="username_error">${USERNAME_RULE}</p>`);
    const escaped = username.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
    expect(page.html).toContain(`value="${escaped}"`);
    expect(await countUsers()).toBe(before);
  });
});
