/**
 * Rooms people own, with three people: two in real headless Chromium, each in a browser context of their own
 * and using only the pages (the home page's forms, the room page's sidebar, the settings page), and a third
 * on the official `phoenix` client from Node, using the socket and the JSON API as an app would. A private
 * room is not there for an outsider on any page, way in or endpoint (exactly as a room that does not exist)
 * until an invite link brings them in, and then presence shows them; a removal ends the channel on all
 * three ways in within a second; a direct message opened from either side is the same room; the sidebar
 * (a drawer on a phone) switches rooms. Then moderation: a muted member's composer is off and says until
 * when, a ban cuts the member off within a second on all three ways in, and the moderation log on the
 * settings page lists each action.
 */
import { randomBytes } from "node:crypto";
import type { Browser, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { launchChromium, newPerson, type Person, shownPosts, signUp, waitForLive } from "./chromium";
import { type RegisteredUser, rawGet, registerUser, UPGRADE_HEADERS, uniqueName, waitUntil } from "./helpers";
import { enterRoom, type JoinResult, OpenSockets, openSocket, tryJoin, type WayIn } from "./phoenix";

const baseUrl = inject("baseUrl");
const NO_SUCH_ROOM = "There is no such room.";

let browser: Browser | undefined;
const people: Person[] = [];
let owner: Person;
let outsider: Person;
/** The third person: the phoenix client and the API from Node, never a page. */
let app: RegisteredUser;
const sockets = new OpenSockets();
/** The private room `owner` creates in the first test, and its title. */
let privateRoom = "";
const title = `Plans ${uniqueName("t")}`;

async function person(prefix: string): Promise<Person> {
  const someone = await newPerson(browser, prefix, { width: 1200, height: 800 });
  people.push(someone);
  return someone;
}

/** Submits a form by clicking its button and waits for the page it leads to. */
async function submit(page: Page, button: string): Promise<void> {
  await Promise.all([page.waitForNavigation({ timeout: 15_000 }), page.click(button)]);
}

/** The room id in a room page's address. */
function roomIdOf(page: Page): string {
  const id = /\/rooms\/([^/?#]+)$/.exec(new URL(page.url()).pathname)?.[1];
  if (!id) throw new Error(`${page.url()} is not a room page`);
  return decodeURIComponent(id);
}

async function heading(page: Page): Promise<string> {
  return (await page.textContent("h1"))?.trim() ?? "";
}

async function onlineNames(page: Page): Promise<string[]> {
  return page.$$eval("#online_list li", (items) => items.map((item) => item.textContent ?? ""));
}

async function send(page: Page, message: string): Promise<void> {
  await page.fill("#post_message", message);
  await page.press("#post_message", "Enter");
}

function waitForPost(page: Page, message: string) {
  return waitUntil(`the page shows ${JSON.stringify(message)}`, async () =>
    (await shownPosts(page)).find((post) => post.message === message),
  );
}

beforeAll(async () => {
  browser = await launchChromium();
  owner = await person("own");
  outsider = await person("out");
  [app] = await Promise.all([
    registerUser(baseUrl, uniqueName("app")),
    signUp(baseUrl, owner),
    signUp(baseUrl, outsider),
  ]);
});

afterEach(() => {
  sockets.disconnectAll();
  for (const person of people) {
    expect(person.pageErrors, `uncaught errors in ${person.username}'s page`).toEqual([]);
    expect(person.dialogs, `dialogs opened in ${person.username}'s page`).toEqual([]);
  }
});

afterAll(async () => {
  for (const person of people.splice(0)) await person.context.close().catch(() => {});
  await browser?.close();
});

describe("rooms people own, in Chromium", () => {
  it("keeps a private room from the outsider on every page until an invite link brings them in, and presence shows them", async () => {
    const { page } = owner;
    await page.goto(`${baseUrl}/`);
    await page.fill("#private_title", title);
    await submit(page, 'form[action="/rooms/new-private"] button[type=submit]');
    privateRoom = roomIdOf(page);
    expect(privateRoom).toMatch(/^~[A-Za-z0-9_-]{34}$/);
    expect(await heading(page)).toBe(title);
    await waitForLive(page);

    // The outsider: nothing on the home page, and the room's page, settings and history are a missing room's.
    const out = outsider.page;
    await out.goto(`${baseUrl}/`);
    const home = await out.content();
    expect(home).not.toContain(privateRoom);
    expect(home).not.toContain(title);
    for (const path of [`/rooms/${privateRoom}`, `/rooms/${privateRoom}/settings`]) {
      const response = await out.goto(`${baseUrl}${path}`);
      expect(response?.status(), path).toBe(404);
      expect(await out.textContent("#error_message"), path).toBe(NO_SUCH_ROOM);
      expect(await out.content(), path).not.toContain(title);
    }
    const history = await out.request.get(`${baseUrl}/rooms/${privateRoom}/posts`);
    expect(history.status()).toBe(404);

    // The owner makes an invite link on the settings page: shown once, right after it is made.
    await page.goto(`${baseUrl}/rooms/${privateRoom}/settings`);
    await page.selectOption("#invite_expiry", "3600");
    await page.fill("#invite_uses", "1");
    await submit(page, 'form[action$="/settings/invites"] button[type=submit]');
    const url = await page.inputValue("#new_invite_url");
    expect(url).toMatch(new RegExp(`^${baseUrl}/invites/`));
    expect(await page.locator("#invites tbody tr").count()).toBe(1);

    // Back in the room, the owner waits for company.
    await page.goto(`${baseUrl}/rooms/${privateRoom}`);
    await waitForLive(page);

    await out.goto(url);
    await out.waitForURL(`${baseUrl}/rooms/${privateRoom}`);
    expect(await heading(out)).toBe(title);
    await waitForLive(out);
    await waitUntil("the owner's page shows the outsider online", async () =>
      (await onlineNames(page)).some((name) => name.includes(outsider.username)),
    );
    expect((await onlineNames(out)).some((name) => name.includes(owner.username))).toBe(true);
    await send(out, "thanks for the invite");
    await waitForPost(page, "thanks for the invite");

    // Now it is among the newcomer's rooms, marked as the current one.
    const current = out.locator('#room_nav a[aria-current="page"]');
    expect(await current.textContent()).toBe(title);
    expect(await current.getAttribute("href")).toBe(`/rooms/${privateRoom}`);

    // Opened again by a member, the (now used-up) link just takes them in.
    await page.goto(url);
    await page.waitForURL(`${baseUrl}/rooms/${privateRoom}`);
  });

  it("opens the same direct message from both sides, headed by the other person's name", async () => {
    const { page } = owner;
    await page.goto(`${baseUrl}/`);
    await page.fill("#dm_username", `@${outsider.username}`);
    await submit(page, 'form[action="/dm"] button[type=submit]');
    const fromOwner = roomIdOf(page);
    expect(await heading(page)).toBe(`@${outsider.username}`);
    await waitForLive(page);

    const out = outsider.page;
    await out.goto(`${baseUrl}/`);
    await out.fill("#dm_username", owner.username);
    await submit(out, 'form[action="/dm"] button[type=submit]');
    expect(roomIdOf(out)).toBe(fromOwner);
    expect(await heading(out)).toBe(`@${owner.username}`);
    await waitForLive(out);

    await send(page, "just between us");
    await waitForPost(out, "just between us");
    // Listed under the partner's name on each side's home page.
    await out.goto(`${baseUrl}/`);
    expect(await out.locator(`#your_dms a[href="/rooms/${fromOwner}"]`).textContent()).toBe(`@${owner.username}`);
  });

  it("switches rooms from the sidebar, and from the drawer on a phone", async () => {
    const { page } = owner;
    await page.goto(`${baseUrl}/`);
    const dm = await page.locator("#your_dms a").first().getAttribute("href");
    expect(dm).toBeTruthy();
    await page.goto(`${baseUrl}${dm}`);
    await waitForLive(page);

    await Promise.all([
      page.waitForURL(`${baseUrl}/rooms/${privateRoom}`),
      page.click(`#room_nav a:text-is("${title}")`),
    ]);
    expect(await heading(page)).toBe(title);
    await waitForLive(page);
    expect(await shownPosts(page)).toEqual(
      expect.arrayContaining([expect.objectContaining({ message: "thanks for the invite" })]),
    );
    await Promise.all([page.waitForURL(`${baseUrl}${dm}`), page.click(`#room_nav a[href="${dm}"]`)]);
    expect(await heading(page)).toBe(`@${outsider.username}`);
    await waitForLive(page);

    // A phone: the sidebar is a drawer behind the "Rooms" button.
    await page.setViewportSize({ width: 390, height: 800 });
    await page.reload();
    await waitForLive(page);
    const toggle = page.locator("#rooms_toggle");
    await page.locator("#room_nav").waitFor({ state: "hidden" });
    expect(await toggle.getAttribute("aria-expanded")).toBe("false");
    await toggle.click();
    expect(await toggle.getAttribute("aria-expanded")).toBe("true");
    await page.locator("#room_nav").waitFor({ state: "visible" });
    await page.keyboard.press("Escape");
    await page.locator("#room_nav").waitFor({ state: "hidden" });
    await toggle.click();
    await Promise.all([
      page.waitForURL(`${baseUrl}/rooms/${privateRoom}`),
      page.click(`#room_nav a:text-is("${title}")`),
    ]);
    expect(await heading(page)).toBe(title);
    await waitForLive(page);
    await page.setViewportSize({ width: 1200, height: 800 });
  });
});

/** A well-formed private room id whose tag this server never made: what a room that does not exist is. */
function neverMinted(): string {
  return `~${randomBytes(25).toString("base64url")}`;
}

interface Answer {
  status: number;
  body: string;
}

async function get(path: string, headers: Record<string, string>): Promise<Answer> {
  const response = await fetch(`${baseUrl}${path}`, { headers });
  return { status: response.status, body: await response.text() };
}

/** The JSON API as an app calls it, with a socket token as Bearer. */
async function api(token: string, method: string, path: string, body?: object): Promise<Answer> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${token}`,
      ...(body !== undefined && { "Content-Type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.text() };
}

/**
 * Checks that `user` gets for room `id` exactly what they get for a room that does not exist, on every way
 * in and endpoint an app has: the room-bound upgrade (the official client's socket never opens), a join
 * on a multiplexed socket and over LongPoll, the history, the API, the page, and the room list.
 */
async function expectNothingOf(user: RegisteredUser, id: string): Promise<void> {
  const unknown = neverMinted();
  const both = <T>(answer: (room: string) => Promise<T>) => Promise.all([answer(id), answer(unknown)]);
  const bearer = { Authorization: `Bearer ${user.token}` };
  const upgrade = async (room: string): Promise<Answer> => {
    const query = new URLSearchParams({ vsn: "2.0.0", room, token: user.token });
    const { status, body } = await rawGet(`${baseUrl}/socket/websocket?${query}`, { ...UPGRADE_HEADERS });
    return { status, body };
  };
  const clientOpens = (room: string) =>
    new Promise<boolean>((resolve) => {
      const socket = openSocket({ baseUrl, token: user.token, sockets, room });
      socket.onOpen(() => resolve(true));
      socket.onError(() => resolve(false));
      socket.connect();
    });
  const joinsOn = (way: WayIn) => {
    const socket = openSocket({ baseUrl, token: user.token, sockets, way });
    socket.connect();
    return both((room) => tryJoin(socket.channel(`room:${room}`, {})));
  };
  /** A page is HTML with a fresh nonce each time: what it says, not its bytes. */
  const page = async (room: string) => {
    const { status, body } = await get(`/rooms/${room}`, { Cookie: user.cookie });
    return { status, saysNoSuchRoom: body.includes(NO_SUCH_ROOM), showsTitle: body.includes(title) };
  };

  const [upgrades, opens, multiplexed, longPoll, history, room, pages, list] = await Promise.all([
    both(upgrade),
    both(clientOpens),
    joinsOn("multiplexed"),
    joinsOn("longpoll"),
    both((room) => get(`/rooms/${room}/posts`, bearer)),
    both((room) => get(`/api/rooms/${room}`, bearer)),
    both(page),
    api(user.token, "GET", "/api/rooms"),
  ]);
  const noSuchRoom: JoinResult = { status: "error", response: { reason: "no such room" } };
  const noSuchRoomJson = { status: 404, body: JSON.stringify({ error: NO_SUCH_ROOM }) };
  for (const [surface, [ofRoom, ofMissing], expected] of [
    ["the room-bound upgrade", upgrades, { status: 404, body: NO_SUCH_ROOM }],
    ["the official client's room-bound socket opens", opens, false],
    ["a join on a multiplexed socket", multiplexed, noSuchRoom],
    ["a join over LongPoll", longPoll, noSuchRoom],
    ["GET /rooms/<id>/posts", history, noSuchRoomJson],
    ["GET /api/rooms/<id>", room, noSuchRoomJson],
    ["the room's page", pages, { status: 404, saysNoSuchRoom: true, showsTitle: false }],
  ] as const) {
    expect(ofRoom, surface).toEqual(expected);
    expect(ofMissing, `${surface}, for a room that does not exist`).toEqual(expected);
  }
  expect(list.status).toBe(200);
  const listed = (JSON.parse(list.body) as { rooms: Array<{ id: string }> }).rooms;
  expect(listed.map((listedRoom) => listedRoom.id)).not.toContain(id);
  expect(list.body).not.toContain(title);
}

describe("the third person, on the phoenix client from Node", () => {
  it("finds a private room exactly as a room that does not exist, on every way in and endpoint", async () => {
    expect(privateRoom).not.toBe("");
    await expectNothingOf(app, privateRoom);
  });

  it("is let in by an invite link and shown in presence; a removal ends its channel on all three ways in within 1 s", async () => {
    const { page } = owner;
    await page.goto(`${baseUrl}/rooms/${privateRoom}`);
    await waitForLive(page);
    const ownerToken = await page.getAttribute('meta[name="user_token"]', "content");
    if (!ownerToken) throw new Error("the owner's room page carries no user_token");

    // The owner makes a link through the API, as an app would, and the third person accepts it there.
    const made = await api(ownerToken, "POST", `/api/rooms/${privateRoom}/invites`, {
      expires_in_seconds: 3600,
      max_uses: 1,
    });
    expect(made.status, made.body).toBe(201);
    const { url } = (JSON.parse(made.body) as { invite: { url: string } }).invite;
    const inviteToken = new URL(url).pathname.replace(/^\/invites\//, "");
    const accepted = await api(app.token, "POST", `/api/invites/${inviteToken}`, {});
    expect(accepted.status, accepted.body).toBe(200);
    expect(JSON.parse(accepted.body)).toMatchObject({ room: { id: privateRoom, role: "member" } });

    // In on all three ways at once, and the owner's page shows them online.
    const ways: WayIn[] = ["room-bound", "multiplexed", "longpoll"];
    const members = await Promise.all(
      ways.map((way) => enterRoom({ baseUrl, room: privateRoom, token: app.token, sockets, way })),
    );
    await waitUntil("the owner's page shows the third person online", async () =>
      (await onlineNames(page)).some((name) => name.includes(app.username)),
    );

    // From here on: every message each socket gets, whatever its topic, and when each channel closes.
    const topic = `room:${privateRoom}`;
    const heard = members.map((member) => {
      const messages: Array<{ topic: string; event: string; payload: unknown }> = [];
      member.socket.onMessage((message) => {
        messages.push(message as (typeof messages)[number]);
      });
      return messages;
    });
    const closedAt: Array<number | undefined> = ways.map(() => undefined);
    members.forEach((member, n) => {
      member.channel.onClose(() => {
        closedAt[n] ??= Date.now();
      });
    });

    const removal = await api(ownerToken, "DELETE", `/api/rooms/${privateRoom}/members/${app.username}`);
    const answeredAt = Date.now();
    expect(removal.status, removal.body).toBe(204);
    for (const [n, way] of ways.entries()) {
      await waitUntil(`the ${way} channel is closed`, () => closedAt[n] !== undefined);
    }
    const latencies = closedAt.map((at) => (at ?? Number.POSITIVE_INFINITY) - answeredAt);
    expect(Math.max(...latencies), `ms from the DELETE's answer to each close (${ways}): ${latencies}`).toBeLessThan(
      1_000,
    );
    for (const [n, member] of members.entries()) {
      expect(
        member.events.filter((entry) => entry.event === "membership_ended"),
        ways[n],
      ).toEqual([{ event: "membership_ended", payload: { reason: "removed" } }]);
      expect(member.channel.state, ways[n]).toBe("closed");
    }
    await waitUntil("the owner's page no longer shows the third person online", async () =>
      (await onlineNames(page)).every((name) => !name.includes(app.username)),
    );

    // The owner posts; then a rejoin on each socket is refused. The rejoin goes through the room after the
    // post's broadcast, so had the room still been sending to them, it would be in before the refusal.
    await send(page, "after the removal");
    await waitForPost(page, "after the removal");
    const rejoins = await Promise.all(members.map((member) => tryJoin(member.socket.channel(topic, {}))));
    for (const [n, messages] of heard.entries()) {
      expect(rejoins[n], ways[n]).toEqual({ status: "error", response: { reason: "no such room" } });
      const ofRoom = messages.filter((message) => message.topic === topic);
      const close = ofRoom.findIndex((message) => message.event === "phx_close");
      expect(ofRoom[close - 1]?.event, ways[n]).toBe("membership_ended");
      expect(
        ofRoom.slice(close + 1).map((message) => [message.event, message.payload]),
        `${ways[n]}: after the close, only the refused rejoin`,
      ).toEqual([["phx_reply", { status: "error", response: { reason: "no such room" } }]]);
    }

    // And they are an outsider again, everywhere.
    await expectNothingOf(app, privateRoom);
  });
});

describe("moderation, in Chromium and on the phoenix client", () => {
  it("mutes the member from the owner's menu on the online list: their composer is off and says until when, until the settings page unmutes them", async () => {
    const { page } = owner;
    const out = outsider.page;
    await page.goto(`${baseUrl}/rooms/${privateRoom}`);
    await out.goto(`${baseUrl}/rooms/${privateRoom}`);
    await Promise.all([waitForLive(page), waitForLive(out)]);

    const chip = page.locator(`#online_list button[data-username="${outsider.username}"]`);
    await chip.click();
    await page.click('#member_menu button[data-mute="3600"]');
    await waitUntil("the menu says the mute went through", async () =>
      (await page.textContent("#member_menu_result"))?.startsWith(`@${outsider.username} is muted until`),
    );

    const notice = out.locator("#composer_state");
    await notice.waitFor({ state: "visible" });
    const said = (await notice.textContent()) ?? "";
    // Until when, in the member's own clock: an hour from now, to the minute.
    const expected = await out.evaluate(() => {
      const until = new Date(Date.now() + 3_600_000);
      return [until, new Date(until.getTime() - 60_000)].map(
        (at) => `${String(at.getHours()).padStart(2, "0")}:${String(at.getMinutes()).padStart(2, "0")}`,
      );
    });
    expect(expected.map((time) => `You are muted until ${time}.`)).toContain(said);
    expect(await out.isDisabled("#post_message")).toBe(true);
    expect(await out.isDisabled("#post_send")).toBe(true);

    // The settings page lists the mute; unmuting there opens the composer again, live.
    await page.goto(`${baseUrl}/rooms/${privateRoom}/settings`);
    await submit(page, `#mutes form button[aria-label="Unmute @${outsider.username}"]`);
    await notice.waitFor({ state: "hidden" });
    expect(await out.isDisabled("#post_message")).toBe(false);
    await send(out, "free to speak");
    await waitForPost(out, "free to speak");
  });

  it("bans the third person: their channel closes within 1 s on all three ways in, and they cannot rejoin or read", async () => {
    const { page } = owner;
    await page.goto(`${baseUrl}/rooms/${privateRoom}`);
    const ownerToken = await page.getAttribute('meta[name="user_token"]', "content");
    if (!ownerToken) throw new Error("the owner's room page carries no user_token");
    const added = await api(ownerToken, "POST", `/api/rooms/${privateRoom}/members`, { username: app.username });
    expect(added.status, added.body).toBe(201);

    const ways: WayIn[] = ["room-bound", "multiplexed", "longpoll"];
    const members = await Promise.all(
      ways.map((way) => enterRoom({ baseUrl, room: privateRoom, token: app.token, sockets, way })),
    );
    const closedAt: Array<number | undefined> = ways.map(() => undefined);
    members.forEach((member, n) => {
      member.channel.onClose(() => {
        closedAt[n] ??= Date.now();
      });
    });
    const banned = await api(ownerToken, "POST", `/api/rooms/${privateRoom}/bans`, { username: app.username });
    const answeredAt = Date.now();
    expect(banned.status, banned.body).toBe(201);
    for (const [n, way] of ways.entries()) {
      await waitUntil(`the ${way} channel is closed`, () => closedAt[n] !== undefined);
    }
    const latencies = closedAt.map((at) => (at ?? Number.POSITIVE_INFINITY) - answeredAt);
    expect(Math.max(...latencies), `ms from the ban's answer to each close (${ways}): ${latencies}`).toBeLessThan(
      1_000,
    );
    for (const [n, member] of members.entries()) {
      expect(
        member.events.filter((entry) => entry.event === "membership_ended"),
        ways[n],
      ).toEqual([{ event: "membership_ended", payload: { reason: "banned" } }]);
    }
    const rejoins = await Promise.all(
      members.map((member) => tryJoin(member.socket.channel(`room:${privateRoom}`, {}))),
    );
    for (const [n, rejoin] of rejoins.entries()) {
      expect(rejoin, ways[n]).toEqual({ status: "error", response: { reason: "banned" } });
    }
    const history = await get(`/rooms/${privateRoom}/posts`, { Authorization: `Bearer ${app.token}` });
    expect(history).toEqual({ status: 403, body: JSON.stringify({ error: "You are banned from this room." }) });
  });

  it("lists each action in the moderation log on the settings page", async () => {
    const { page } = owner;
    await page.goto(`${baseUrl}/rooms/${privateRoom}/settings`);
    const rows = await page.$$eval("#moderation_log tr", (items) =>
      items.map((item) => item.querySelector("td:last-child")?.textContent?.replace(/\s+/g, " ").trim() ?? ""),
    );
    expect(rows).toEqual([
      `@${owner.username} banned @${app.username}`,
      `@${owner.username} unmuted @${outsider.username}`,
      `@${owner.username} muted @${outsider.username} for 1 h`,
    ]);
    expect(await page.locator(`#bans tr[data-banned="${app.username}"]`).count()).toBe(1);
  });
});
