/**
 * Finding your way (issue 17), in two Chromium profiles (browser contexts of their own): unread and mention
 * counts appear in the sidebar of every open page of the reader, live, while they are in another room, and
 * clear in all of them once the room is read; a room opens at its "New messages" line; "Mark unread" brings
 * the count back in the other tab. Then search, with a third person on the official `phoenix` client: an
 * edited post is found by its new text only, a deleted one never, nor one from a private room the searcher
 * is not in.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { launchChromium, newPerson, type Person, signUp, waitForLive } from "./chromium";
import { type RegisteredUser, registerUser, uniqueName, waitUntil } from "./helpers";
import { enterRoom, OpenSockets, post, push } from "./phoenix";

const baseUrl = inject("baseUrl");

let browser: Browser | undefined;
const people: Person[] = [];
const tabs: Page[] = [];
const sockets = new OpenSockets();
/** The writer (one profile) and the reader (the other, in two tabs). */
let writer: Person;
let reader: Person;
/** The third person, from Node. */
let app: RegisteredUser;

async function person(prefix: string): Promise<Person> {
  const someone = await newPerson(browser, prefix, { width: 1200, height: 800 });
  people.push(someone);
  return someone;
}

/** The socket token a logged-in page embeds: the rooms API from Node as that person. */
async function tokenOf(page: Page): Promise<string> {
  const token = await page.getAttribute('meta[name="user_token"]', "content");
  if (!token) throw new Error(`${page.url()} has no user_token`);
  return token;
}

async function api<T>(token: string, method: string, path: string, body?: object): Promise<T> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${token}`,
      Accept: "application/json",
      ...(body !== undefined && { "Content-Type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return (text ? JSON.parse(text) : {}) as T;
}

/** What a page's sidebar shows for `room`: its unread and mention counts ("" where hidden). */
async function counts(page: Page, room: string): Promise<{ unread: string; mentions: string }> {
  return page.evaluate((id) => {
    const shown = (selector: string) => {
      const element = Array.from(document.querySelectorAll<HTMLElement>(selector)).find(
        (item) => item.dataset.room === id,
      );
      return element && !element.hidden ? (element.textContent ?? "") : "";
    };
    return { unread: shown("#room_nav .unread-count"), mentions: shown("#room_nav .mention-count") };
  }, room);
}

function countsReach(page: Page, room: string, expected: { unread: string; mentions: string }, what: string) {
  return waitUntil(
    what,
    async () => {
      const shown = await counts(page, room);
      return shown.unread === expected.unread && shown.mentions === expected.mentions;
    },
    10_000,
  );
}

async function send(page: Page, message: string): Promise<void> {
  await page.fill("#post_message", message);
  await page.press("#post_message", "Enter");
  await page.waitForSelector(`#posts li[data-id] .message >> text="${message}"`);
}

beforeAll(async () => {
  browser = await launchChromium();
  writer = await person("wri");
  reader = await person("rea");
  [app] = await Promise.all([
    registerUser(baseUrl, uniqueName("app")),
    signUp(baseUrl, writer),
    signUp(baseUrl, reader),
  ]);
});

afterEach(() => {
  sockets.disconnectAll();
  for (const someone of people) {
    expect(someone.pageErrors, `uncaught errors in ${someone.username}'s page`).toEqual([]);
    expect(someone.dialogs, `dialogs opened in ${someone.username}'s page`).toEqual([]);
  }
});

afterAll(async () => {
  for (const tab of tabs.splice(0)) await tab.close().catch(() => {});
  for (const someone of people.splice(0)) await someone.context.close().catch(() => {});
  await browser?.close();
});

describe("unread counts and the read position, in two profiles", () => {
  it("counts live in every tab, opens at 'New messages', clears everywhere once read, and 'Mark unread' brings it back", async () => {
    const writerToken = await tokenOf(writer.page);
    // A private room the two share, where the reader sits, and their direct messages, where news arrives.
    const { room: team } = await api<{ room: { id: string } }>(writerToken, "POST", "/api/rooms", {
      kind: "private",
      title: "Team",
    }).then(({ room }) => ({ room: room.id }));
    await api(writerToken, "POST", `/api/rooms/${team}/members`, { username: reader.username });
    const { room: dm } = await api<{ room: { id: string } }>(writerToken, "POST", "/api/dm", {
      username: reader.username,
    }).then(({ room }) => ({ room: room.id }));

    // The reader has the team room open in two tabs; nothing is unread yet.
    const first = reader.page;
    const second = await reader.context.newPage();
    tabs.push(second);
    second.on("pageerror", (error) => {
      reader.pageErrors.push(String(error));
    });
    for (const tab of [first, second]) {
      await tab.goto(`${baseUrl}/rooms/${team}`);
      await waitForLive(tab);
      expect(await counts(tab, dm)).toEqual({ unread: "", mentions: "" });
    }

    // The writer says two things in the direct messages, one mentioning the reader.
    await writer.page.goto(`${baseUrl}/rooms/${dm}`);
    await waitForLive(writer.page);
    await send(writer.page, "are you there?");
    await send(writer.page, `@${reader.username} the numbers are in`);
    for (const tab of [first, second]) {
      await countsReach(tab, dm, { unread: "2", mentions: "1" }, "both tabs count the two posts, one a mention");
    }

    // Opening the direct messages in the first tab: the line is above the first unread post, and reading
    // them clears the count in the other tab too.
    await first.goto(`${baseUrl}/rooms/${dm}`);
    await waitForLive(first);
    const line = first.locator("#posts > #new_messages");
    await line.waitFor();
    expect(await first.evaluate(() => document.querySelector("#new_messages + li .message")?.textContent)).toBe(
      "are you there?",
    );
    expect(await first.isVisible("#mark_read")).toBe(true);
    await countsReach(second, dm, { unread: "", mentions: "" }, "the other tab's count clears once the posts are read");

    // "Mark unread" on the first of them: unread again, in the other tab as well, with the line above it.
    const post = first.locator("#posts li[data-id]", { hasText: "are you there?" });
    await post.hover();
    await post.locator('button[data-action="unread"]').click();
    await countsReach(second, dm, { unread: "2", mentions: "1" }, "marked unread: the other tab counts both again");
    expect(await first.evaluate(() => document.querySelector("#new_messages + li .message")?.textContent)).toBe(
      "are you there?",
    );

    // "Mark as read" clears it for good, and the line goes.
    await first.click("#mark_read");
    await countsReach(second, dm, { unread: "", mentions: "" }, "marked as read: the other tab clears again");
    await first.locator("#new_messages").waitFor({ state: "detached" });
    await first.locator("#mark_read").waitFor({ state: "hidden" });

    // The writer's own posts never count for the writer.
    await writer.page.goto(`${baseUrl}/rooms/${team}`);
    await waitForLive(writer.page);
    expect(await counts(writer.page, dm)).toEqual({ unread: "", mentions: "" });
  });
});

describe("search, in the reader's profile", () => {
  it("finds an edited post by its new text only, never a deleted one, nor one from a private room the searcher is not in", async () => {
    const room = uniqueName("srch");
    const words = { draft: uniqueName("draft"), final: uniqueName("final"), gone: uniqueName("gone") };
    const secretWord = uniqueName("secret");
    const member = await enterRoom({ baseUrl, room, token: app.token, sockets });
    const edited = await post(member.channel, `first ${words.draft}`);
    expect((await push(member.channel, "edit_post", { id: edited.id, message: `then ${words.final}` })).status).toBe(
      "ok",
    );
    const deleted = await post(member.channel, `soon ${words.gone}`);
    expect((await push(member.channel, "delete_post", { id: deleted.id })).status).toBe("ok");
    const { room: secret } = await api<{ room: { id: string } }>(app.token, "POST", "/api/rooms", {
      kind: "private",
      title: "Not yours",
    }).then(({ room: made }) => ({ room: made.id }));
    const inside = await enterRoom({ baseUrl, room: secret, token: app.token, sockets });
    await post(inside.channel, `the ${secretWord} stays here`);
    // A post is indexed for search right after its copy to D1 (docs/search.md): the app finds it first.
    await waitUntil("the app finds the edited post and its own secret", async () => {
      const found = await api<{ results: unknown[] }>(app.token, "GET", `/search?q=${words.final}`);
      const own = await api<{ results: unknown[] }>(app.token, "GET", `/search?q=${secretWord}`);
      return found.results.length === 1 && own.results.length === 1;
    });

    const page = reader.page;
    const results = async (q: string) => {
      await page.goto(`${baseUrl}/search?q=${encodeURIComponent(q)}`);
      return page.$$eval("#search_results li .message", (items) => items.map((item) => item.textContent ?? ""));
    };
    expect((await results(words.final)).join(" ")).toContain(words.final);
    expect(await page.$$eval("#search_results mark", (marks) => marks.map((mark) => mark.textContent))).toEqual([
      words.final,
    ]);
    expect(await results(words.draft)).toEqual([]);
    expect(await results(words.gone)).toEqual([]);
    expect(await results(secretWord)).toEqual([]);
  });
});
