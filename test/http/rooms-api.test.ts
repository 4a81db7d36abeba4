/**
 * The rooms API (docs/rooms.md) through the real worker, Rooms and D1: creating public and private rooms,
 * the list, a room and its members, roles and hand-over, removal and leaving, invite links (by API and in a
 * browser), direct messages, the daily allowance, the guards of a JSON API, and races between parallel
 * requests. Callers are apps with a socket token (Bearer) and logged-in browsers (the session cookie, JSON
 * bodies); after each change, D1's mirror of the members is compared with what the room answers.
 */
import { env } from "cloudflare:workers";
import { and, count, eq, gt, ne } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { roomMembers, rooms } from "../../src/db/schema";
import { mintPrivateRoomId } from "../../src/realtime/room/client";
import {
  type Answer,
  type ApiClient,
  addMembers,
  bearer,
  browser,
  createRoom,
  expectMirrored,
  expireInvites,
  membersAnswered,
  membersInD1,
  roomRowInD1,
  roomStorage,
  tokenOf,
} from "../helpers/rooms";
import { closeAll, connectAndJoin } from "../helpers/socket";
import { db, makeUser, seedRooms } from "../helpers/users";
import { LOCAL_ORIGIN, Visitor } from "../helpers/visitor";

const NO_SUCH_ROOM = "There is no such room.";
const INVALID_INVITE =
  "This invite link is not valid: it may have expired, been used up or revoked. Ask for a new one.";
const PRIVATE_ID = /^~[A-Za-z0-9_-]{34}$/;
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** For tests that make many people and rooms, on a machine shared with other work. */
const SLOW = 30_000;

let serial = 0;
/** A username no other test in this file uses. */
function unique(prefix: string): string {
  serial += 1;
  return `${prefix}_${serial}`;
}

/** A private room id of the right shape that this server never minted (its tag is wrong). */
function neverMintedId(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  const random = crypto.getRandomValues(new Uint8Array(34));
  return `~${[...random].map((byte) => alphabet[byte % 64]).join("")}`;
}

/** 43 base64url characters: the shape of an invite's secret. */
function randomSecret(): string {
  return btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

/** Two answers are the same bytes: status, every header but Date, and body. */
function expectSameAnswer(actual: Answer, expected: Answer): void {
  const shape = (answer: Answer) => ({
    status: answer.status,
    headers: [...answer.headers].filter(([name]) => name !== "date"),
    text: answer.text,
  });
  expect(shape(actual)).toEqual(shape(expected));
}

function error(answer: Answer): { status: number; error: unknown } {
  return { status: answer.status, error: answer.body?.error };
}

/** The `<p id="error_message">` of an HTML error page. */
function pageMessage(html: string): string | undefined {
  return /<p id="error_message">([^<]*)<\/p>/.exec(html)?.[1];
}

describe("POST /api/rooms", () => {
  it.each([
    ["a socket token", bearer],
    ["a session cookie", browser],
  ])(
    "creates a public room by name with %s: 201, the name is its id, you are its owner, D1 mirrors it",
    async (_, as) => {
      const owner = await as(`mk_pub_${as === bearer ? "b" : "c"}`);
      const name = `made_public_${as === bearer ? "b" : "c"}`;
      const created = await owner.post("/api/rooms", { kind: "public", name });
      expect(created.status).toBe(201);
      expect(created.headers.get("Content-Type")).toContain("application/json");
      expect(created.body).toEqual({ room: { id: name, kind: "public", name, title: null, role: "owner" } });

      const row = await roomRowInD1(name);
      expect(row).toMatchObject({ id: name, kind: "public", ownerId: owner.user.id, createdBy: owner.user.id });
      await expectMirrored(owner, name, [[owner.username, "owner"]]);
    },
  );

  it("refuses a public name that is taken: 409 with the reason, for anyone, and the first owner stays", async () => {
    const first = await bearer("taken_first");
    const second = await browser("taken_second");
    await createRoom(first, { kind: "public", name: "taken_name" });

    for (const asker of [second, first]) {
      expect(error(await asker.post("/api/rooms", { kind: "public", name: "taken_name" }))).toEqual({
        status: 409,
        error: "The name #taken_name is taken: open the room, or pick another name.",
      });
    }
    await expectMirrored(second, "taken_name", [[first.username, "owner"]]);
  });

  it.each([
    ["a socket token", bearer],
    ["a session cookie", browser],
  ])("creates a private room with %s: 201 with an unguessable ~id, its title, you as owner", async (_, as) => {
    const owner = await as(`mk_priv_${as === bearer ? "b" : "c"}`);
    const created = await owner.post("/api/rooms", { kind: "private", title: "Team plans" });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      room: { id: expect.stringMatching(PRIVATE_ID), kind: "private", title: "Team plans", role: "owner" },
    });
    const id = created.body.room.id as string;
    // Never a public name: `~` is a character no name has.
    expect(id.startsWith("~")).toBe(true);
    expect(await roomRowInD1(id)).toMatchObject({ kind: "private", title: "Team plans", ownerId: owner.user.id });
    await expectMirrored(owner, id, [[owner.username, "owner"]]);

    // Another one gets another id.
    const again = await createRoom(owner, { kind: "private", title: "Team plans" });
    expect(again.id).not.toBe(id);
  });

  it("a room body that is not an object, or of no kind: 400 and 422 with the rule", async () => {
    const asker = await bearer("bad_room_body");
    expect(error(await asker.post("/api/rooms", "not json"))).toEqual({
      status: 400,
      error: "The body must be a JSON object.",
    });
    expect(error(await asker.post("/api/rooms", [1, 2]))).toEqual({
      status: 400,
      error: "The body must be a JSON object.",
    });
    for (const body of [{}, { kind: "dm", username: "x" }, { kind: "PUBLIC", name: "x" }]) {
      expect(error(await asker.post("/api/rooms", body))).toEqual({
        status: 422,
        error: 'kind must be "public" or "private" (a direct message: POST /api/dm).',
      });
    }
  });

  it.each(["", "a/b", "café", "r".repeat(65), "~private_looking_name_of_34_chars__", "has space", 42, null])(
    "a public room name that breaks the rule (%j): 422 with the rule, nothing created",
    async (name) => {
      const asker = await bearer(unique("bad_name"));
      expect(error(await asker.post("/api/rooms", { kind: "public", name }))).toEqual({
        status: 422,
        error: "name must be 1 to 64 of A-Z a-z 0-9 _ -.",
      });
      const [made] = await db.select({ n: count() }).from(rooms).where(eq(rooms.createdBy, asker.user.id));
      expect(made?.n).toBe(0);
    },
  );

  it.each([
    ["missing", undefined, "title must be text"],
    ["blank", "   ", "title must not be empty"],
    ["not text", 42, "title must be text"],
    ["81 characters", "t".repeat(81), "title must be at most 80 characters"],
    ["a control character", "bell\u0007", "title must not contain control characters"],
  ])("a private room title that is %s: 422 with the rule, nothing created", async (_what, title, message) => {
    const asker = await bearer(unique("bad_title"));
    expect(error(await asker.post("/api/rooms", { kind: "private", title }))).toEqual({ status: 422, error: message });
    const [made] = await db.select({ n: count() }).from(rooms).where(eq(rooms.createdBy, asker.user.id));
    expect(made?.n).toBe(0);
  });

  it("a title of 80 characters, trimmed, is kept", async () => {
    const asker = await bearer("title_eighty");
    const created = await asker.post("/api/rooms", { kind: "private", title: `  ${"é".repeat(80)}  ` });
    expect(created.status).toBe(201);
    expect(created.body.room.title).toBe("é".repeat(80));
  });
});

describe("GET /api/rooms", () => {
  it("lists your rooms and the public ones with your role, DMs with the partner, never a private room you are not in", async () => {
    const alice = await browser("list_alice");
    const bob = await bearer("list_bob");
    const carol = await bearer("list_carol");
    await createRoom(alice, { kind: "public", name: "list_pub_alice" });
    await createRoom(bob, { kind: "public", name: "list_pub_bob" });
    const alicePrivate = await createRoom(alice, { kind: "private", title: "Alice's plans" });
    const bobSecret = await createRoom(bob, { kind: "private", title: "Bob's secret" });
    const shared = await createRoom(bob, { kind: "private", title: "Shared" });
    await addMembers(bob, shared.id, [[alice, "moderator"]]);
    const dm = await alice.post("/api/dm", { username: bob.username });
    expect(dm.status).toBe(200);
    const dmId = dm.body.room.id as string;

    const listed = await alice.get("/api/rooms");
    expect(listed.status).toBe(200);
    expect(listed.headers.get("Cache-Control")).toBe("private, no-store");
    expect(Object.keys(listed.body)).toEqual(["rooms"]);
    const byId = new Map<string, unknown>(listed.body.rooms.map((room: { id: string }) => [room.id, room]));
    const stats = { post_count: 0, last_post_at: expect.stringMatching(ISO_TIME) };
    // Her counts where she has a read position (every room she is in: made with the membership); none
    // where she has never been.
    const counted = { ...stats, unread: 0, mentions: 0 };
    const uncounted = { ...stats, unread: null, mentions: null };
    expect(byId.get("list_pub_alice")).toEqual({
      id: "list_pub_alice",
      kind: "public",
      name: "list_pub_alice",
      title: null,
      role: "owner",
      ...counted,
    });
    expect(byId.get("list_pub_bob")).toEqual({
      id: "list_pub_bob",
      kind: "public",
      name: "list_pub_bob",
      title: null,
      role: null,
      ...uncounted,
    });
    expect(byId.get(alicePrivate.id)).toEqual({
      id: alicePrivate.id,
      kind: "private",
      title: "Alice's plans",
      role: "owner",
      ...counted,
    });
    expect(byId.get(shared.id)).toEqual({
      id: shared.id,
      kind: "private",
      title: "Shared",
      role: "moderator",
      ...counted,
    });
    expect(byId.get(dmId)).toEqual({
      id: dmId,
      kind: "dm",
      partner: { id: bob.user.id, username: bob.username },
      role: "member",
      ...counted,
    });
    // Not listed, not even its title or id anywhere in the answer.
    expect(byId.has(bobSecret.id)).toBe(false);
    expect(listed.text).not.toContain(bobSecret.id);
    expect(listed.text).not.toContain("Bob's secret");

    // Bob sees the DM under Alice's name; Carol, in nothing private, sees only the public rooms.
    const bobs = (await bob.get("/api/rooms")).body.rooms as Array<{ id: string; partner?: unknown }>;
    expect(bobs.find((room) => room.id === dmId)?.partner).toEqual({ id: alice.user.id, username: alice.username });
    const carols = (await carol.get("/api/rooms")).body.rooms as Array<{ id: string; kind: string; role: unknown }>;
    expect(carols.every((room) => room.kind === "public" && room.role === null)).toBe(true);
    expect(carols.map((room) => room.id)).toEqual(expect.arrayContaining(["list_pub_alice", "list_pub_bob"]));
  });

  it("carries each room's unread and mentions: never your own posts or deleted ones; null where you have no read position", async () => {
    const owner = await bearer("counts_owner");
    const reader = await bearer("counts_reader");
    const room = await createRoom(owner, { kind: "private", title: "Counted" });
    await addMembers(owner, room.id, [reader]);
    const { socket } = await connectAndJoin(owner.user, room.id);
    try {
      const topic = `room:${room.id}`;
      for (const message of ["one", `two @${reader.username}`, `three @${reader.username}`]) {
        expect((await socket.push(topic, "new_post", { message })).status).toBe("ok");
      }
      const last = (await socket.push(topic, "new_post", { message: "four" })).response.id;
      expect((await socket.push(topic, "delete_post", { id: last })).status).toBe("ok");
      const listed = async (client: ApiClient) =>
        (await client.get("/api/rooms")).body.rooms.find((r: { id: string }) => r.id === room.id);
      expect(await listed(reader)).toMatchObject({ id: room.id, unread: 3, mentions: 2 });
      expect(await listed(owner)).toMatchObject({ id: room.id, unread: 0, mentions: 0 });
      // A public room the reader never opened is listed without counts.
      await createRoom(owner, { kind: "public", name: "counts_unvisited" });
      const unvisited = (await reader.get("/api/rooms")).body.rooms.find(
        (r: { id: string }) => r.id === "counts_unvisited",
      );
      expect(unvisited).toMatchObject({ unread: null, mentions: null });
    } finally {
      await closeAll([socket]);
    }
  });

  it("a public room you join shows with role member, and with role null again once you leave", async () => {
    const owner = await bearer("join_owner");
    const joiner = await bearer("join_joiner");
    await createRoom(owner, { kind: "public", name: "join_me" });
    const roleIn = async () =>
      ((await joiner.get("/api/rooms")).body.rooms as Array<{ id: string; role: unknown }>).find(
        (room) => room.id === "join_me",
      )?.role;
    expect(await roleIn()).toBeNull();

    const joined = await joiner.post("/api/rooms/join_me/join");
    expect(joined.status).toBe(200);
    expect(joined.body.room).toMatchObject({ id: "join_me", role: "member" });
    expect(await roleIn()).toBe("member");
    await expectMirrored(owner, "join_me", [
      [owner.username, "owner"],
      [joiner.username, "member"],
    ]);

    expect((await joiner.delete(`/api/rooms/join_me/members/${joiner.username}`)).status).toBe(204);
    expect(await roleIn()).toBeNull();
    await expectMirrored(owner, "join_me", [[owner.username, "owner"]]);
  });
});

describe("GET /api/rooms/:id", () => {
  it("answers a public room with its members to anyone logged in, with their role (null: not a member)", async () => {
    const owner = await bearer("detail_owner");
    const passer = await browser("detail_passer");
    await createRoom(owner, { kind: "public", name: "detail_pub" });
    const seen = await passer.get("/api/rooms/detail_pub");
    expect(seen.status).toBe(200);
    expect(seen.body).toEqual({
      room: { id: "detail_pub", kind: "public", name: "detail_pub", title: null, role: null },
      members: [
        { id: owner.user.id, username: owner.username, role: "owner", added_at: expect.stringMatching(ISO_TIME) },
      ],
      // Its modes to everyone; its mutes and bans only to its owner and moderators.
      moderation: { slow_mode_seconds: 0, read_only: false },
    });
  });

  it("answers a private room to its members, and a non-member byte for byte what an id never minted gets (404)", async () => {
    const owner = await bearer("hidden_owner");
    const member = await browser("hidden_member");
    const outsider = await bearer("hidden_outsider");
    const outsiderByCookie = await browser("hidden_cookie_out");
    const room = await createRoom(owner, { kind: "private", title: "Hidden" });
    await addMembers(owner, room.id, [member]);

    const seen = await member.get(`/api/rooms/${room.id}`);
    expect(seen.status).toBe(200);
    expect(seen.body.room).toEqual({ id: room.id, kind: "private", title: "Hidden", role: "member" });
    expect(seen.body.members.map((m: { username: string; role: string }) => [m.username, m.role])).toEqual([
      [owner.username, "owner"],
      [member.username, "member"],
    ]);

    for (const asker of [outsider, outsiderByCookie]) {
      const refused = await asker.get(`/api/rooms/${room.id}`);
      expect(error(refused)).toEqual({ status: 404, error: NO_SUCH_ROOM });
      expectSameAnswer(refused, await asker.get(`/api/rooms/${neverMintedId()}`));
      // A minted id no room was ever created under, too.
      expectSameAnswer(refused, await asker.get(`/api/rooms/${await mintPrivateRoomId(env)}`));
      // And identifiers of no valid shape at all.
      for (const malformed of ["~short", "has.dot", "%F0%9F%94%A5", `~${"A".repeat(35)}`, "r".repeat(65)]) {
        expectSameAnswer(refused, await asker.get(`/api/rooms/${malformed}`));
      }
    }
  });

  it.each([
    ["rename it", "PATCH", "", { title: "Mine now" }],
    ["rename it with no title", "PATCH", "", {}],
    ["add someone", "POST", "/members", { username: "OUTSIDER" }],
    ["add an unknown username", "POST", "/members", { username: "nobody_at_all" }],
    ["add with a role that does not exist", "POST", "/members", { username: "OUTSIDER", role: "admin" }],
    ["change a role", "PATCH", "/members/OWNER", { role: "member" }],
    ["change a role to one that does not exist", "PATCH", "/members/OWNER", { role: "king" }],
    ["change an unknown username's role", "PATCH", "/members/nobody_at_all", { role: "member" }],
    ["remove a member", "DELETE", "/members/OWNER", undefined],
    ["remove an unknown username", "DELETE", "/members/nobody_at_all", undefined],
    ["create an invite", "POST", "/invites", { expires_in_seconds: 3600, max_uses: 1 }],
    ["create an invite outside the bounds", "POST", "/invites", { expires_in_seconds: 1, max_uses: 1 }],
    ["list the invites", "GET", "/invites", undefined],
    ["revoke an invite", "DELETE", "/invites/abc", undefined],
    ["join it", "POST", "/join", {}],
  ])(
    "a non-member of a private room who tries to %s gets 404, byte for byte as for an id never minted",
    async (_what, method, path, body) => {
      const owner = await bearer(unique("verbs_owner"));
      const outsider = await bearer(unique("verbs_outsider"));
      const room = await createRoom(owner, { kind: "private", title: "Verbs" });
      const sent =
        body === undefined ? undefined : JSON.parse(JSON.stringify(body).replace("OUTSIDER", outsider.username));
      const where = path.replace("OWNER", owner.username);

      const refused = await outsider.send(method, `/api/rooms/${room.id}${where}`, sent);
      const missing = await outsider.send(method, `/api/rooms/${neverMintedId()}${where}`, sent);
      expect(error(refused)).toEqual({ status: 404, error: NO_SUCH_ROOM });
      expectSameAnswer(refused, missing);
      await expectMirrored(owner, room.id, [[owner.username, "owner"]]);
      expect((await owner.get(`/api/rooms/${room.id}`)).body.room.title).toBe("Verbs");
    },
  );
});

describe("PATCH /api/rooms/:id (rename)", () => {
  it("the owner renames; a moderator, a member and a passer-by are refused (403); the title is checked (422)", async () => {
    const owner = await bearer("rename_owner");
    const moderator = await bearer("rename_mod");
    const member = await browser("rename_member");
    const passer = await bearer("rename_passer");
    const room = await createRoom(owner, { kind: "private", title: "Old" });
    await addMembers(owner, room.id, [[moderator, "moderator"], member]);

    const renamed = await owner.patch(`/api/rooms/${room.id}`, { title: "  New title  " });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toEqual({
      room: { id: room.id, kind: "private", title: "New title", role: "owner" },
      moderation: { slow_mode_seconds: 0, read_only: false, mutes: [], bans: [] },
    });
    expect((await member.get(`/api/rooms/${room.id}`)).body.room.title).toBe("New title");

    for (const asker of [moderator, member]) {
      expect(error(await asker.patch(`/api/rooms/${room.id}`, { title: "Mine" }))).toEqual({
        status: 403,
        error: "Only the owner renames the room.",
      });
    }
    expect(error(await owner.patch(`/api/rooms/${room.id}`, { title: "x".repeat(81) }))).toEqual({
      status: 422,
      error: "title must be at most 80 characters",
    });
    expect(error(await owner.patch(`/api/rooms/${room.id}`, { title: "" }))).toEqual({
      status: 422,
      error: "title must not be empty",
    });
    expect(error(await owner.patch(`/api/rooms/${room.id}`, { name: "x" }))).toEqual({
      status: 422,
      error: 'Send {"title": …}, {"slow_mode_seconds": …} or {"read_only": …} to change the room.',
    });

    // A public room: its owner may give it a title, or clear it; anyone else is refused.
    await createRoom(owner, { kind: "public", name: "rename_pub" });
    expect((await owner.patch("/api/rooms/rename_pub", { title: "The lobby" })).body.room).toEqual({
      id: "rename_pub",
      kind: "public",
      name: "rename_pub",
      title: "The lobby",
      role: "owner",
    });
    expect(error(await passer.patch("/api/rooms/rename_pub", { title: "Mine" }))).toEqual({
      status: 403,
      error: "Only the owner renames the room.",
    });
    expect((await owner.patch("/api/rooms/rename_pub", { title: null })).body.room.title).toBeNull();
  });

  it("a rename reaches D1's mirror: the room list shows the new title to every member", async () => {
    const owner = await bearer("renamed_owner");
    const member = await browser("renamed_member");
    const room = await createRoom(owner, { kind: "private", title: "Before" });
    await addMembers(owner, room.id, [member]);
    expect((await owner.patch(`/api/rooms/${room.id}`, { title: "After" })).status).toBe(200);

    expect((await roomRowInD1(room.id))?.title).toBe("After");
    const listed = ((await member.get("/api/rooms")).body.rooms as Array<{ id: string; title?: string }>).find(
      (listedRoom) => listedRoom.id === room.id,
    );
    expect(listed?.title).toBe("After");
  });
});

describe("members", () => {
  it("the owner and moderators add people by username; bad usernames, roles and ranks are refused", async () => {
    const owner = await bearer("add_owner");
    const moderator = await browser("add_mod");
    const member = await bearer("add_member");
    const dave = await bearer("add_dave");
    const erin = await bearer("add_erin");
    const room = await createRoom(owner, { kind: "private", title: "Adding" });

    // By username as people type it: with @, in any case.
    const added = await owner.post(`/api/rooms/${room.id}/members`, {
      username: `@${member.username.toUpperCase()}`,
    });
    expect(added.status).toBe(201);
    expect(added.body).toEqual({
      member: {
        id: member.user.id,
        username: member.username,
        role: "member",
        added_at: expect.stringMatching(ISO_TIME),
      },
    });
    const promoted = await owner.post(`/api/rooms/${room.id}/members`, {
      username: moderator.username,
      role: "moderator",
    });
    expect(promoted.status).toBe(201);
    expect(promoted.body.member.role).toBe("moderator");

    // Unknown usernames: 422 naming them.
    expect(error(await owner.post(`/api/rooms/${room.id}/members`, { username: "ghost_person" }))).toEqual({
      status: 422,
      error: "There is nobody called @ghost_person.",
    });
    expect(error(await moderator.post(`/api/rooms/${room.id}/members`, { username: "@Nobody_Here" }))).toEqual({
      status: 422,
      error: "There is nobody called @Nobody_Here.",
    });
    for (const username of [undefined, "", "  ", 7]) {
      expect(error(await owner.post(`/api/rooms/${room.id}/members`, { username }))).toEqual({
        status: 422,
        error: "username must name a person.",
      });
    }
    // A role that does not exist, or the owner's: 422.
    expect(
      error(await owner.post(`/api/rooms/${room.id}/members`, { username: dave.username, role: "admin" })),
    ).toEqual({ status: 422, error: 'role must be "member" or "moderator".' });
    expect(
      error(await owner.post(`/api/rooms/${room.id}/members`, { username: dave.username, role: "owner" })),
    ).toEqual({ status: 422, error: "A room has one owner: hand ownership over instead (role owner on a member)." });
    // A role not below yours: 403. A member adds nobody: 403.
    expect(
      error(await moderator.post(`/api/rooms/${room.id}/members`, { username: dave.username, role: "moderator" })),
    ).toEqual({ status: 403, error: "A moderator can add people only with a role below their own." });
    expect(error(await member.post(`/api/rooms/${room.id}/members`, { username: dave.username }))).toEqual({
      status: 403,
      error: "Only the owner and moderators manage this room's people and invites.",
    });
    // A moderator adds a member.
    expect((await moderator.post(`/api/rooms/${room.id}/members`, { username: dave.username })).status).toBe(201);
    // Adding someone again as what they are changes nothing; as something else is a conflict.
    expect((await owner.post(`/api/rooms/${room.id}/members`, { username: dave.username })).status).toBe(201);
    expect(
      error(await owner.post(`/api/rooms/${room.id}/members`, { username: dave.username, role: "moderator" })),
    ).toEqual({ status: 409, error: `@${dave.username} is already a member here.` });

    await expectMirrored(owner, room.id, [
      [owner.username, "owner"],
      [moderator.username, "moderator"],
      [member.username, "member"],
      [dave.username, "member"],
    ]);
    // Erin was never added: the room stays hidden from her.
    expect(error(await erin.get(`/api/rooms/${room.id}`))).toEqual({ status: 404, error: NO_SUCH_ROOM });
  });

  it("only the owner changes roles; promoting, demoting; bad roles and targets are refused", async () => {
    const owner = await bearer("role_owner");
    const moderator = await bearer("role_mod");
    const member = await browser("role_member");
    const outsider = await bearer("role_outsider");
    const room = await createRoom(owner, { kind: "private", title: "Roles" });
    await addMembers(owner, room.id, [[moderator, "moderator"], member]);
    const path = (who: ApiClient) => `/api/rooms/${room.id}/members/${who.username}`;

    expect(error(await moderator.patch(path(member), { role: "moderator" }))).toEqual({
      status: 403,
      error: "Only the owner changes roles and hands the room over.",
    });
    expect(error(await member.patch(path(member), { role: "moderator" }))).toEqual({
      status: 403,
      error: "Only the owner and moderators manage this room's people and invites.",
    });
    const promoted = await owner.patch(path(member), { role: "moderator" });
    expect(promoted.status).toBe(200);
    expect(promoted.body).toEqual({
      member: {
        id: member.user.id,
        username: member.username,
        role: "moderator",
        added_at: expect.stringMatching(ISO_TIME),
      },
    });
    await expectMirrored(owner, room.id, [
      [owner.username, "owner"],
      [moderator.username, "moderator"],
      [member.username, "moderator"],
    ]);
    expect((await owner.patch(path(member), { role: "member" })).body.member.role).toBe("member");
    // Demoted: what being a moderator allowed stops at once.
    expect((await owner.patch(path(moderator), { role: "member" })).status).toBe(200);
    expect(
      error(await moderator.post(`/api/rooms/${room.id}/invites`, { expires_in_seconds: 60, max_uses: 1 })),
    ).toEqual({ status: 403, error: "Only the owner and moderators manage this room's people and invites." });

    expect(error(await owner.patch(path(owner), { role: "member" }))).toEqual({
      status: 409,
      error: "You own this room: hand it over to a member to change your role.",
    });
    for (const role of ["king", undefined, 3]) {
      expect(error(await owner.patch(path(member), { role }))).toEqual({
        status: 422,
        error: 'role must be "owner", "moderator" or "member".',
      });
    }
    expect(error(await owner.patch(`/api/rooms/${room.id}/members/ghost_role`, { role: "member" }))).toEqual({
      status: 422,
      error: "There is nobody called @ghost_role.",
    });
    expect(error(await owner.patch(path(outsider), { role: "member" }))).toEqual({
      status: 404,
      error: "That person is not a member of this room.",
    });
    await expectMirrored(owner, room.id, [
      [owner.username, "owner"],
      [moderator.username, "member"],
      [member.username, "member"],
    ]);
  });

  it("hands ownership over: the member becomes owner, the old owner a moderator, in the room and in D1", async () => {
    const owner = await browser("hand_owner");
    const heir = await bearer("hand_heir");
    const room = await createRoom(owner, { kind: "private", title: "Heirloom" });
    await addMembers(owner, room.id, [heir]);

    const handed = await owner.patch(`/api/rooms/${room.id}/members/${heir.username}`, { role: "owner" });
    expect(handed.status).toBe(200);
    expect(handed.body.member).toMatchObject({ id: heir.user.id, username: heir.username, role: "owner" });
    await expectMirrored(heir, room.id, [
      [heir.username, "owner"],
      [owner.username, "moderator"],
    ]);
    expect((await roomRowInD1(room.id))?.ownerId).toBe(heir.user.id);
    expect((await owner.get(`/api/rooms/${room.id}`)).body.room.role).toBe("moderator");

    // The old owner lost what only an owner may do; the new one has it, and may now not leave.
    expect((await owner.patch(`/api/rooms/${room.id}`, { title: "Mine" })).status).toBe(403);
    expect((await heir.patch(`/api/rooms/${room.id}`, { title: "Ours" })).status).toBe(200);
    expect(error(await heir.delete(`/api/rooms/${room.id}/members/${heir.username}`))).toEqual({
      status: 409,
      error: "You own this room: hand it over to a member before you leave.",
    });
    // The old owner, now a moderator, may leave.
    expect((await owner.delete(`/api/rooms/${room.id}/members/${owner.username}`)).status).toBe(204);
    await expectMirrored(heir, room.id, [[heir.username, "owner"]]);
  });

  it("removal: moderators remove members, members remove nobody, nobody acts on an equal or higher role", async () => {
    const owner = await bearer("rm_owner");
    const mod1 = await bearer("rm_mod1");
    const mod2 = await browser("rm_mod2");
    const alice = await bearer("rm_alice");
    const bob = await browser("rm_bob");
    const carol = await bearer("rm_carol");
    const outsider = await bearer("rm_outsider");
    const room = await createRoom(owner, { kind: "private", title: "Removals" });
    await addMembers(owner, room.id, [[mod1, "moderator"], [mod2, "moderator"], alice, bob, carol]);
    const path = (who: ApiClient) => `/api/rooms/${room.id}/members/${who.username}`;

    const removed = await mod1.delete(path(alice));
    expect(removed.status).toBe(204);
    expect(removed.text).toBe("");
    // Removed from a private room: it is gone for them, as if it never existed.
    const gone = await alice.get(`/api/rooms/${room.id}`);
    expectSameAnswer(gone, await alice.get(`/api/rooms/${neverMintedId()}`));
    expect(await membersInD1(room.id)).not.toContainEqual([alice.username, "member"]);

    expect(error(await bob.delete(path(carol)))).toEqual({
      status: 403,
      error: "Only the owner and moderators remove people.",
    });
    expect(error(await bob.delete(path(mod1)))).toEqual({
      status: 403,
      error: "Only the owner and moderators remove people.",
    });
    expect(error(await mod1.delete(path(mod2)))).toEqual({
      status: 403,
      error: "A moderator cannot remove a moderator.",
    });
    const onOwner = await mod2.delete(path(owner));
    expect(onOwner.status).toBe(403);
    expect(onOwner.body.error).toMatch(/^A moderator cannot remove an? owner\.$/);

    // The owner removes a moderator.
    expect((await owner.delete(path(mod2))).status).toBe(204);
    // Leaving yourself: 204; the owner cannot leave without handing over.
    expect((await bob.delete(path(bob))).status).toBe(204);
    expect(error(await owner.delete(path(owner)))).toEqual({
      status: 409,
      error: "You own this room: hand it over to a member before you leave.",
    });
    // Someone who is not (or no longer) a member; a username nobody has.
    expect(error(await owner.delete(path(outsider)))).toEqual({
      status: 404,
      error: "That person is not a member of this room.",
    });
    expect(error(await owner.delete(path(alice)))).toEqual({
      status: 404,
      error: "That person is not a member of this room.",
    });
    expect(error(await owner.delete(`/api/rooms/${room.id}/members/ghost_rm`))).toEqual({
      status: 422,
      error: "There is nobody called @ghost_rm.",
    });
    await expectMirrored(owner, room.id, [
      [owner.username, "owner"],
      [mod1.username, "moderator"],
      [carol.username, "member"],
    ]);
  });
});

describe("invites", () => {
  it("owners and moderators create invites (201, the token only in `url`), list them and revoke them", async () => {
    const owner = await bearer("inv_owner");
    const moderator = await browser("inv_mod");
    const member = await bearer("inv_member");
    const room = await createRoom(owner, { kind: "private", title: "Invited" });
    await addMembers(owner, room.id, [[moderator, "moderator"], member]);

    const before = Date.now();
    const created = await owner.post(`/api/rooms/${room.id}/invites`, { expires_in_seconds: 3600, max_uses: 5 });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      invite: {
        id: expect.any(String),
        url: expect.stringMatching(new RegExp(`^${LOCAL_ORIGIN}/invites/[^/]+$`)),
        expires_at: expect.stringMatching(ISO_TIME),
        max_uses: 5,
        uses: 0,
      },
    });
    const invite = created.body.invite as { id: string; url: string; expires_at: string };
    const expiresAt = Date.parse(invite.expires_at);
    expect(expiresAt).toBeGreaterThanOrEqual(before + 3600_000 - 1000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 3600_000 + 1000);
    const token = tokenOf(invite.url);
    const secret = token.slice(token.lastIndexOf(".") + 1);
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/); // 256 random bits
    const { url: _url, ...rest } = invite;
    expect(JSON.stringify(rest)).not.toContain(secret);
    expect(created.text.split(secret)).toHaveLength(2); // once, in the url

    const byModerator = await moderator.post(`/api/rooms/${room.id}/invites`, { expires_in_seconds: 60, max_uses: 1 });
    expect(byModerator.status).toBe(201);
    expect(error(await member.post(`/api/rooms/${room.id}/invites`, { expires_in_seconds: 60, max_uses: 1 }))).toEqual({
      status: 403,
      error: "Only the owner and moderators manage this room's people and invites.",
    });

    const listed = await moderator.get(`/api/rooms/${room.id}/invites`);
    expect(listed.status).toBe(200);
    expect(listed.body.invites).toEqual([
      { id: byModerator.body.invite.id, expires_at: expect.stringMatching(ISO_TIME), max_uses: 1, uses: 0 },
      { id: invite.id, expires_at: invite.expires_at, max_uses: 5, uses: 0 },
    ]);
    expect(listed.text).not.toContain(secret);
    expect(listed.text).not.toContain(tokenOf(byModerator.body.invite.url).split(".").pop());
    expect((await member.get(`/api/rooms/${room.id}/invites`)).status).toBe(403);

    expect((await moderator.delete(`/api/rooms/${room.id}/invites/${invite.id}`)).status).toBe(204);
    expect(error(await owner.delete(`/api/rooms/${room.id}/invites/${invite.id}`))).toEqual({
      status: 404,
      error: "There is no live invite with that id.",
    });
    expect(error(await member.delete(`/api/rooms/${room.id}/invites/${byModerator.body.invite.id}`))).toEqual({
      status: 403,
      error: "Only the owner and moderators manage this room's people and invites.",
    });
    expect((await owner.get(`/api/rooms/${room.id}/invites`)).body.invites.map((i: { id: string }) => i.id)).toEqual([
      byModerator.body.invite.id,
    ]);
  });

  it.each([
    [{ expires_in_seconds: 59, max_uses: 1 }, "expires"],
    [{ expires_in_seconds: 2_592_001, max_uses: 1 }, "expires"],
    [{ expires_in_seconds: 0, max_uses: 1 }, "expires"],
    [{ expires_in_seconds: -60, max_uses: 1 }, "expires"],
    [{ expires_in_seconds: 3600.5, max_uses: 1 }, "expires"],
    [{ expires_in_seconds: "3600", max_uses: 1 }, "expires"],
    [{ max_uses: 1 }, "expires"],
    [{ expires_in_seconds: 3600, max_uses: 0 }, "uses"],
    [{ expires_in_seconds: 3600, max_uses: 1001 }, "uses"],
    [{ expires_in_seconds: 3600, max_uses: 1.5 }, "uses"],
    [{ expires_in_seconds: 3600, max_uses: null }, "uses"],
    [{ expires_in_seconds: 3600 }, "uses"],
  ])("an invite outside the bounds (%j): 422 naming the bound, none created", async (body, which) => {
    const owner = await bearer(unique("bounds"));
    const room = await createRoom(owner, { kind: "private", title: "Bounds" });
    expect(error(await owner.post(`/api/rooms/${room.id}/invites`, body))).toEqual({
      status: 422,
      error:
        which === "expires"
          ? "expires_in_seconds must be a whole number from 60 to 2592000."
          : "max_uses must be a whole number from 1 to 1000.",
    });
    expect((await owner.get(`/api/rooms/${room.id}/invites`)).body.invites).toEqual([]);
  });

  it("an invite at the bounds (60 s, 1 use; 30 days, 1000 uses) is created", async () => {
    const owner = await bearer("bounds_edges");
    const room = await createRoom(owner, { kind: "private", title: "Edges" });
    for (const body of [
      { expires_in_seconds: 60, max_uses: 1 },
      { expires_in_seconds: 2_592_000, max_uses: 1000 },
    ]) {
      const created = await owner.post(`/api/rooms/${room.id}/invites`, body);
      expect(created.status).toBe(201);
      expect(created.body.invite).toMatchObject({ max_uses: body.max_uses, uses: 0 });
    }
  });

  it("accepting by API makes you a member (one use); accepting again as a member just works and uses nothing", async () => {
    const owner = await bearer("acc_owner");
    const guest = await bearer("acc_guest");
    const cookieGuest = await browser("acc_cookie_guest");
    const room = await createRoom(owner, { kind: "private", title: "Welcome" });
    const invite = (await owner.post(`/api/rooms/${room.id}/invites`, { expires_in_seconds: 600, max_uses: 3 })).body
      .invite;
    const token = tokenOf(invite.url);

    for (const person of [guest, cookieGuest]) {
      const accepted = await person.post(`/api/invites/${token}`);
      expect(accepted.status).toBe(200);
      expect(accepted.body).toEqual({ room: { id: room.id, kind: "private", title: "Welcome", role: "member" } });
    }
    const again = await guest.post(`/api/invites/${token}`);
    expect(again.status).toBe(200);
    expect(again.body.room).toEqual({ id: room.id, kind: "private", title: "Welcome", role: "member" });
    // The owner opening their own link goes in without using it either.
    expect((await owner.post(`/api/invites/${token}`)).body.room.role).toBe("owner");
    expect((await owner.get(`/api/rooms/${room.id}/invites`)).body.invites).toEqual([
      { id: invite.id, expires_at: invite.expires_at, max_uses: 3, uses: 2 },
    ]);
    await expectMirrored(owner, room.id, [
      [owner.username, "owner"],
      [guest.username, "member"],
      [cookieGuest.username, "member"],
    ]);
  });

  it("the invite url in a logged-in browser: 303 to the room, which then opens; again as a member: the same", async () => {
    const owner = await bearer("url_owner");
    const guest = await browser("url_guest");
    const room = await createRoom(owner, { kind: "private", title: "By link" });
    const invite = (await owner.post(`/api/rooms/${room.id}/invites`, { expires_in_seconds: 600, max_uses: 1 })).body
      .invite;
    const visitor = (guest.auth as { visitor: Visitor }).visitor;
    const path = new URL(invite.url).pathname;

    const before = await visitor.get(`/rooms/${room.id}`);
    expect(before.status).toBe(404);
    const opened = await visitor.get(path);
    expect([opened.status, opened.location]).toEqual([303, `/rooms/${room.id}`]);
    const page = await visitor.get(`/rooms/${room.id}`);
    expect(page.status).toBe(200);
    expect(page.html).toContain("By link");
    // Used up, but she is a member: the link still takes her in.
    const again = await visitor.get(path);
    expect([again.status, again.location]).toEqual([303, `/rooms/${room.id}`]);
    await expectMirrored(owner, room.id, [
      [owner.username, "owner"],
      [guest.username, "member"],
    ]);
  });

  it("the invite url logged out: to the login page, which comes back to the link, which lands in the room", async () => {
    const owner = await bearer("out_owner");
    const guest = await makeUser("out_guest");
    const room = await createRoom(owner, { kind: "private", title: "After login" });
    const invite = (await owner.post(`/api/rooms/${room.id}/invites`, { expires_in_seconds: 600, max_uses: 1 })).body
      .invite;
    const path = new URL(invite.url).pathname;
    const visitor = new Visitor();

    const toLogin = await visitor.get(path);
    expect(toLogin.status).toBe(303);
    expect(toLogin.location).toBe(`/login?next=${encodeURIComponent(path)}`);
    // Nothing was used by the visit while logged out.
    expect((await owner.get(`/api/rooms/${room.id}/invites`)).body.invites[0].uses).toBe(0);

    const loggedIn = await visitor.post(toLogin.location ?? "", {
      email: guest.email,
      password: "correct horse battery",
    });
    expect([loggedIn.status, loggedIn.location]).toEqual([303, path]);
    const accepted = await visitor.get(path);
    expect([accepted.status, accepted.location]).toEqual([303, `/rooms/${room.id}`]);
    expect((await visitor.get(`/rooms/${room.id}`)).status).toBe(200);
    await expectMirrored(owner, room.id, [
      [owner.username, "owner"],
      [guest.username, "member"],
    ]);

    // Signing up instead of logging in comes back the same way.
    const second = (await owner.post(`/api/rooms/${room.id}/invites`, { expires_in_seconds: 600, max_uses: 1 })).body
      .invite;
    const secondPath = new URL(second.url).pathname;
    const newcomer = new Visitor();
    const toLogin2 = await newcomer.get(secondPath);
    const next = new URL(toLogin2.location ?? "", LOCAL_ORIGIN).searchParams.get("next");
    expect(next).toBe(secondPath);
    const registered = await newcomer.post(`/register?next=${encodeURIComponent(next ?? "")}`, {
      username: "out_newcomer",
      email: "out_newcomer@example.com",
      password: "correct horse battery",
    });
    expect([registered.status, registered.location]).toEqual([303, secondPath]);
    expect((await newcomer.get(secondPath)).location).toBe(`/rooms/${room.id}`);
    expect(await membersInD1(room.id)).toContainEqual(["out_newcomer", "member"]);
  });

  it(
    "expired, used-up, revoked, unknown and garbage tokens all get the same 404, by API and in a browser",
    async () => {
      const owner = await bearer("bad_inv_owner");
      const user = await browser("bad_inv_user");
      const firstTaker = await bearer("bad_inv_taker");
      const room = await createRoom(owner, { kind: "private", title: "Bad links" });
      await createRoom(owner, { kind: "public", name: "bad_inv_public" });
      const create = async (id: string, maxUses = 1) =>
        tokenOf(
          (await owner.post(`/api/rooms/${id}/invites`, { expires_in_seconds: 600, max_uses: maxUses })).body.invite
            .url,
        );

      const usedUp = await create(room.id);
      expect((await firstTaker.post(`/api/invites/${usedUp}`)).status).toBe(200);
      const revokedInvite = (
        await owner.post(`/api/rooms/${room.id}/invites`, { expires_in_seconds: 600, max_uses: 9 })
      ).body.invite;
      expect((await owner.delete(`/api/rooms/${room.id}/invites/${revokedInvite.id}`)).status).toBe(204);
      const expiredRoom = await createRoom(owner, { kind: "private", title: "Expired" });
      const expired = await create(expiredRoom.id, 10);
      await expireInvites(expiredRoom.id);

      const tokens: Array<[string, string]> = [
        ["expired", expired],
        ["used up", usedUp],
        ["revoked", tokenOf(revokedInvite.url)],
        ["unknown secret for a real room", `${room.id}.${randomSecret()}`],
        ["unknown secret for a public room", `bad_inv_public.${randomSecret()}`],
        ["a room never minted", `${neverMintedId()}.${randomSecret()}`],
        ["a public room nobody made", `bad_inv_nothing.${randomSecret()}`],
        ["garbage", "garbage"],
        ["a short secret", `${room.id}.abc`],
        ["a secret with extra", `${usedUp}x`],
        ["the room id alone", room.id],
        ["percent-encoded nul", "%00"],
        ["4000 characters", "a".repeat(4000)],
      ];

      const reference = await user.post(`/api/invites/${tokens[0]?.[1]}`);
      expect(error(reference)).toEqual({ status: 404, error: INVALID_INVITE });
      const visitor = (user.auth as { visitor: Visitor }).visitor;
      for (const [what, token] of tokens) {
        const answer = await user.post(`/api/invites/${token}`);
        expect([what, answer.status, answer.text]).toEqual([what, reference.status, reference.text]);
        expectSameAnswer(answer, reference);
        const page = await visitor.get(`/invites/${token}`);
        expect([what, page.status, pageMessage(page.html)]).toEqual([what, 404, INVALID_INVITE]);
      }
      // None of them let anyone in, and the unknown public name made no room.
      await expectMirrored(owner, room.id, [
        [owner.username, "owner"],
        [firstTaker.username, "member"],
      ]);
      await expectMirrored(owner, expiredRoom.id, [[owner.username, "owner"]]);
      expect(await roomRowInD1("bad_inv_nothing")).toBeUndefined();
      expect(await roomStorage("bad_inv_nothing")).toEqual({ keys: [], tables: [] });
      // An expired invite is no longer listed.
      expect((await owner.get(`/api/rooms/${expiredRoom.id}/invites`)).body.invites).toEqual([]);
    },
    SLOW,
  );
});

describe("direct messages", () => {
  it("opens the one room of a pair: the same from both sides and every time, listed under the partner's name", async () => {
    const alice = await bearer("dm_alice");
    const bob = await browser("dm_bob");
    const opened = await alice.post("/api/dm", { username: bob.username });
    expect(opened.status).toBe(200);
    expect(opened.body).toEqual({
      room: {
        id: expect.stringMatching(PRIVATE_ID),
        kind: "dm",
        role: "member",
        partner: { id: bob.user.id, username: bob.username },
      },
    });
    const id = opened.body.room.id as string;

    const fromBob = await bob.post("/api/dm", { username: `@${alice.username.toUpperCase()}` });
    expect(fromBob.status).toBe(200);
    expect(fromBob.body.room).toEqual({
      id,
      kind: "dm",
      role: "member",
      partner: { id: alice.user.id, username: alice.username },
    });
    expect((await alice.post("/api/dm", { username: bob.username })).body.room.id).toBe(id);

    const pair = `${Math.min(alice.user.id, bob.user.id)}:${Math.max(alice.user.id, bob.user.id)}`;
    const rows = await db.select().from(rooms).where(eq(rooms.dmPair, pair));
    expect(rows.map((row) => [row.id, row.kind, row.ownerId])).toEqual([[id, "dm", null]]);
    await expectMirrored(alice, id, [
      [alice.username, "member"],
      [bob.username, "member"],
    ]);
    const details = await bob.get(`/api/rooms/${id}`);
    expect(details.body.room.partner).toEqual({ id: alice.user.id, username: alice.username });
  });

  it("refuses yourself and unknown people (422), and can never be widened, renamed or have anyone removed", async () => {
    const alice = await bearer("dmx_alice");
    const bob = await bearer("dmx_bob");
    const carol = await bearer("dmx_carol");
    expect(error(await alice.post("/api/dm", { username: alice.username }))).toEqual({
      status: 422,
      error: "You cannot send a direct message to yourself.",
    });
    expect(error(await alice.post("/api/dm", { username: "dm_ghost" }))).toEqual({
      status: 422,
      error: "There is nobody called @dm_ghost.",
    });
    expect(error(await alice.post("/api/dm", {}))).toEqual({ status: 422, error: "username must name a person." });
    expect(error(await alice.post("/api/dm", "[]"))).toEqual({ status: 400, error: "The body must be a JSON object." });

    const id = (await alice.post("/api/dm", { username: bob.username })).body.room.id as string;
    const widen = "A direct message is between two people: start a room to talk with more.";
    expect(error(await alice.post(`/api/rooms/${id}/members`, { username: carol.username }))).toEqual({
      status: 403,
      error: widen,
    });
    expect(error(await alice.post(`/api/rooms/${id}/invites`, { expires_in_seconds: 600, max_uses: 1 }))).toEqual({
      status: 403,
      error: widen,
    });
    expect(error(await alice.patch(`/api/rooms/${id}/members/${bob.username}`, { role: "moderator" }))).toEqual({
      status: 403,
      error: widen,
    });
    expect(error(await alice.patch(`/api/rooms/${id}`, { title: "Ours" }))).toEqual({
      status: 403,
      error: "A direct message has no title to change.",
    });
    expect(error(await alice.delete(`/api/rooms/${id}/members/${bob.username}`))).toEqual({
      status: 403,
      error: "Nobody can be removed from a direct message.",
    });
    // A third person: as if it did not exist.
    expectSameAnswer(await carol.get(`/api/rooms/${id}`), await carol.get(`/api/rooms/${neverMintedId()}`));
    await expectMirrored(alice, id, [
      [alice.username, "member"],
      [bob.username, "member"],
    ]);
  });

  it("leaving it hides it; opening it again brings you back to the same room", async () => {
    const alice = await browser("dml_alice");
    const bob = await bearer("dml_bob");
    const id = (await alice.post("/api/dm", { username: bob.username })).body.room.id as string;

    expect((await alice.delete(`/api/rooms/${id}/members/${alice.username}`)).status).toBe(204);
    expect(error(await alice.get(`/api/rooms/${id}`))).toEqual({ status: 404, error: NO_SUCH_ROOM });
    expect(((await alice.get("/api/rooms")).body.rooms as Array<{ id: string }>).map((r) => r.id)).not.toContain(id);
    await expectMirrored(bob, id, [[bob.username, "member"]]);

    const back = await alice.post("/api/dm", { username: bob.username });
    expect(back.status).toBe(200);
    expect(back.body.room).toEqual({
      id,
      kind: "dm",
      role: "member",
      partner: { id: bob.user.id, username: bob.username },
    });
    await expectMirrored(bob, id, [
      [alice.username, "member"],
      [bob.username, "member"],
    ]);
  });

  it("still names the partner who left, for the one who stayed", async () => {
    const alice = await bearer("dmp_alice");
    const bob = await bearer("dmp_bob");
    const id = (await alice.post("/api/dm", { username: bob.username })).body.room.id as string;
    expect((await alice.delete(`/api/rooms/${id}/members/${alice.username}`)).status).toBe(204);
    const listed = ((await bob.get("/api/rooms")).body.rooms as Array<{ id: string; partner?: unknown }>).find(
      (room) => room.id === id,
    );
    expect(listed?.partner).toEqual({ id: alice.user.id, username: alice.username });
    expect((await bob.get(`/api/rooms/${id}`)).body.room.partner).toEqual({
      id: alice.user.id,
      username: alice.username,
    });
  });
});

describe("the daily allowance (ROOMS_PER_USER_PER_DAY = 20)", () => {
  it(
    "the 21st room within 24 h answers 429 with a clear message; older rooms and direct messages do not count",
    async () => {
      expect(env.ROOMS_PER_USER_PER_DAY).toBe("20");
      const maker = await browser("allow_maker");
      const friends = await Promise.all([bearer("allow_friend1"), bearer("allow_friend2")]);
      const other = await bearer("allow_other");
      // Rooms from two days ago, and a direct message today: neither counts.
      await seedRooms(maker.user, ["allow_old_1", "allow_old_2", "allow_old_3"]);
      expect((await maker.post("/api/dm", { username: friends[0]?.username })).status).toBe(200);

      for (let n = 1; n <= 20; n++) {
        const body = n % 2 ? { kind: "public", name: `allow_${n}` } : { kind: "private", title: `Allowed ${n}` };
        const created = await maker.post("/api/rooms", body);
        expect([n, created.status]).toEqual([n, 201]);
      }
      const message = "You have created 20 rooms in the last 24 hours; try again tomorrow.";
      expect(error(await maker.post("/api/rooms", { kind: "public", name: "allow_21" }))).toEqual({
        status: 429,
        error: message,
      });
      expect(error(await maker.post("/api/rooms", { kind: "private", title: "One more" }))).toEqual({
        status: 429,
        error: message,
      });
      // Opening an unused name in the browser would create it: refused the same way, as a page.
      const visitor = (maker.auth as { visitor: Visitor }).visitor;
      const page = await visitor.get("/rooms/allow_page");
      expect([page.status, pageMessage(page.html)]).toEqual([429, message]);
      // A direct message still opens; an existing public room still opens; others still create.
      expect((await maker.post("/api/dm", { username: friends[1]?.username })).status).toBe(200);
      expect((await visitor.get("/rooms/allow_1")).status).toBe(200);
      expect((await other.post("/api/rooms", { kind: "public", name: "allow_21" })).status).toBe(201);

      const since = new Date(Date.now() - 24 * 60 * 60 * 1000);
      const [counted] = await db
        .select({ n: count() })
        .from(rooms)
        .where(and(eq(rooms.createdBy, maker.user.id), ne(rooms.kind, "dm"), gt(rooms.createdAt, since)));
      expect(counted?.n).toBe(20);
      expect(await roomRowInD1("allow_page")).toBeUndefined();
      expect((await roomRowInD1("allow_21"))?.ownerId).toBe(other.user.id);
    },
    SLOW,
  );
});

describe("guards of a JSON API", () => {
  it("not logged in: 401 on every endpoint, with how to authenticate", async () => {
    const message = "Log in (or send the socket token as Authorization: Bearer) to use the rooms API.";
    const anonymous = new Visitor();
    for (const [method, path] of [
      ["GET", "/api/rooms"],
      ["POST", "/api/rooms"],
      ["GET", "/api/rooms/lobby"],
      ["POST", "/api/dm"],
      ["POST", `/api/invites/lobby.${randomSecret()}`],
    ] as const) {
      const answer = await anonymous.request(path, {
        method,
        headers: method === "GET" ? {} : { "Content-Type": "application/json", Origin: anonymous.origin },
        body: method === "GET" ? undefined : JSON.stringify({ kind: "public", name: "anon" }),
      });
      expect([method, path, answer.status, JSON.parse(answer.html)]).toEqual([method, path, 401, { error: message }]);
    }
    const badToken = await anonymous.get("/api/rooms", { Authorization: "Bearer not.a.token" });
    expect([badToken.status, JSON.parse(badToken.html)]).toEqual([401, { error: message }]);
    expect(await roomRowInD1("anon")).toBeUndefined();
  });

  it("a cookie-authenticated POST that is not JSON (a form, text/plain, none): 415, nothing created", async () => {
    const person = await browser("guard_form");
    const visitor = (person.auth as { visitor: Visitor }).visitor;
    const form = await visitor.post("/api/rooms", { kind: "public", name: "guard_form_room" });
    expect([form.status, JSON.parse(form.html)]).toEqual([
      415,
      { error: "Send a JSON body with Content-Type: application/json." },
    ]);
    for (const contentType of ["text/plain", "multipart/form-data; boundary=x", "application/jsonp"]) {
      const answer = await person.post(
        "/api/rooms",
        { kind: "public", name: "guard_form_room" },
        {
          "Content-Type": contentType,
        },
      );
      expect([contentType, answer.status]).toEqual([contentType, 415]);
    }
    const none = await visitor.request("/api/rooms", {
      method: "POST",
      headers: { Origin: visitor.origin },
      body: JSON.stringify({ kind: "public", name: "guard_form_room" }),
    });
    expect(none.status).toBe(415);
    expect(await roomRowInD1("guard_form_room")).toBeUndefined();
  });

  it("a POST with a foreign Origin: 403 naming it, by cookie or token, on every verb; an allowed app origin passes", async () => {
    const person = await browser("guard_origin");
    const app = await bearer("guard_origin_app");
    const room = await createRoom(person, { kind: "private", title: "Origins" });
    for (const origin of ["https://evil.example", "null", "http://127.0.0.1:9999"]) {
      for (const asker of [person, app]) {
        const answer = await asker.post("/api/rooms", { kind: "public", name: "guard_evil" }, { Origin: origin });
        expect(error(answer)).toEqual({ status: 403, error: `Origin ${origin} may not change rooms here.` });
      }
      const patch = await person.patch(`/api/rooms/${room.id}`, { title: "Evil" }, { Origin: origin });
      const remove = await person.delete(`/api/rooms/${room.id}/members/${person.username}`, { Origin: origin });
      expect([patch.status, remove.status]).toEqual([403, 403]);
    }
    expect(await roomRowInD1("guard_evil")).toBeUndefined();
    expect((await person.get(`/api/rooms/${room.id}`)).body.room.title).toBe("Origins");

    const fromApp = await app.post(
      "/api/rooms",
      { kind: "public", name: "guard_capacitor" },
      {
        Origin: "capacitor://localhost",
      },
    );
    expect(fromApp.status).toBe(201);
  });

  it("a body over 16 KiB: 413 before it is read; 16 KiB exactly is read", async () => {
    const person = await browser("guard_size");
    const app = await bearer("guard_size_app");
    const exact = JSON.stringify({ username: "nobody_sized" }).padEnd(16 * 1024, " ");
    expect(new TextEncoder().encode(exact).byteLength).toBe(16 * 1024);
    for (const asker of [person, app]) {
      expect(error(await asker.post("/api/dm", exact))).toEqual({
        status: 422,
        error: "There is nobody called @nobody_sized.",
      });
      expect(error(await asker.post("/api/dm", `${exact} `))).toEqual({
        status: 413,
        error: "The body was larger than 16 KiB, so it was refused.",
      });
      expect(error(await asker.post("/api/rooms", { kind: "private", title: "x".repeat(20_000) }))).toEqual({
        status: 413,
        error: "The body was larger than 16 KiB, so it was refused.",
      });
    }
  });
});

describe("races between parallel requests", () => {
  it(
    "two moderators removing the same member: one 204, one 404; the member is gone once, in the room and D1",
    async () => {
      const owner = await bearer("race_rm_owner");
      const mods = await Promise.all([bearer("race_rm_mod1"), bearer("race_rm_mod2")]);
      const targets = await Promise.all([0, 1, 2].map((n) => bearer(`race_rm_target${n}`)));
      const room = await createRoom(owner, { kind: "private", title: "Race" });
      await addMembers(owner, room.id, [
        ...mods.map((mod) => [mod, "moderator"] as [ApiClient, "moderator"]),
        ...targets,
      ]);

      for (const target of targets) {
        const answers = await Promise.all(
          mods.map((mod) => mod.delete(`/api/rooms/${room.id}/members/${target.username}`)),
        );
        expect(answers.map((answer) => answer.status).sort()).toEqual([204, 404]);
        expect(answers.find((answer) => answer.status === 404)?.body).toEqual({
          error: "That person is not a member of this room.",
        });
        const rows = await db
          .select()
          .from(roomMembers)
          .where(and(eq(roomMembers.room, room.id), eq(roomMembers.userId, target.user.id)));
        expect(rows).toEqual([]);
      }
      await expectMirrored(owner, room.id, [
        [owner.username, "owner"],
        [mods[0]?.username ?? "", "moderator"],
        [mods[1]?.username ?? "", "moderator"],
      ]);
    },
    SLOW,
  );

  it(
    "an invite for 1 use accepted by 5 people at once: exactly one gets in",
    async () => {
      const owner = await bearer("race_inv_owner");
      const people = await Promise.all([0, 1, 2, 3, 4].map((n) => bearer(`race_inv_p${n}`)));
      const room = await createRoom(owner, { kind: "private", title: "One seat" });
      const invite = (await owner.post(`/api/rooms/${room.id}/invites`, { expires_in_seconds: 600, max_uses: 1 })).body
        .invite;
      const token = tokenOf(invite.url);

      const answers = await Promise.all(people.map((person) => person.post(`/api/invites/${token}`)));
      expect(answers.map((answer) => answer.status).sort()).toEqual([200, 404, 404, 404, 404]);
      for (const answer of answers.filter(({ status }) => status === 404)) {
        expect(answer.body).toEqual({ error: INVALID_INVITE });
      }
      const winner = people[answers.findIndex(({ status }) => status === 200)] as ApiClient;
      await expectMirrored(owner, room.id, [
        [owner.username, "owner"],
        [winner.username, "member"],
      ]);
      expect((await owner.get(`/api/rooms/${room.id}/invites`)).body.invites).toEqual([]);
    },
    SLOW,
  );

  it(
    "one person accepting the same invite three times at once: in once, and one use taken",
    async () => {
      const owner = await bearer("race_twice_owner");
      const eager = await bearer("race_twice_eager");
      const next = await bearer("race_twice_next");
      const room = await createRoom(owner, { kind: "private", title: "Double click" });
      const invite = (await owner.post(`/api/rooms/${room.id}/invites`, { expires_in_seconds: 600, max_uses: 2 })).body
        .invite;
      const token = tokenOf(invite.url);

      const answers = await Promise.all([0, 1, 2].map(() => eager.post(`/api/invites/${token}`)));
      expect(answers.map((answer) => answer.status)).toEqual([200, 200, 200]);
      expect((await owner.get(`/api/rooms/${room.id}/invites`)).body.invites).toEqual([
        { id: invite.id, expires_at: invite.expires_at, max_uses: 2, uses: 1 },
      ]);
      // The second use is still there for someone else.
      expect((await next.post(`/api/invites/${token}`)).status).toBe(200);
      await expectMirrored(owner, room.id, [
        [owner.username, "owner"],
        [eager.username, "member"],
        [next.username, "member"],
      ]);
    },
    SLOW,
  );

  it(
    "a hand-over racing a removal of the heir, or the heir leaving: one outcome, always exactly one owner",
    async () => {
      const rounds = await Promise.all(
        [0, 1, 2, 3, 4, 5].map(async (n) => {
          const owner = await bearer(`race_ho_owner${n}`);
          const moderator = await bearer(`race_ho_mod${n}`);
          const heir = await bearer(`race_ho_heir${n}`);
          const room = await createRoom(owner, { kind: "private", title: `Hand-over ${n}` });
          await addMembers(owner, room.id, [[moderator, "moderator"], heir]);
          return { n, owner, moderator, heir, room };
        }),
      );
      await Promise.all(
        rounds.map(async ({ n, owner, moderator, heir, room }) => {
          const members = `/api/rooms/${room.id}/members/${heir.username}`;
          // Even rounds: a moderator removes the heir; odd rounds: the heir leaves.
          const remover = n % 2 === 0 ? moderator : heir;
          const [handOver, removal] = await Promise.all([
            owner.patch(members, { role: "owner" }),
            remover.delete(members),
          ]);
          const outcome = [handOver.status, removal.status];
          const answered = await membersAnswered(owner, room.id);
          const owners = answered.filter(([, role]) => role === "owner");
          expect(owners).toHaveLength(1);
          if (handOver.status === 200) {
            // The heir owns it: the removal came second and was refused.
            expect(outcome).toEqual([200, n % 2 === 0 ? 403 : 409]);
            expect(answered).toEqual(
              [
                [owner.username, "moderator"],
                [moderator.username, "moderator"],
                [heir.username, "owner"],
              ].sort(([a = ""], [b = ""]) => a.localeCompare(b)),
            );
            expect((await roomRowInD1(room.id))?.ownerId).toBe(heir.user.id);
          } else {
            // The heir was gone first: nobody to hand over to.
            expect(outcome).toEqual([404, 204]);
            expect(answered).toEqual(
              [
                [owner.username, "owner"],
                [moderator.username, "moderator"],
              ].sort(([a = ""], [b = ""]) => a.localeCompare(b)),
            );
            expect((await roomRowInD1(room.id))?.ownerId).toBe(owner.user.id);
          }
          expect(await membersInD1(room.id)).toEqual(answered);
        }),
      );
    },
    SLOW,
  );

  it(
    "two hand-overs at once to different members: one wins, the other is refused, one owner",
    async () => {
      const owner = await bearer("race_two_owner");
      const heirs = await Promise.all([bearer("race_two_heir1"), bearer("race_two_heir2")]);
      const room = await createRoom(owner, { kind: "private", title: "Two heirs" });
      await addMembers(owner, room.id, heirs);
      const answers = await Promise.all(
        heirs.map((heir) => owner.patch(`/api/rooms/${room.id}/members/${heir.username}`, { role: "owner" })),
      );
      expect(answers.map((answer) => answer.status).sort()).toEqual([200, 403]);
      const answered = await membersAnswered(owner, room.id);
      expect(answered.filter(([, role]) => role === "owner")).toHaveLength(1);
      expect(await membersInD1(room.id)).toEqual(answered);
    },
    SLOW,
  );

  it(
    "two parallel POST /api/dm for a new pair (from both sides): the same room, one `rooms` row",
    async () => {
      const pairs = await Promise.all(
        [0, 1, 2, 3, 4].map(async (n) => [await bearer(`race_dm_a${n}`), await bearer(`race_dm_b${n}`)] as const),
      );
      await Promise.all(
        pairs.map(async ([a, b], n) => {
          const answers = await Promise.all(
            n % 2 === 0
              ? [a.post("/api/dm", { username: b.username }), b.post("/api/dm", { username: a.username })]
              : [a.post("/api/dm", { username: b.username }), a.post("/api/dm", { username: b.username })],
          );
          expect(answers.map((answer) => [answer.status, answer.body?.error])).toEqual([
            [200, undefined],
            [200, undefined],
          ]);
          const ids = answers.map((answer) => answer.body.room.id);
          expect(ids[0]).toBe(ids[1]);
          const pair = `${Math.min(a.user.id, b.user.id)}:${Math.max(a.user.id, b.user.id)}`;
          const rows = await db.select({ id: rooms.id }).from(rooms).where(eq(rooms.dmPair, pair));
          expect(rows).toEqual([{ id: ids[0] }]);
          await expectMirrored(a, ids[0], [
            [a.username, "member"],
            [b.username, "member"],
          ]);
        }),
      );
    },
    SLOW,
  );

  it(
    "two people creating the same public name at once: one 201 owner, one 409",
    async () => {
      const contenders = await Promise.all([bearer("race_name_a"), bearer("race_name_b")]);
      const answers = await Promise.all(
        contenders.map((person) => person.post("/api/rooms", { kind: "public", name: "race_same_name" })),
      );
      const winnerAt = answers.findIndex(({ status }) => status === 201);
      const winner = contenders[winnerAt] as ApiClient;
      expect(answers[winnerAt]?.body.room).toEqual({
        id: "race_same_name",
        kind: "public",
        name: "race_same_name",
        title: null,
        role: "owner",
      });
      expect(answers[1 - winnerAt]?.body).toEqual({
        error: "The name #race_same_name is taken: open the room, or pick another name.",
      });
      expect(answers.map((answer) => answer.status).sort()).toEqual([201, 409]);
      await expectMirrored(winner, "race_same_name", [[winner.username, "owner"]]);
      expect((await roomRowInD1("race_same_name"))?.ownerId).toBe(winner.user.id);
    },
    SLOW,
  );

  it(
    "one person creating three rooms at once with one left in the allowance: one 201, two 429",
    async () => {
      const maker = await bearer("race_allow");
      for (let n = 1; n <= 19; n++) await createRoom(maker, { kind: "private", title: `Room ${n}` });
      const answers = await Promise.all([
        maker.post("/api/rooms", { kind: "public", name: "race_allow_a" }),
        maker.post("/api/rooms", { kind: "public", name: "race_allow_b" }),
        maker.post("/api/rooms", { kind: "private", title: "Last" }),
      ]);
      expect(answers.map((answer) => answer.status).sort()).toEqual([201, 429, 429]);
      const [made] = await db.select({ n: count() }).from(rooms).where(eq(rooms.createdBy, maker.user.id));
      expect(made?.n).toBe(20);
    },
    SLOW,
  );
});

describe("reading and opening public names", () => {
  it("the history of a public name never used is {posts: []} and creates no room, in D1 or in a Durable Object", async () => {
    const reader = await bearer("unused_reader");
    const history = await reader.get("/rooms/never_used_name/posts");
    expect([history.status, history.body]).toEqual([200, { posts: [] }]);
    expect((await reader.get("/api/rooms/never_used_name")).status).toBe(404);
    expect(await roomRowInD1("never_used_name")).toBeUndefined();
    expect(await roomStorage("never_used_name")).toEqual({ keys: [], tables: [] });
    expect(((await reader.get("/api/rooms")).body.rooms as Array<{ id: string }>).map((r) => r.id)).not.toContain(
      "never_used_name",
    );
  });

  it("opening an unused public name's page creates it, owned by who opened it", async () => {
    const opener = await browser("page_opener");
    const visitor = (opener.auth as { visitor: Visitor }).visitor;
    expect((await visitor.get("/rooms/opened_by_page")).status).toBe(200);
    expect((await opener.get("/api/rooms/opened_by_page")).body.room).toEqual({
      id: "opened_by_page",
      kind: "public",
      name: "opened_by_page",
      title: null,
      role: "owner",
    });
    await expectMirrored(opener, "opened_by_page", [[opener.username, "owner"]]);
  });
});
