/**
 * Rooms people own, in real headless Chromium: two people, each in a browser context of their own, use only
 * the pages (the home page's forms, the room page's sidebar, the settings page). A private room is not there
 * for the outsider on any page until an invite link brings them in, and then presence shows them; a direct
 * message opened from either side is the same room; the sidebar (a drawer on a phone) switches rooms.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { launchChromium, newPerson, type Person, shownPosts, signUp, waitForLive } from "./chromium";
import { uniqueName, waitUntil } from "./helpers";

const baseUrl = inject("baseUrl");
const NO_SUCH_ROOM = "There is no such room.";

let browser: Browser | undefined;
const people: Person[] = [];
let owner: Person;
let outsider: Person;
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
  await Promise.all([signUp(baseUrl, owner), signUp(baseUrl, outsider)]);
});

afterEach(() => {
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
