/**
 * Full-text search in D1 (src/db/search.ts, migration `search`): ranking, stems and accents, the filters,
 * snippets, the FTS index following edits and deletions written straight to `posts` (as issue 16's paths
 * will), the rooms a searcher can read, and user text that is never FTS5 syntax, over a real local D1.
 */
import { eq, sql } from "drizzle-orm";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { posts, roomBans, roomMembers, rooms } from "../../src/db/schema";
import { ftsQuery, type SearchQuery, searchPosts, snippetParts } from "../../src/db/search";
import type { User } from "../../src/db/users";
import { FUZZ_SEED, runsOr } from "../fuzz/settings";
import { db, makeUser, seedPosts } from "../helpers/users";

let rooms_made = 0;

/** A public room of its own for each test, so no test finds another's posts. */
function roomName(prefix: string): string {
  rooms_made += 1;
  return `${prefix}_${rooms_made}`;
}

/** A private room (or a direct message) in D1, as the room mirrors it, with these members. */
async function privateRoom(kind: "private" | "dm", members: User[]): Promise<string> {
  rooms_made += 1;
  const id = `~${String(rooms_made).padStart(34, "p")}`;
  const at = new Date();
  await db.insert(rooms).values({
    id,
    kind,
    title: kind === "private" ? "Secret plans" : null,
    postCount: 0,
    lastPostAt: at,
    dmPair: kind === "dm" ? members.map((m) => m.id).join(":") : null,
  });
  for (const member of members) {
    await db.insert(roomMembers).values({ room: id, userId: member.id, role: "member", addedAt: at });
  }
  return id;
}

async function search(viewer: User, text: string, filters: Partial<Omit<SearchQuery, "match">> = {}) {
  const match = ftsQuery(text);
  if (match === null) throw new Error(`${text} has no words`);
  return searchPosts(db, viewer.id, { match, limit: 50, ...filters });
}

async function messagesFound(viewer: User, text: string, filters: Partial<Omit<SearchQuery, "match">> = {}) {
  return (await search(viewer, text, filters)).map((result) => result.post.message);
}

/** FTS5's own check that the index holds exactly what `posts` holds: throws if not. */
async function expectIndexInStep(): Promise<void> {
  await db.run(sql`INSERT INTO posts_fts (posts_fts) VALUES ('integrity-check')`);
}

describe("ftsQuery", () => {
  it("quotes every word as an FTS5 string, doubling quotes; words without a letter or digit are dropped", () => {
    expect(ftsQuery("deploy friday")).toBe('"deploy" "friday"');
    expect(ftsQuery('say "hi" NEAR(a b) AND x* -y col:z')).toBe('"say" """hi""" "NEAR(a" "b)" "AND" "x*" "-y" "col:z"');
    expect(ftsQuery("  tabs\tand\nlines\u0000nul  ")).toBe('"tabs" "and" "lines" "nul"');
    expect(ftsQuery('" * - : ( ) 🔥 ... ^')).toBeNull();
    expect(ftsQuery("")).toBeNull();
  });
});

describe("searchPosts", () => {
  it("finds the posts holding every word, best match first (bm25), then newest; by stem and without accents", async () => {
    const author = await makeUser("search_ranker");
    const room = roomName("ranking");
    await seedPosts(author, room, [
      "deploy the app",
      "deploy deploy deploy now",
      "we are deploying on friday",
      "café au lait",
      "nothing to see",
      "deploy the app",
    ]);
    const found = await search(author, "deploy", { room });
    expect(found.map((result) => result.post.message)).toEqual([
      "deploy deploy deploy now",
      "deploy the app",
      "deploy the app",
      "we are deploying on friday",
    ]);
    // The same text twice: the newer first.
    expect((found[1]?.post.id ?? 0) > (found[2]?.post.id ?? 0)).toBe(true);
    expect(await messagesFound(author, "deployed friday", { room })).toEqual(["we are deploying on friday"]);
    expect(await messagesFound(author, "CAFE", { room })).toEqual(["café au lait"]);
    expect(await messagesFound(author, "deploy lait", { room })).toEqual([]);
  });

  it("answers each post as clients see it, with its room and a snippet marking the matches", async () => {
    const author = await makeUser("Search_Shape");
    const room = roomName("shape");
    const [id] = await seedPosts(
      author,
      room,
      ["<b>Bold</b> & 'quoted' plans for the launch"],
      new Date(Date.UTC(2026, 0, 2)),
    );
    const [result] = await search(author, "launch plans", { room });
    expect(result?.post).toEqual({
      id,
      message: "<b>Bold</b> & 'quoted' plans for the launch",
      inserted_at: "2026-01-02T00:00:00.000Z",
      user: { id: author.id, username: "Search_Shape" },
    });
    expect(result?.room).toEqual({ id: room, kind: "public", title: null, partner: null });
    expect(result?.snippet).toEqual([
      { text: "<b>Bold</b> & 'quoted' ", match: false },
      { text: "plans", match: true },
      { text: " for the ", match: false },
      { text: "launch", match: true },
    ]);
  });

  it("cuts a long post's snippet around its matches, with an ellipsis", async () => {
    const author = await makeUser("search_long");
    const room = roomName("long");
    const filler = Array.from({ length: 150 }, (_, n) => `word${n}`).join(" ");
    await seedPosts(author, room, [`${filler} needle ${filler}`]);
    const [result] = await search(author, "needle", { room });
    const text = (result?.snippet ?? []).map((part) => part.text).join("");
    expect(result?.snippet.filter((part) => part.match)).toEqual([{ text: "needle", match: true }]);
    expect(text.length).toBeLessThan(1000);
    expect(text.startsWith("…") && text.endsWith("…")).toBe(true);
  });

  it("filters by room, by person (any case, with or without posts) and takes at most limit", async () => {
    const alice = await makeUser("filter_alice");
    const bob = await makeUser("filter_bob");
    const [one, two] = [roomName("filter_one"), roomName("filter_two")];
    await seedPosts(alice, one, ["kiwi from alice in one", "kiwi again from alice in one"]);
    await seedPosts(bob, one, ["kiwi from bob in one"]);
    await seedPosts(alice, two, ["kiwi from alice in two"]);
    expect(await messagesFound(alice, "kiwi", { room: two })).toEqual(["kiwi from alice in two"]);
    expect((await messagesFound(alice, "kiwi", { from: "FILTER_BOB" })).sort()).toEqual(["kiwi from bob in one"]);
    expect((await messagesFound(bob, "kiwi", { from: "filter_alice", room: one })).sort()).toEqual([
      "kiwi again from alice in one",
      "kiwi from alice in one",
    ]);
    expect(await messagesFound(bob, "kiwi", { from: "nobody_at_all" })).toEqual([]);
    expect(await messagesFound(bob, "kiwi", { room: roomName("empty") })).toEqual([]);
    expect(await search(bob, "kiwi", { room: one, limit: 2 })).toHaveLength(2);
  });

  it("finds posts only in public rooms and rooms the searcher is a member of, whoever asks for which room", async () => {
    const insider = await makeUser("secret_insider");
    const outsider = await makeUser("secret_outsider");
    const partner = await makeUser("secret_partner");
    const hidden = await privateRoom("private", [insider]);
    const dm = await privateRoom("dm", [insider, partner]);
    const open = roomName("secret_open");
    await seedPosts(insider, hidden, ["the marmalade recipe is hidden here"]);
    await seedPosts(partner, dm, ["marmalade between the two of us"]);
    await seedPosts(outsider, open, ["marmalade for everyone"]);

    expect(await messagesFound(outsider, "marmalade")).toEqual(["marmalade for everyone"]);
    expect(await messagesFound(outsider, "marmalade", { room: hidden })).toEqual([]);
    expect(await messagesFound(outsider, "marmalade", { room: dm })).toEqual([]);
    expect((await messagesFound(insider, "marmalade")).sort()).toEqual([
      "marmalade between the two of us",
      "marmalade for everyone",
      "the marmalade recipe is hidden here",
    ]);
    const inDm = await search(insider, "marmalade", { room: dm });
    expect(inDm.map((result) => result.room)).toEqual([
      { id: dm, kind: "dm", title: null, partner: { username: "secret_partner" } },
    ]);
    const inHidden = await search(insider, "marmalade", { room: hidden });
    expect(inHidden.map((result) => result.room)).toEqual([
      { id: hidden, kind: "private", title: "Secret plans", partner: null },
    ]);

    // Removed from the room (D1's mirror of its members): its posts are no longer found.
    await db.delete(roomMembers).where(eq(roomMembers.room, hidden));
    expect((await messagesFound(insider, "marmalade")).sort()).toEqual([
      "marmalade between the two of us",
      "marmalade for everyone",
    ]);
  });

  it("never finds posts of a room that banned the searcher (D1's mirror of its bans), public rooms too", async () => {
    const banned = await makeUser("banned_searcher");
    const moderator = await makeUser("banned_moderator");
    const open = roomName("banned_open");
    const other = roomName("banned_other");
    await seedPosts(moderator, open, ["quinces in the banned room"]);
    await seedPosts(moderator, other, ["quinces elsewhere"]);
    expect((await messagesFound(banned, "quinces")).sort()).toEqual([
      "quinces elsewhere",
      "quinces in the banned room",
    ]);

    await db.insert(roomBans).values({ room: open, userId: banned.id, bannedAt: new Date(), bannedBy: moderator.id });
    expect(await messagesFound(banned, "quinces")).toEqual(["quinces elsewhere"]);
    expect(await messagesFound(banned, "quinces", { room: open })).toEqual([]);
    // Only the banned person: everyone else still finds it.
    expect((await messagesFound(moderator, "quinces")).sort()).toEqual([
      "quinces elsewhere",
      "quinces in the banned room",
    ]);
  });

  it("follows edits and deletions written to posts: the new text is found, the old and the deleted never", async () => {
    const author = await makeUser("search_editor");
    const room = roomName("edits");
    const [edited, emptied, removed] = await seedPosts(author, room, [
      "original wording about turnips",
      "turnips to be deleted",
      "turnips row to be removed",
    ]);
    await db.update(posts).set({ message: "rewritten about parsnips" }).where(sql`room = ${room} AND seq = ${edited}`);
    // Deletion as issue 16 does it: the text emptied, the row kept.
    await db.update(posts).set({ message: "" }).where(sql`room = ${room} AND seq = ${emptied}`);
    await db.delete(posts).where(sql`room = ${room} AND seq = ${removed}`);

    expect(await messagesFound(author, "turnips", { room })).toEqual([]);
    expect(await messagesFound(author, "original", { room })).toEqual([]);
    expect(await messagesFound(author, "parsnips", { room })).toEqual(["rewritten about parsnips"]);
    await expectIndexInStep();
  });

  it("reads no person's text as FTS5 syntax: operators, quotes and stars are words, and nothing errs", async () => {
    const author = await makeUser("search_syntax");
    const room = roomName("syntax");
    await seedPosts(author, room, [
      "meet me NEAR the door",
      "this AND that",
      "why not",
      'she said "hello there"',
      "deploy-time checks",
      "col:value pairs",
      "plain text",
    ]);
    expect(await messagesFound(author, "NEAR", { room })).toEqual(["meet me NEAR the door"]);
    expect(await messagesFound(author, "NEAR(the door)", { room })).toEqual(["meet me NEAR the door"]);
    expect(await messagesFound(author, "this AND", { room })).toEqual(["this AND that"]);
    expect(await messagesFound(author, "NOT", { room })).toEqual(["why not"]);
    expect(await messagesFound(author, "text OR door", { room })).toEqual([]);
    expect(await messagesFound(author, '"hello there', { room })).toEqual(['she said "hello there"']);
    // Quotes are text too: they make no phrase, every word is looked for on its own.
    expect(await messagesFound(author, '"there hello"', { room })).toEqual(['she said "hello there"']);
    expect(await messagesFound(author, "-time", { room })).toEqual(["deploy-time checks"]);
    expect(await messagesFound(author, "deploy-time", { room })).toEqual(["deploy-time checks"]);
    expect(await messagesFound(author, "col:value", { room })).toEqual(["col:value pairs"]);
    expect(await messagesFound(author, "message:plain", { room })).toEqual([]);
    expect(await messagesFound(author, "pla*", { room })).toEqual([]);
    expect(await messagesFound(author, "^plain", { room })).toEqual(["plain text"]);

    // Whatever is typed, the query is valid FTS5: D1 never answers an error.
    const typed = fc.string({
      unit: fc.constantFrom(..."ab \"'*-:^()+{}[],.NEARORANDT\u00e9\u4e2d\u{1f525}\u00a0"),
      maxLength: 40,
    });
    await fc.assert(
      fc.asyncProperty(fc.oneof(typed, fc.string({ unit: "grapheme", maxLength: 40 })), async (text) => {
        const match = ftsQuery(text);
        if (match !== null) await searchPosts(db, author.id, { match, room, limit: 5 });
      }),
      { seed: FUZZ_SEED, numRuns: runsOr(100) },
    );
  });
});

describe("snippetParts", () => {
  it("splits FTS5's marked snippet into text and matches", () => {
    expect(snippetParts("a \u0001b\u0002 c \u0001d\u0002")).toEqual([
      { text: "a ", match: false },
      { text: "b", match: true },
      { text: " c ", match: false },
      { text: "d", match: true },
    ]);
    expect(snippetParts("")).toEqual([]);
  });
});
