/**
 * The pages people use for rooms, through the real worker as a browser sees them (Visitor: cookies, same-
 * origin form posts): the home page's lists and forms (new private room, direct message), the room page's
 * sidebar and join/leave buttons, and the settings page with each of its forms. What a form did is checked
 * through the rooms API (the room's own answer) or D1's mirror, never through the page alone.
 */
import { env, exports } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { batch } from "../../src/db/batch";
import { readPositionStatements } from "../../src/db/read-states";
import { roomMembers, rooms } from "../../src/db/schema";
import type { User } from "../../src/db/users";
import { mintPrivateRoomId } from "../../src/realtime/room/client";
import { closeAll, connectAndJoin } from "../helpers/socket";
import { db, seedPosts, seedRooms, tokenFor } from "../helpers/users";
import { LOCAL_ORIGIN, type Page, Visitor } from "../helpers/visitor";

interface Person {
  visitor: Visitor;
  user: User;
  username: string;
}

/** Someone who signed up through the real form, logged in with a browser. */
async function person(username: string): Promise<Person> {
  const visitor = new Visitor();
  expect((await visitor.register(username)).status).toBe(303);
  const user = await db.query.users.findFirst({ where: (users, { eq }) => eq(users.username, username) });
  if (!user) throw new Error(`${username} was not created`);
  return { visitor, user, username };
}

/** The rooms API as an app calls it (socket token), to check what the room itself says. */
async function api(who: Person, method: string, path: string, body?: unknown) {
  const response = await exports.default.fetch(new URL(path, LOCAL_ORIGIN), {
    method,
    headers: {
      Authorization: `Bearer ${await tokenFor(who.user)}`,
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  // biome-ignore lint/suspicious/noExplicitAny: answers are checked field by field
  return { status: response.status, body: (text ? JSON.parse(text) : null) as any };
}

/** The room's members as it answers them to `asker`: [username, role], sorted. */
async function membersOf(asker: Person, id: string): Promise<Array<[string, string]>> {
  const details = await api(asker, "GET", `/api/rooms/${id}`);
  expect(details.status).toBe(200);
  return (details.body.members as Array<{ username: string; role: string }>)
    .map(({ username, role }): [string, string] => [username, role])
    .sort(([a], [b]) => a.localeCompare(b));
}

/** D1's mirror of one person's role in a room (undefined: not a member). */
async function roleInD1(id: string, who: Person): Promise<string | undefined> {
  const [row] = await db
    .select({ role: roomMembers.role })
    .from(roomMembers)
    .where(and(eq(roomMembers.room, id), eq(roomMembers.userId, who.user.id)));
  return row?.role;
}

/** Creates a private room through the home page's form; answers its id. */
async function newPrivateRoom(owner: Person, title: string): Promise<string> {
  const created = await owner.visitor.post("/rooms/new-private", { title });
  expect(created.status, created.html).toBe(303);
  const id = /^\/rooms\/(~[A-Za-z0-9_-]{34})$/.exec(created.location ?? "")?.[1];
  if (!id) throw new Error(`no private room in ${created.location}`);
  return id;
}

async function addThroughSettings(owner: Person, id: string, who: Person, role = "member"): Promise<void> {
  const added = await owner.visitor.post(`/rooms/${id}/settings/members`, { username: who.username, role });
  expect(added.status, added.html).toBe(303);
}

/** The text of the page's alert (a refusal), unescaped. */
function alertOf(page: Page): string | undefined {
  const match = /<p class="alert" role="alert" id="[a-z_]+">([^<]*)<\/p>/.exec(page.html);
  return match?.[1] === undefined ? undefined : unescapeHtml(match[1]);
}

function errorMessage(page: Page): string | undefined {
  const match = /<p id="error_message">([^<]*)<\/p>/.exec(page.html);
  return match?.[1] === undefined ? undefined : unescapeHtml(match[1]);
}

function unescapeHtml(text: string): string {
  return text
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&")
    .trim();
}

/** A section of the page by the id of its heading, up to the section's end. */
function section(page: Page, headingId: string): string {
  const start = page.html.indexOf(`aria-labelledby="${headingId}"`);
  expect(start, `no section labelled ${headingId}`).toBeGreaterThan(-1);
  return page.html.slice(start, page.html.indexOf("</section>", start));
}

/** The room page's sidebar. */
function sidebar(page: Page): string {
  const start = page.html.indexOf('<nav class="sidebar card" id="room_nav"');
  expect(start, "no sidebar").toBeGreaterThan(-1);
  return page.html.slice(start, page.html.indexOf("</nav>", start));
}

/** A page without the parts that differ per request: the socket token signed for it. */
function withoutToken(html: string): string {
  return html.replace(/<meta name="user_token" content="[^"]*"\/?>/, "");
}

describe("the home page", () => {
  it("lists your private rooms, direct messages and joined public rooms with your role, and never an outsider's private room", async () => {
    const alice = await person("home_alice");
    const bob = await person("home_bob");
    const carol = await person("home_carol");
    const mine = await newPrivateRoom(alice, "Alice's plans <b>bold</b>");
    const theirs = await newPrivateRoom(carol, "Carol's secret xyzzy");
    expect((await alice.visitor.post("/dm", { username: "home_bob" })).status).toBe(303);
    expect((await alice.visitor.get("/rooms/home_public")).status).toBe(200); // opened first: alice owns it
    expect((await bob.visitor.post("/rooms/home_public/join", {})).status).toBe(303);

    const home = await alice.visitor.get("/");
    expect(home.status).toBe(200);
    const yours = section(home, "your_rooms_heading");
    expect(yours).toContain(`href="/rooms/${mine}"`);
    expect(yours).toContain("Alice&#39;s plans &lt;b&gt;bold&lt;/b&gt;");
    expect(yours).not.toContain("<b>bold</b>");
    expect(yours).toMatch(/>@home_bob<\/a>/);
    expect(yours).toMatch(/>#home_public<\/a><span class="badges"><span class="badge role-owner">owner<\/span>/);
    expect(yours).toMatch(
      /Alice&#39;s plans[^<]*<\/a><span class="badges"><span class="badge">private<\/span><span class="badge role-owner">owner/,
    );
    // The outsider's room is nowhere: not its title, not its id, not a count of rooms.
    for (const leak of [theirs, "Carol&#39;s secret", "xyzzy"]) expect(home.html).not.toContain(leak);

    const bobs = section(await bob.visitor.get("/"), "your_rooms_heading");
    expect(bobs).toMatch(/>@home_alice<\/a>/);
    expect(bobs).toMatch(/>#home_public<\/a><span class="badges"><\/span>/); // a member: no badge
    expect(bobs).not.toContain(mine);

    const carols = await carol.visitor.get("/");
    expect(section(carols, "your_rooms_heading")).toContain(theirs);
    expect(carols.html).not.toContain(mine);
    expect(carols.html).not.toContain("Alice&#39;s plans");
  });

  it("shows your unread and mention counts beside each room, here and in the room page's sidebar; 99+ above 99", async () => {
    const alice = await person("cnt_alice");
    const bob = await person("cnt_bob");
    const room = await newPrivateRoom(alice, "Counted");
    await addThroughSettings(alice, room, bob);
    const { socket } = await connectAndJoin(alice.user, room);
    const topic = `room:${room}`;
    try {
      for (const message of ["one", "two @cnt_bob"])
        expect((await socket.push(topic, "new_post", { message })).status).toBe("ok");
      const gone = (await socket.push(topic, "new_post", { message: "soon gone @cnt_bob" })).response.id;
      expect((await socket.push(topic, "delete_post", { id: gone })).status).toBe("ok");
    } finally {
      await closeAll([socket]);
    }
    // A busy public room bob belongs to, from before rooms kept positions: 120 posts he has not read.
    await seedRooms(bob.user, ["cnt_busy"]);
    await seedPosts(
      alice.user,
      "cnt_busy",
      Array.from({ length: 120 }, (_, n) => `busy ${n}`),
    );
    await batch(db, readPositionStatements("cnt_busy", [{ userId: bob.user.id, lastReadId: 0, at: Date.now() }]));

    const counts = (html: string, id: string) => ({
      unread: new RegExp(`<span class="unread-count" data-room="${id}" title="([^"]*)"( hidden="")?>([^<]*)</span>`)
        .exec(html)
        ?.slice(1),
      mentions: new RegExp(`<span class="mention-count" data-room="${id}" title="([^"]*)"( hidden="")?>([^<]*)</span>`)
        .exec(html)
        ?.slice(1),
    });
    const bobs = section(await bob.visitor.get("/"), "your_rooms_heading");
    // Deleted posts never count; the busy room stops counting at 100.
    expect(counts(bobs, room)).toEqual({
      unread: ["2 unread", undefined, "2"],
      mentions: ["1 mention", undefined, "1"],
    });
    expect(counts(bobs, "cnt_busy")).toEqual({
      unread: ["99+ unread", undefined, "99+"],
      mentions: ["0 mentions", ' hidden=""', "0"],
    });
    // Her own posts never count for her: both hidden at 0.
    const alices = section(await alice.visitor.get("/"), "your_rooms_heading");
    expect(counts(alices, room)).toEqual({
      unread: ["0 unread", ' hidden=""', "0"],
      mentions: ["0 mentions", ' hidden=""', "0"],
    });

    // The room page's sidebar, from the same count.
    const page = await bob.visitor.get("/rooms/cnt_busy");
    expect(page.status).toBe(200);
    expect(counts(sidebar(page), room)).toEqual(counts(bobs, room));
    expect(counts(sidebar(page), "cnt_busy").unread?.[2]).toBe("99+");
  });

  it("still lists the busiest public rooms for everyone, and only public ones", async () => {
    const alice = await person("home_lister");
    const secret = await newPrivateRoom(alice, "Quiet corner");
    const anonymous = await new Visitor().get("/");
    expect(anonymous.html).not.toContain(secret);
    expect(anonymous.html).not.toContain("Your rooms");
    expect(anonymous.html).not.toContain('action="/rooms/new-private"');
    const home = await alice.visitor.get("/");
    expect(section(home, "active_rooms_heading")).not.toContain(secret);
    expect(home.html).toContain('action="/rooms/new-private"');
    expect(home.html).toContain('action="/dm"');
  });
});

describe("New private room (POST /rooms/new-private)", () => {
  it("creates the room with you as its owner and takes you in", async () => {
    const owner = await person("np_owner");
    const id = await newPrivateRoom(owner, "  Book club  ");
    const [row] = await db.select().from(rooms).where(eq(rooms.id, id));
    expect(row).toMatchObject({ kind: "private", title: "Book club", ownerId: owner.user.id });
    expect(await membersOf(owner, id)).toEqual([["np_owner", "owner"]]);
    const page = await owner.visitor.get(`/rooms/${id}`);
    expect(page.status).toBe(200);
    expect(page.html).toContain("<h1>Book club</h1>");
    expect(page.html).toContain(`data-room="${id}"`);
  });

  it.each([
    ["", "Title must not be empty."],
    ["   ", "Title must not be empty."],
    ["x".repeat(81), "Title must be at most 80 characters."],
    ["tab\there", "Title must not contain control characters."],
  ])("refuses the title %j with 422 and says why, creating nothing", async (title, message) => {
    const owner = await person(`np_bad_${title.length}_${title.charCodeAt(0) || 0}`);
    const page = await owner.visitor.post("/rooms/new-private", { title });
    expect(page.status).toBe(422);
    expect(alertOf(page)).toBe(message);
    expect(page.html).toContain('aria-describedby="new_private_alert"');
    expect(await db.select().from(rooms).where(eq(rooms.createdBy, owner.user.id))).toEqual([]);
  });

  it("answers 429 with the room's message once you are over the daily allowance", async () => {
    const owner = await person("np_busy");
    const now = new Date();
    const seeded = Array.from({ length: 20 }, (_, n) => ({
      id: `~busy${String(n).padStart(30, "0")}`,
      kind: "private" as const,
      title: `seeded ${n}`,
      ownerId: owner.user.id,
      createdBy: owner.user.id,
      createdAt: now,
      postCount: 0,
      lastPostAt: now,
    }));
    for (let start = 0; start < seeded.length; start += 5) {
      await db.insert(rooms).values(seeded.slice(start, start + 5));
    }
    const page = await owner.visitor.post("/rooms/new-private", { title: "One too many" });
    expect(page.status).toBe(429);
    expect(alertOf(page)).toBe("You have created 20 rooms in the last 24 hours; try again tomorrow.");
    expect(page.html).toContain('value="One too many"');
  });

  it("sends a logged-out visitor to log in, and refuses a post from another site", async () => {
    const page = await new Visitor().post("/rooms/new-private", { title: "Nope" });
    expect([page.status, page.location]).toEqual([303, "/login?next=%2F"]);
    const owner = await person("np_csrf");
    const forged = await owner.visitor.post(
      "/rooms/new-private",
      { title: "Forged" },
      { Origin: "https://evil.example" },
    );
    expect(forged.status).toBe(403);
    expect(await db.select().from(rooms).where(eq(rooms.createdBy, owner.user.id))).toEqual([]);
  });
});

describe("Message @username (POST /dm)", () => {
  it("opens the pair's one room from either side, headed @partner, and lists it for both", async () => {
    const alice = await person("dm_alice");
    const bob = await person("dm_bob");
    const first = await alice.visitor.post("/dm", { username: "@dm_bob" });
    expect(first.status).toBe(303);
    const again = await alice.visitor.post("/dm", { username: "DM_BOB" });
    const fromBob = await bob.visitor.post("/dm", { username: "dm_alice" });
    expect(again.location).toBe(first.location);
    expect(fromBob.location).toBe(first.location);
    const id = first.location?.slice("/rooms/".length) ?? "";
    expect(await membersOf(alice, id)).toEqual([
      ["dm_alice", "member"],
      ["dm_bob", "member"],
    ]);

    const alicePage = await alice.visitor.get(first.location ?? "");
    expect(alicePage.html).toContain("<h1>@dm_bob</h1>");
    expect(alicePage.html).toContain("<title>@dm_bob · pyre</title>");
    expect(alicePage.html).not.toContain("room_settings_link");
    const bobPage = await bob.visitor.get(first.location ?? "");
    expect(bobPage.html).toContain("<h1>@dm_alice</h1>");
    expect(sidebar(bobPage)).toMatch(
      new RegExp(`<li class="current" data-room="${id}"><a href="/rooms/${id}" aria-current="page">@dm_alice</a>`),
    );
  });

  it.each([
    ["nobody_here", 422, "There is nobody called @nobody_here."],
    ["", 422, "Type the username of a person."],
    ["dm_self", 422, "You cannot send a direct message to yourself."],
  ])("refuses %j with %i and the reason on the home page", async (username, status, message) => {
    const me = await person(username === "dm_self" ? "dm_self" : `dm_refused_${username.length}`);
    const page = await me.visitor.post("/dm", { username });
    expect(page.status).toBe(status);
    expect(alertOf(page)).toBe(message);
    expect(page.html).toContain('id="dm_alert"');
  });

  it("shows a typed username back escaped", async () => {
    const me = await person("dm_escape");
    const page = await me.visitor.post("/dm", { username: "<script>x</script>" });
    expect(page.status).toBe(422);
    expect(page.html).not.toContain("<script>x</script>");
    expect(page.html).toContain("&lt;script&gt;x&lt;/script&gt;");
  });
});

describe("the room page's sidebar and buttons", () => {
  it("lists your rooms as links, marks the current one, and offers Settings and the moderator's menu only to owners and moderators", async () => {
    const owner = await person("sb_owner");
    const member = await person("sb_member");
    const first = await newPrivateRoom(owner, "First room");
    const second = await newPrivateRoom(owner, "Second room");
    await addThroughSettings(owner, second, member);

    const page = await owner.visitor.get(`/rooms/${first}`);
    const nav = sidebar(page);
    expect(nav).toContain(`<a href="/rooms/${second}">Second room</a>`);
    expect(nav).toContain(`<a href="/rooms/${first}" aria-current="page">First room</a>`);
    expect(nav.match(/aria-current="page"/g)).toHaveLength(1);
    expect(page.html).toContain('aria-controls="room_nav"'); // the drawer's button on a phone
    expect(page.html).toContain(`href="/rooms/${first}/settings"`);
    expect(page.html).toContain(`action="/rooms/${first}/leave"`);
    expect(page.html).toContain('<section id="member_menu"');

    const memberPage = await member.visitor.get(`/rooms/${second}`);
    expect(memberPage.html).not.toContain("/settings");
    expect(memberPage.html).not.toContain("member_menu");
    expect(memberPage.html).toContain('<p id="composer_state"');
    expect(sidebar(memberPage)).not.toContain(first);
    expect(memberPage.html).not.toContain(first);
  });

  it("joins and leaves a public room, which comes and goes among your rooms", async () => {
    const owner = await person("jl_owner");
    const visitor = await person("jl_visitor");
    expect((await owner.visitor.get("/rooms/jl_room")).status).toBe(200);

    const before = await visitor.visitor.get("/rooms/jl_room");
    expect(before.html).toContain('action="/rooms/jl_room/join"');
    expect(before.html).not.toContain('action="/rooms/jl_room/leave"');
    expect(sidebar(before)).not.toContain("jl_room");

    const joined = await visitor.visitor.post("/rooms/jl_room/join", {});
    expect([joined.status, joined.location]).toEqual([303, "/rooms/jl_room"]);
    expect(await roleInD1("jl_room", visitor)).toBe("member");
    const after = await visitor.visitor.get("/rooms/jl_room");
    expect(after.html).toContain('action="/rooms/jl_room/leave"');
    expect(sidebar(after)).toContain('<a href="/rooms/jl_room" aria-current="page">#jl_room</a>');
    expect(section(await visitor.visitor.get("/"), "your_rooms_heading")).toContain("#jl_room");

    const left = await visitor.visitor.post("/rooms/jl_room/leave", {});
    expect([left.status, left.location]).toEqual([303, "/rooms/jl_room"]);
    expect(await roleInD1("jl_room", visitor)).toBeUndefined();
    expect(section(await visitor.visitor.get("/"), "your_rooms_heading")).not.toContain("#jl_room");
    expect((await visitor.visitor.get("/rooms/jl_room")).html).toContain('action="/rooms/jl_room/join"');
  });

  it("leaves a private room and goes home; the room is then gone for you; the last owner is refused with the reason", async () => {
    const owner = await person("lv_owner");
    const member = await person("lv_member");
    const id = await newPrivateRoom(owner, "Leaving");
    await addThroughSettings(owner, id, member);

    const left = await member.visitor.post(`/rooms/${id}/leave`, {});
    expect([left.status, left.location]).toEqual([303, "/"]);
    expect(await roleInD1(id, member)).toBeUndefined();
    expect(await membersOf(owner, id)).toEqual([["lv_owner", "owner"]]);
    expect((await member.visitor.get(`/rooms/${id}`)).status).toBe(404);
    expect((await member.visitor.get("/")).html).not.toContain(id);

    const refused = await owner.visitor.post(`/rooms/${id}/leave`, {});
    expect(refused.status).toBe(409);
    expect(alertOf(refused)).toBe("You own this room: hand it over to a member before you leave.");
    expect(refused.html).toContain(`data-room="${id}"`); // still the room's page
    expect(await roleInD1(id, owner)).toBe("owner");
  });

  it("answers joining or leaving a private room you are not in exactly as a room that does not exist", async () => {
    const owner = await person("jl_private_owner");
    const outsider = await person("jl_private_outsider");
    const id = await newPrivateRoom(owner, "Not yours");
    const missing = await mintPrivateRoomId(env);
    for (const action of ["join", "leave"]) {
      const refused = await outsider.visitor.post(`/rooms/${id}/${action}`, {});
      const nothing = await outsider.visitor.post(`/rooms/${missing}/${action}`, {});
      expect([refused.status, errorMessage(refused)]).toEqual([404, "There is no such room."]);
      expect(withoutToken(refused.html)).toBe(withoutToken(nothing.html));
    }
    expect(await roleInD1(id, outsider)).toBeUndefined();
  });
});

describe("the settings page: who may see it", () => {
  it("is the owner's and moderators'; a member of a private room and an outsider get a missing room's 404; a public room's member 403", async () => {
    const owner = await person("acc_owner");
    const moderator = await person("acc_moderator");
    const member = await person("acc_member");
    const outsider = await person("acc_outsider");
    const id = await newPrivateRoom(owner, "Access");
    await addThroughSettings(owner, id, moderator, "moderator");
    await addThroughSettings(owner, id, member);

    const mine = await owner.visitor.get(`/rooms/${id}/settings`);
    expect(mine.status).toBe(200);
    expect(mine.html).toContain('<h1 id="settings_heading">Settings of Access</h1>');
    expect((await moderator.visitor.get(`/rooms/${id}/settings`)).status).toBe(200);

    const neverMinted = `~${"A".repeat(34)}`;
    const mintedNeverCreated = await mintPrivateRoomId(env);
    const asMember = await member.visitor.get(`/rooms/${id}/settings`);
    const asOutsider = await outsider.visitor.get(`/rooms/${id}/settings`);
    const missing = await outsider.visitor.get(`/rooms/${neverMinted}/settings`);
    const unused = await outsider.visitor.get(`/rooms/${mintedNeverCreated}/settings`);
    for (const page of [asMember, asOutsider, missing, unused]) {
      expect([page.status, errorMessage(page)]).toEqual([404, "There is no such room."]);
    }
    // Byte for byte the same page (but the socket token each page carries), naming nothing of the room.
    expect(withoutToken(asOutsider.html)).toBe(withoutToken(missing.html));
    expect(withoutToken(asOutsider.html)).toBe(withoutToken(unused.html));
    expect(asOutsider.html).not.toContain("Access");
    expect(asOutsider.html).not.toContain(id);

    expect((await owner.visitor.get("/rooms/acc_public")).status).toBe(200);
    const publicMember = await member.visitor.get("/rooms/acc_public/settings");
    expect([publicMember.status, errorMessage(publicMember)]).toEqual([
      403,
      "Only the owner and moderators of #acc_public see its settings.",
    ]);
    expect((await owner.visitor.get("/rooms/acc_public/settings")).status).toBe(200);

    const loggedOut = await new Visitor().get(`/rooms/${id}/settings`);
    expect([loggedOut.status, loggedOut.location]).toEqual([
      303,
      `/login?next=${encodeURIComponent(`/rooms/${id}/settings`)}`,
    ]);
    expect((await owner.visitor.get("/rooms/bad!name/settings")).status).toBe(404);
  });

  it("refuses every settings form from someone who may not see the settings, changing nothing", async () => {
    const owner = await person("acc_form_owner");
    const member = await person("acc_form_member");
    const id = await newPrivateRoom(owner, "Forms");
    await addThroughSettings(owner, id, member);
    const forms: Array<[string, Record<string, string>]> = [
      ["members", { username: "acc_form_member", role: "moderator" }],
      ["members/remove", { username: "acc_form_owner" }],
      ["members/role", { username: "acc_form_member", role: "moderator" }],
      ["owner", { username: "acc_form_member", confirm: "yes" }],
      ["title", { title: "Taken over" }],
      ["invites", { expires_in: "3600", max_uses: "5" }],
      ["moderation", { slow_mode_seconds: "30", read_only: "on" }],
      ["mutes", { username: "acc_form_owner", seconds: "3600" }],
      ["mutes/remove", { username: "acc_form_owner" }],
      ["bans", { username: "acc_form_owner" }],
      ["bans/remove", { username: "acc_form_owner" }],
    ];
    for (const [path, fields] of forms) {
      const page = await member.visitor.post(`/rooms/${id}/settings/${path}`, fields);
      expect([page.status, errorMessage(page)], path).toEqual([404, "There is no such room."]);
    }
    expect(await membersOf(owner, id)).toEqual([
      ["acc_form_member", "member"],
      ["acc_form_owner", "owner"],
    ]);
    expect((await api(owner, "GET", `/api/rooms/${id}`)).body.room.title).toBe("Forms");
    expect((await api(owner, "GET", `/api/rooms/${id}/invites`)).body.invites).toEqual([]);
    expect((await api(owner, "GET", `/api/rooms/${id}`)).body.moderation).toEqual({
      slow_mode_seconds: 0,
      read_only: false,
      mutes: [],
      bans: [],
    });
  });
});

describe("the settings page: moderation", () => {
  it("sets slow mode and read-only, mutes and unmutes, bans and unbans, lists each, logs each; refusals with the room's reasons", async () => {
    const owner = await person("mod_form_owner");
    const moderator = await person("mod_form_mod");
    const member = await person("mod_form_member");
    const id = await newPrivateRoom(owner, "Moderated");
    await addThroughSettings(owner, id, moderator, "moderator");
    await addThroughSettings(owner, id, member);
    const settings = `/rooms/${id}/settings`;
    const moderation = async () => (await api(owner, "GET", `/api/rooms/${id}`)).body.moderation;

    const modes = await moderator.visitor.post(`${settings}/moderation`, { slow_mode_seconds: "30", read_only: "on" });
    expect([modes.status, modes.location]).toEqual([303, `${settings}?done=moderated`]);
    expect(await moderation()).toMatchObject({ slow_mode_seconds: 30, read_only: true });
    // An unchecked box is off.
    await moderator.visitor.post(`${settings}/moderation`, { slow_mode_seconds: "30" });
    expect((await moderation()).read_only).toBe(false);
    const badSlow = await moderator.visitor.post(`${settings}/moderation`, { slow_mode_seconds: "99999" });
    expect([badSlow.status, alertOf(badSlow)]).toEqual([422, "Choose a slow mode from the list."]);

    const muted = await moderator.visitor.post(`${settings}/mutes`, { username: "@mod_form_member", seconds: "3600" });
    expect([muted.status, muted.location]).toEqual([303, `${settings}?done=muted&who=mod_form_member`]);
    const page = await moderator.visitor.get(muted.location ?? "");
    expect(page.html).toContain('id="settings_notice">@mod_form_member is muted.</p>');
    expect(section(page, "mutes_heading")).toContain('data-muted="mod_form_member"');
    expect(section(page, "moderation_heading")).toContain(
      '<option value="30" selected="">One post every 30 s</option>',
    );
    const badMute = await moderator.visitor.post(`${settings}/mutes`, { username: "mod_form_member", seconds: "5" });
    expect([badMute.status, alertOf(badMute)]).toEqual([422, "Choose how long the mute lasts from the list."]);
    const aboveRank = await moderator.visitor.post(`${settings}/mutes`, { username: "mod_form_owner", seconds: "60" });
    expect([aboveRank.status, alertOf(aboveRank)]).toEqual([403, "A moderator cannot mute an owner."]);
    expect((await moderator.visitor.post(`${settings}/mutes/remove`, { username: "mod_form_member" })).location).toBe(
      `${settings}?done=unmuted&who=mod_form_member`,
    );
    const notMuted = await moderator.visitor.post(`${settings}/mutes/remove`, { username: "mod_form_member" });
    expect([notMuted.status, alertOf(notMuted)]).toEqual([404, "@mod_form_member is not muted here."]);

    const banned = await owner.visitor.post(`${settings}/bans`, {
      username: "mod_form_member",
      delete_recent_posts: "on",
    });
    expect(banned.location).toBe(`${settings}?done=banned&who=mod_form_member`);
    expect(await membersOf(owner, id)).toEqual([
      ["mod_form_mod", "moderator"],
      ["mod_form_owner", "owner"],
    ]);
    const withBan = await owner.visitor.get(settings);
    expect(section(withBan, "mutes_heading")).toContain('data-banned="mod_form_member"');
    // The banned person's own view of the room: 403, saying why.
    const theirs = await member.visitor.get(`/rooms/${id}`);
    expect([theirs.status, errorMessage(theirs)]).toEqual([403, "You are banned from this room."]);
    expect((await owner.visitor.post(`${settings}/bans/remove`, { username: "mod_form_member" })).location).toBe(
      `${settings}?done=unbanned&who=mod_form_member`,
    );

    const log = section(await owner.visitor.get(settings), "log_heading");
    const lines = [...log.matchAll(/<tr data-action="([a-z_]+)">/g)].map((match) => match[1]);
    expect(lines).toEqual(["unban", "ban", "unmute", "mute", "read_only", "read_only", "slow_mode"]);
    expect(log).toContain("@mod_form_owner banned @mod_form_member (and their posts of the last 24 h)");
    expect(log).toContain("@mod_form_mod muted @mod_form_member for 1 h");
    expect(log).toContain("@mod_form_mod set slow mode to one post every 30 s");
  });
});

describe("the settings forms", () => {
  it("adds people by username, as a member or (by the owner) a moderator, and shows each refusal", async () => {
    const owner = await person("add_owner");
    const moderator = await person("add_moderator");
    const member = await person("add_member");
    const id = await newPrivateRoom(owner, "Adding");

    const added = await owner.visitor.post(`/rooms/${id}/settings/members`, {
      username: "@add_moderator",
      role: "moderator",
    });
    expect([added.status, added.location]).toEqual([303, `/rooms/${id}/settings?done=added&who=add_moderator`]);
    const notice = await owner.visitor.get(added.location ?? "");
    expect(notice.html).toContain('<p class="notice" role="status" id="settings_notice">@add_moderator was added.</p>');
    expect(notice.html).toMatch(/data-member="add_moderator">.*?<span class="badge role-moderator">moderator<\/span>/s);
    await addThroughSettings(moderator, id, member);
    expect(await membersOf(owner, id)).toEqual([
      ["add_member", "member"],
      ["add_moderator", "moderator"],
      ["add_owner", "owner"],
    ]);
    expect(await roleInD1(id, moderator)).toBe("moderator");
    expect(await roleInD1(id, member)).toBe("member");

    const unknown = await owner.visitor.post(`/rooms/${id}/settings/members`, {
      username: "ghost_person",
      role: "member",
    });
    expect([unknown.status, alertOf(unknown)]).toEqual([422, "There is nobody called @ghost_person."]);
    expect(unknown.html).toContain('value="ghost_person"');

    const aboveTheirRole = await moderator.visitor.post(`/rooms/${id}/settings/members`, {
      username: "add_member",
      role: "moderator",
    });
    expect([aboveTheirRole.status, alertOf(aboveTheirRole)]).toEqual([
      403,
      "A moderator can add people only with a role below their own.",
    ]);
    // A moderator's form offers only "member".
    const modPage = await moderator.visitor.get(`/rooms/${id}/settings`);
    expect(modPage.html).not.toContain('<option value="moderator">');
    const twice = await owner.visitor.post(`/rooms/${id}/settings/members`, {
      username: "add_member",
      role: "moderator",
    });
    expect([twice.status, alertOf(twice)]).toEqual([409, "@add_member is already a member here."]);
  });

  it("removes only where you outrank, and says why otherwise", async () => {
    const owner = await person("rm_owner");
    const moderator = await person("rm_moderator");
    const other = await person("rm_other_mod");
    const member = await person("rm_member");
    const id = await newPrivateRoom(owner, "Removing");
    await addThroughSettings(owner, id, moderator, "moderator");
    await addThroughSettings(owner, id, other, "moderator");
    await addThroughSettings(owner, id, member);

    const modPage = await moderator.visitor.get(`/rooms/${id}/settings`);
    const removeButtons = [...modPage.html.matchAll(/aria-label="Remove @([a-z_]+)"/g)].map((match) => match[1]);
    expect(removeButtons).toEqual(["rm_member"]);

    const refused = await moderator.visitor.post(`/rooms/${id}/settings/members/remove`, { username: "rm_other_mod" });
    expect([refused.status, alertOf(refused)]).toEqual([403, "A moderator cannot remove a moderator."]);
    const removed = await moderator.visitor.post(`/rooms/${id}/settings/members/remove`, { username: "rm_member" });
    expect([removed.status, removed.location]).toEqual([303, `/rooms/${id}/settings?done=removed&who=rm_member`]);
    expect(await roleInD1(id, member)).toBeUndefined();
    expect((await member.visitor.get(`/rooms/${id}`)).status).toBe(404);

    const byOwner = await owner.visitor.post(`/rooms/${id}/settings/members/remove`, { username: "rm_other_mod" });
    expect(byOwner.status).toBe(303);
    expect(await membersOf(owner, id)).toEqual([
      ["rm_moderator", "moderator"],
      ["rm_owner", "owner"],
    ]);
    const notMember = await owner.visitor.post(`/rooms/${id}/settings/members/remove`, { username: "rm_member" });
    expect([notMember.status, alertOf(notMember)]).toEqual([404, "That person is not a member of this room."]);
  });

  it("lets the owner promote and demote moderators, and nobody else", async () => {
    const owner = await person("role_owner");
    const moderator = await person("role_moderator");
    const member = await person("role_member");
    const id = await newPrivateRoom(owner, "Roles");
    await addThroughSettings(owner, id, moderator, "moderator");
    await addThroughSettings(owner, id, member);

    const promoted = await owner.visitor.post(`/rooms/${id}/settings/members/role`, {
      username: "role_member",
      role: "moderator",
    });
    expect([promoted.status, promoted.location]).toEqual([303, `/rooms/${id}/settings?done=promoted&who=role_member`]);
    expect(await roleInD1(id, member)).toBe("moderator");
    const demoted = await owner.visitor.post(`/rooms/${id}/settings/members/role`, {
      username: "role_member",
      role: "member",
    });
    expect(demoted.status).toBe(303);
    expect(await membersOf(owner, id)).toContainEqual(["role_member", "member"]);
    expect(await roleInD1(id, member)).toBe("member");

    const byModerator = await moderator.visitor.post(`/rooms/${id}/settings/members/role`, {
      username: "role_member",
      role: "moderator",
    });
    expect([byModerator.status, alertOf(byModerator)]).toEqual([
      403,
      "Only the owner changes roles and hands the room over.",
    ]);
    const toOwner = await owner.visitor.post(`/rooms/${id}/settings/members/role`, {
      username: "role_member",
      role: "owner",
    });
    expect(toOwner.status).toBe(422);
    expect(await roleInD1(id, member)).toBe("member");
  });

  it("hands ownership over after a confirming step; the old owner becomes a moderator", async () => {
    const owner = await person("ho_owner");
    const heir = await person("ho_heir");
    const id = await newPrivateRoom(owner, "Handing over");
    await addThroughSettings(owner, id, heir);

    const asked = await owner.visitor.post(`/rooms/${id}/settings/owner`, { username: "ho_heir" });
    expect(asked.status).toBe(200);
    expect(asked.html).toContain("Make @ho_heir the owner of Handing over?");
    expect(asked.html).toContain('<input type="hidden" name="confirm" value="yes"/>');
    expect(await membersOf(owner, id)).toContainEqual(["ho_owner", "owner"]); // nothing changed yet

    const handed = await owner.visitor.post(`/rooms/${id}/settings/owner`, { username: "ho_heir", confirm: "yes" });
    expect([handed.status, handed.location]).toEqual([303, `/rooms/${id}/settings?done=handed&who=ho_heir`]);
    expect(await membersOf(heir, id)).toEqual([
      ["ho_heir", "owner"],
      ["ho_owner", "moderator"],
    ]);
    const [row] = await db.select().from(rooms).where(eq(rooms.id, id));
    expect(row?.ownerId).toBe(heir.user.id);
    expect(await roleInD1(id, owner)).toBe("moderator");

    // The old owner still sees the settings (as a moderator), without the owner's forms.
    const after = await owner.visitor.get(handed.location ?? "");
    expect(after.status).toBe(200);
    expect(after.html).toContain("@ho_heir owns the room now; you are a moderator.");
    expect(after.html).not.toContain("/settings/owner");
    // And can leave now.
    expect((await owner.visitor.post(`/rooms/${id}/leave`, {})).location).toBe("/");

    const nobody = await heir.visitor.post(`/rooms/${id}/settings/owner`, { username: "ho_owner" });
    expect([nobody.status, alertOf(nobody)]).toEqual([404, "That person is not a member of this room."]);
  });

  it("renames the room (owner only), with the room's reasons for a bad title", async () => {
    const owner = await person("rn_owner");
    const moderator = await person("rn_moderator");
    const id = await newPrivateRoom(owner, "Old name");
    await addThroughSettings(owner, id, moderator, "moderator");

    const renamed = await owner.visitor.post(`/rooms/${id}/settings/title`, { title: "New <name>" });
    expect([renamed.status, renamed.location]).toEqual([303, `/rooms/${id}/settings?done=renamed`]);
    expect((await api(owner, "GET", `/api/rooms/${id}`)).body.room.title).toBe("New <name>");
    const page = await owner.visitor.get(`/rooms/${id}`);
    expect(page.html).toContain("<h1>New &lt;name&gt;</h1>");

    const blank = await owner.visitor.post(`/rooms/${id}/settings/title`, { title: "  " });
    expect([blank.status, alertOf(blank)]).toEqual([422, "Title must not be empty."]);
    const byModerator = await moderator.visitor.post(`/rooms/${id}/settings/title`, { title: "Mine now" });
    expect([byModerator.status, alertOf(byModerator)]).toEqual([403, "Only the owner renames the room."]);
    expect((await api(owner, "GET", `/api/rooms/${id}`)).body.room.title).toBe("New <name>");
  });

  it("shows the new title in the lists (D1's mirror) after a rename", async () => {
    const owner = await person("rn_lists");
    const id = await newPrivateRoom(owner, "Before");
    expect((await owner.visitor.post(`/rooms/${id}/settings/title`, { title: "After" })).status).toBe(303);
    const [row] = await db.select().from(rooms).where(eq(rooms.id, id));
    expect(row?.title).toBe("After");
    expect(section(await owner.visitor.get("/"), "your_rooms_heading")).toContain(">After</a>");
  });

  it("creates an invite link shown once, lists it without its token, and revokes it", async () => {
    const owner = await person("inv_owner");
    const guest = await person("inv_guest");
    const late = await person("inv_late");
    const id = await newPrivateRoom(owner, "Invites");

    const created = await owner.visitor.post(`/rooms/${id}/settings/invites`, { expires_in: "604800", max_uses: "1" });
    expect(created.status).toBe(201);
    const url = /id="new_invite_url"[^>]*value="([^"]+)"/.exec(created.html)?.[1] ?? "";
    expect(url).toMatch(new RegExp(`^${LOCAL_ORIGIN}/invites/${id.replace(/[-~]/g, "\\$&")}\\.[A-Za-z0-9_-]{43}$`));
    const secret = url.slice(url.lastIndexOf(".") + 1);

    const listed = (await api(owner, "GET", `/api/rooms/${id}/invites`)).body.invites;
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ max_uses: 1, uses: 0 });
    const days = (Date.parse(listed[0].expires_at) - Date.now()) / (24 * 3600 * 1000);
    expect(days).toBeGreaterThan(6.9);
    expect(days).toBeLessThanOrEqual(7);

    const later = await owner.visitor.get(`/rooms/${id}/settings`);
    expect(later.html).not.toContain(secret);
    expect(later.html).toContain(`data-invite="${listed[0].id}"`);
    expect(later.html).toMatch(/<td>0 of 1<\/td>/);
    expect(later.html).toContain("in 7 d");

    // The link works (once).
    const accepted = await guest.visitor.get(new URL(url).pathname);
    expect([accepted.status, accepted.location]).toEqual([303, `/rooms/${id}`]);
    expect(await roleInD1(id, guest)).toBe("member");

    const second = await owner.visitor.post(`/rooms/${id}/settings/invites`, { expires_in: "3600", max_uses: "5" });
    const secondUrl = /id="new_invite_url"[^>]*value="([^"]+)"/.exec(second.html)?.[1] ?? "";
    const secondId = (await api(owner, "GET", `/api/rooms/${id}/invites`)).body.invites.find(
      (invite: { max_uses: number }) => invite.max_uses === 5,
    ).id;
    const revoked = await owner.visitor.post(`/rooms/${id}/settings/invites/revoke`, { invite: secondId });
    expect([revoked.status, revoked.location]).toEqual([303, `/rooms/${id}/settings?done=revoked`]);
    expect((await api(owner, "GET", `/api/rooms/${id}/invites`)).body.invites).toEqual([]);
    const refusedLink = await late.visitor.get(new URL(secondUrl).pathname);
    expect(refusedLink.status).toBe(404);
    expect(await roleInD1(id, late)).toBeUndefined();

    const again = await owner.visitor.post(`/rooms/${id}/settings/invites/revoke`, { invite: secondId });
    expect([again.status, alertOf(again)]).toEqual([404, "There is no live invite with that id."]);
  });

  it.each([
    [{ expires_in: "60", max_uses: "5" }, "Choose how long the link lasts: 1 hour, 1 day or 7 days."],
    [{ expires_in: "3600", max_uses: "0" }, "The number of uses must be a whole number from 1 to 1000."],
    [{ expires_in: "3600", max_uses: "1.5" }, "The number of uses must be a whole number from 1 to 1000."],
    [{ expires_in: "3600", max_uses: "1001" }, "The number of uses must be a whole number from 1 to 1000."],
  ])("refuses an invite with %j (422), creating none", async (fields, message) => {
    const owner = await person(`inv_bad_${fields.expires_in}_${fields.max_uses.replace(".", "")}`);
    const id = await newPrivateRoom(owner, "Bad invites");
    const page = await owner.visitor.post(`/rooms/${id}/settings/invites`, fields);
    expect([page.status, alertOf(page)]).toEqual([422, message]);
    expect((await api(owner, "GET", `/api/rooms/${id}/invites`)).body.invites).toEqual([]);
  });

  it("escapes what people typed everywhere: titles and usernames are text", async () => {
    const owner = await person("esc_owner");
    const attack = `<img src=x onerror=alert(1)>`;
    const id = await newPrivateRoom(owner, attack);
    for (const path of ["/", `/rooms/${id}`, `/rooms/${id}/settings`]) {
      const page = await owner.visitor.get(path);
      expect(page.html, path).not.toContain(attack);
      expect(page.html, path).toContain("&lt;img src=x onerror=alert(1)&gt;");
    }
    const refused = await owner.visitor.post(`/rooms/${id}/settings/members`, { username: attack });
    expect(refused.status).toBe(422);
    expect(refused.html).not.toContain(attack);
    // A name in the address is put back only if it is a username.
    const spoofed = await owner.visitor.get(`/rooms/${id}/settings?done=added&who=${encodeURIComponent("<b>x</b>")}`);
    expect(spoofed.html).toContain('<p class="notice" role="status" id="settings_notice">@someone was added.</p>');
    expect(spoofed.html).not.toContain("&lt;b&gt;x");
  });
});
