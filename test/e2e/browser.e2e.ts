/**
 * Two people in real headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core), each in
 * their own browser context (own cookies): they sign up through the real form, open the same room and
 * chat through the page's own script (/assets/room.js on the phoenix client).
 */
import type { Browser, Page, WebSocketRoute } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { HEARTBEAT_FRAME, HEARTBEAT_REPLY } from "../../src/shared/heartbeat";
import { launchChromium, newPerson, type Person, type ShownPost, shownPosts, signUp, waitForLive } from "./chromium";
import { registerUser, uniqueName, waitUntil } from "./helpers";
import { enterRoom, OpenSockets, type Post, post } from "./phoenix";

const baseUrl = inject("baseUrl");

let browser: Browser | undefined;
const people: Person[] = [];
/** Extra pages (tabs) a test opened, closed after it. */
const tabs: Page[] = [];
/** Sockets of Node-side members (seeding posts), disconnected after each test. */
const sockets = new OpenSockets();
let a: Person;
let b: Person;
let room: string;

async function person(prefix: string): Promise<Person> {
  const someone = await newPerson(browser, prefix);
  people.push(someone);
  return someone;
}

/** Opens the room page and waits until the page has joined: live status and an enabled composer. */
async function openRoom(person: Person): Promise<void> {
  const { page } = person;
  await page.goto(`${baseUrl}/rooms/${room}`);
  await waitForLive(page);
}

/** Waits until `person`'s list shows a post with exactly this message, and returns it. */
function waitForPost(person: Person, message: string): Promise<ShownPost> {
  return waitUntil(`${person.username}'s page shows ${JSON.stringify(message.slice(0, 60))}`, async () =>
    (await shownPosts(person.page)).find((post) => post.message === message),
  );
}

async function countShown(person: Person, message: string): Promise<number> {
  return (await shownPosts(person.page)).filter((post) => post.message === message).length;
}

/**
 * Opens `roomName` in a new tab of `person`'s browser context (same cookies), watched for errors like
 * their first page, and waits until it is live. `beforeOpen` can set the tab up first (routes, clock).
 */
async function openTab(person: Person, roomName: string, beforeOpen?: (page: Page) => Promise<void>): Promise<Page> {
  const page = await person.context.newPage();
  tabs.push(page);
  page.on("pageerror", (error) => {
    person.pageErrors.push(String(error));
  });
  await beforeOpen?.(page);
  await page.goto(`${baseUrl}/rooms/${roomName}`);
  await waitForLive(page);
  return page;
}

interface OnlineShown {
  count: string | null;
  names: string[];
  self: string[];
}

function onlineShown(page: Page): Promise<OnlineShown> {
  return page.evaluate(() => ({
    count: document.querySelector("#online_count")?.textContent ?? null,
    names: Array.from(document.querySelectorAll("#online_list li"), (item) => item.textContent ?? ""),
    self: Array.from(document.querySelectorAll("#online_list li.self"), (item) => item.textContent ?? ""),
  }));
}

async function waitForOnline(page: Page, names: string[], self: string): Promise<void> {
  const expected: OnlineShown = {
    count: `${names.length} online`,
    names: [...names].sort((x, y) => x.localeCompare(y)),
    self: [self],
  };
  let shown: OnlineShown | undefined;
  try {
    await waitUntil(`the online list shows ${JSON.stringify(expected)}`, async () => {
      shown = await onlineShown(page);
      return JSON.stringify(shown) === JSON.stringify(expected);
    });
  } catch (problem) {
    throw new Error(`${String(problem)}; it shows ${JSON.stringify(shown)}`);
  }
}

/** Stored posts of a room as the page's own session sees them (GET /rooms/ROOM/posts with its cookie). */
async function storedWith(page: Page, roomName: string, message: string): Promise<Post[]> {
  const response = await page.request.get(`${baseUrl}/rooms/${roomName}/posts?limit=200`);
  expect(response.status()).toBe(200);
  const { posts } = (await response.json()) as { posts: Post[] };
  return posts.filter((stored) => stored.message === message);
}

/** Fills the composer and presses Enter, as a person sends a message. */
async function send(person: Person, message: string): Promise<void> {
  await person.page.fill("#post_message", message);
  await person.page.press("#post_message", "Enter");
}

beforeAll(async () => {
  browser = await launchChromium();
  a = await person("ann");
  b = await person("ben");
  room = uniqueName("e2e");
  // Two people, two browser contexts: they sign up and open the room side by side.
  await Promise.all([signUp(baseUrl, a), signUp(baseUrl, b)]);
  await Promise.all([openRoom(a), openRoom(b)]);
});

afterEach(() => {
  for (const person of people) {
    expect(person.pageErrors, `uncaught errors in ${person.username}'s page`).toEqual([]);
    expect(person.dialogs, `dialogs opened in ${person.username}'s page`).toEqual([]);
  }
});

afterEach(async () => {
  for (const tab of tabs.splice(0)) await tab.close().catch(() => {});
  sockets.disconnectAll();
});

afterAll(async () => {
  for (const person of people.splice(0)) await person.context.close().catch(() => {});
  await browser?.close();
});

describe("two people chatting in Chromium", () => {
  it("delivers a typed message live to the other page, shows it once to the sender and clears the input", async () => {
    await a.page.locator("#post_message").pressSequentially("hello from A");
    await a.page.press("#post_message", "Enter");
    await waitUntil("A's input is cleared", async () => (await a.page.inputValue("#post_message")) === "");

    const atB = await waitForPost(b, "hello from A");
    expect(atB.author).toBe(a.username);
    expect(atB.classes).not.toContain("own");
    expect(atB.id).toMatch(/^\d+$/);

    // A gets both the push reply and the broadcast; once a later post shows, both copies have arrived.
    await send(a, "second from A");
    await waitForPost(a, "second from A");
    const atA = (await shownPosts(a.page)).filter((post) => post.message === "hello from A");
    expect(atA).toEqual([{ id: atB.id, author: a.username, message: "hello from A", classes: ["post", "own"] }]);
    expect(await a.page.locator(`#posts li[data-id="${atB.id}"]`).count()).toBe(1);
    await waitForPost(b, "second from A");
    expect(await countShown(b, "hello from A")).toBe(1);
    expect(await b.page.isHidden("#posts_empty")).toBe(true);
  });

  it("shows HTML in a message as text, never as markup", async () => {
    const attack = "<img src=x onerror=alert(1)>";
    await send(a, attack);
    const atB = await waitForPost(b, attack);
    expect(atB.message).toBe(attack);
    await waitForPost(a, attack);
    expect(await b.page.locator("#posts img").count()).toBe(0);
    expect(await a.page.locator("#posts img").count()).toBe(0);
    // A later post arriving proves the page went on working after rendering it.
    await send(a, "after the attack");
    await waitForPost(b, "after the attack");
    expect(b.dialogs).toEqual([]);
    expect(a.dialogs).toEqual([]);
  });

  it("highlights a post that mentions the reader", async () => {
    const message = `@${b.username} look`;
    await send(a, message);
    const atB = await waitForPost(b, message);
    expect(atB.classes).toContain("mention");
    const atA = await waitForPost(a, message);
    expect(atA.classes).not.toContain("mention");
    expect(atA.classes).toContain("own");
  });

  it("refuses a too-long message on the page, keeping what was typed, and sends nothing", async () => {
    const tooLong = "z".repeat(2001);
    await a.page.fill("#post_message", tooLong);
    await a.page.press("#post_message", "Enter");
    await a.page.waitForSelector("#post_error:visible", { timeout: 10_000 });
    expect(await a.page.textContent("#post_error")).toContain("too long");
    expect(await a.page.inputValue("#post_message")).toBe(tooLong);

    // The next message goes through and clears the error; the long one was never posted.
    await send(a, "short again");
    await waitForPost(b, "short again");
    await waitForPost(a, "short again");
    expect(await a.page.isHidden("#post_error")).toBe(true);
    expect(await countShown(b, tooLong)).toBe(0);
    expect(await countShown(a, tooLong)).toBe(0);
  });

  it("serves the room's posts in the page's HTML, escaped, and shows them once after a reload", async () => {
    const plain = "for the record";
    const marked = `@${b.username} <b>bold</b> & "quoted" <img src=x onerror=alert(2)>`;
    await send(a, plain);
    const first = await waitForPost(b, plain);
    await send(a, marked);
    const second = await waitForPost(b, marked);

    const response = await b.page.request.get(`${baseUrl}/rooms/${room}`);
    expect(response.status()).toBe(200);
    const html = await response.text();
    const list = /<ol id="posts"[^>]*>([\s\S]*?)<\/ol>/.exec(html)?.[1];
    expect(list, 'the room page has an <ol id="posts">').toBeDefined();
    expect(list).toMatch(
      new RegExp(
        `<li class="post" data-id="${first.id}" data-user-id="\\d+" id="post-${first.id}"><span class="author">${a.username}</span>`,
      ),
    );
    expect(list).toContain(`<p class="message">${plain}</p>`);
    expect(list).toMatch(
      new RegExp(`<li class="post mention" data-id="${second.id}" data-user-id="\\d+" id="post-${second.id}">`),
    );
    expect(list).toContain("&lt;b&gt;bold&lt;/b&gt; &amp;");
    expect(list).toContain("&lt;img src=x onerror=alert(2)&gt;");
    expect(list).not.toContain("<b>");
    expect(list).not.toContain("<img");

    await b.page.reload();
    await waitForLive(b.page);
    const shown = await shownPosts(b.page);
    const ids = shown.map((post) => Number(post.id));
    expect(new Set(ids).size, "no post is shown twice").toBe(ids.length);
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    expect(shown.filter((post) => post.id === first.id || post.id === second.id)).toEqual([
      { id: first.id, author: a.username, message: plain, classes: ["post"] },
      { id: second.id, author: a.username, message: marked, classes: ["post", "mention"] },
    ]);
    expect(await b.page.locator("#posts img").count()).toBe(0);
  });
});

describe("staying in step", () => {
  /** Whether a post is on screen (mentions-only mode hides others' posts that do not mention you). */
  async function isVisible(person: Person, message: string): Promise<boolean> {
    const item = person.page.locator("#posts li.post", { has: person.page.locator(".message", { hasText: message }) });
    return (await item.count()) === 1 && (await item.isVisible());
  }

  it("mentions only: shows just the posts that mention you, then everything missed when switched off", async () => {
    await b.page.check("#mentions_only");
    await waitForLive(b.page);
    const plain = `plain while ${b.username} filters`;
    const mention = `@${b.username} this one is for you`;
    await send(a, plain);
    await send(a, mention);
    await waitForPost(b, mention);
    await waitForPost(a, mention);
    expect(await isVisible(b, mention)).toBe(true);
    expect(await isVisible(b, plain)).toBe(false);

    await b.page.uncheck("#mentions_only");
    await waitForLive(b.page);
    await waitUntil("the filtered post shows once mentions-only is off", () => isVisible(b, plain));
    expect(await countShown(b, plain)).toBe(1);
    expect(await countShown(b, mention)).toBe(1);
  });

  it("after losing its connection, the page catches up on everything posted meanwhile, once each", async () => {
    // Route B's socket through the test so the connection can be cut and refused while "offline".
    let offline = false;
    const live: WebSocketRoute[] = [];
    await b.page.routeWebSocket(/\/socket\/websocket/, (ws) => {
      if (offline) {
        void ws.close({ code: 4000, reason: "test: offline" });
        return;
      }
      ws.connectToServer();
      live.push(ws);
    });
    await b.page.reload();
    await waitForLive(b.page);
    await send(a, "before the outage");
    await waitForPost(b, "before the outage");

    offline = true;
    for (const ws of live.splice(0)) await ws.close({ code: 4000, reason: "test: connection lost" });
    await waitUntil(
      "B notices it is offline",
      async () => (await b.page.getAttribute("#connection", "data-state")) !== "live",
    );
    // The composer stays usable while reconnecting: what is sent now waits in the outbox.
    expect(await b.page.isDisabled("#post_message")).toBe(false);

    // More than the 50 recent posts a plain join returns: only `last_seen_id` catch-up brings them all.
    const missed = Array.from({ length: 55 }, (_, n) => `missed ${n + 1}`);
    for (const message of missed) await send(a, message);
    await waitForPost(a, "missed 55");

    offline = false;
    await waitForLive(b.page);
    await waitUntil("B shows every missed post", async () => {
      const shown = new Set((await shownPosts(b.page)).map((post) => post.message));
      return missed.every((message) => shown.has(message));
    });
    for (const message of ["before the outage", ...missed]) expect(await countShown(b, message)).toBe(1);
    const ids = (await shownPosts(b.page)).map((post) => Number(post.id));
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    await b.page.unrouteAll({ behavior: "ignoreErrors" });
  });

  it("tells a page at once when its session ends elsewhere (logout in another tab), keeping what was typed", async () => {
    const carol = await person("cat");
    await signUp(baseUrl, carol);
    await openRoom(carol);
    await carol.page.fill("#post_message", "am I still here?"); // typed, not sent
    const otherTab = await carol.context.newPage();
    await otherTab.goto(`${baseUrl}/`);
    await Promise.all([otherTab.waitForURL(`${baseUrl}/`), otherTab.click('form[action="/logout"] button')]);
    expect(await otherTab.locator('meta[name="user_token"]').count()).toBe(0);

    // The room closes the socket of a logged-out user right away, even one that only listens.
    await waitUntil(
      "the page says the session ended",
      async () => ((await carol.page.textContent("#connection")) ?? "").includes("session has ended"),
      5_000,
    );
    expect(await carol.page.getAttribute("#connection", "data-state")).toBe("error");
    expect(await carol.page.isDisabled("#post_message")).toBe(true);
    expect(await carol.page.inputValue("#post_message")).toBe("am I still here?");
    await otherTab.close();
  });
});

describe("editing and deleting", () => {
  /** The item of the post showing exactly `message` on `person`'s page. */
  function item(person: Person, message: string) {
    return person.page.locator("#posts li.post", {
      has: person.page.locator(".message", { hasText: new RegExp(`^${escapeRegExp(message)}$`) }),
    });
  }

  /** Clicks Delete on the post, then confirms ("Really delete?"). */
  async function deleteOnPage(person: Person, message: string): Promise<void> {
    const button = item(person, message).locator('button[data-action="delete"]');
    await button.click();
    expect(await button.textContent()).toBe("Really delete?");
    await button.click();
  }

  it("edits inline (Escape cancels, Enter saves) and deletes with a confirmation; the other page follows live", async () => {
    await send(a, "a tpyo here");
    await waitForPost(b, "a tpyo here");
    // Only the author may edit it (B may see Delete, if B happens to own the room).
    expect(await item(b, "a tpyo here").locator('button[data-action="edit"]').count()).toBe(0);

    await item(a, "a tpyo here").locator('button[data-action="edit"]').click();
    const editor = a.page.locator("#posts input.edit");
    expect(await editor.inputValue()).toBe("a tpyo here");
    await editor.fill("never saved");
    await editor.press("Escape");
    expect(await editor.count()).toBe(0);
    expect((await waitForPost(a, "a tpyo here")).message).toBe("a tpyo here");

    await item(a, "a tpyo here").locator('button[data-action="edit"]').click();
    await editor.fill("a typo here, fixed");
    await editor.press("Enter");
    for (const person of [a, b]) {
      await waitForPost(person, "a typo here, fixed");
      const edited = item(person, "a typo here, fixed").locator("time.edited");
      expect(await edited.textContent()).toMatch(/^edited \d\d:\d\d$/);
    }
    expect(await countShown(b, "a tpyo here")).toBe(0);

    // Leaving the asking button keeps the post; asking again and confirming deletes it.
    const button = item(a, "a typo here, fixed").locator('button[data-action="delete"]');
    await button.click();
    await a.page.locator("#post_message").focus();
    expect(await button.textContent()).toBe("Delete");
    await deleteOnPage(a, "a typo here, fixed");
    for (const person of [a, b]) {
      await waitUntil(
        `${person.username} shows the placeholder`,
        async () => (await countShown(person, "a typo here, fixed")) === 0,
      );
      const placeholder = person.page.locator("#posts li.post.deleted").last();
      expect(await placeholder.locator(".message").textContent()).toBe("message deleted");
      expect(await placeholder.locator("button").count()).toBe(0);
    }
  });

  it("lets the room's owner delete anyone's post (shown to everyone as removed by a moderator), and tells a promoted page", async () => {
    const ownedRoom = uniqueName("owned");
    const owner = await openTab(a, ownedRoom); // the first to open a public room owns it
    const guest = await openTab(b, ownedRoom);
    const say = async (page: Page, message: string) => {
      await page.fill("#post_message", message);
      await page.press("#post_message", "Enter");
    };
    await say(guest, "spam spam spam");
    await say(owner, "the owner's own");
    const on = (page: Page, message: string) =>
      page.locator("#posts li.post", {
        has: page.locator(".message", { hasText: new RegExp(`^${escapeRegExp(message)}$`) }),
      });
    await on(owner, "spam spam spam").waitFor();
    await on(guest, "the owner's own").waitFor();
    // A guest may only mark the owner's post unread: no Edit, no Delete.
    expect(
      await on(guest, "the owner's own")
        .locator("button")
        .evaluateAll((buttons) => buttons.map((b) => b.dataset.action)),
    ).toEqual(["unread"]);
    expect(await on(owner, "spam spam spam").locator('button[data-action="edit"]').count()).toBe(0);
    const remove = on(owner, "spam spam spam").locator('button[data-action="delete"]');
    await remove.click();
    await remove.click();
    for (const page of [owner, guest]) {
      await page.locator("#posts li.post.deleted .message", { hasText: "removed by a moderator" }).waitFor();
      expect(await on(page, "spam spam spam").count()).toBe(0);
    }
    // Made a moderator while their page is open: the page says so (its moderator's menus are drawn at load).
    const promoted = await owner.evaluate(
      async ([name, username]) =>
        (
          await fetch(`/api/rooms/${name}/members`, {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ username, role: "moderator" }),
          })
        ).status,
      [ownedRoom, b.username],
    );
    expect(promoted).toBe(201);
    await guest.locator("#composer_state", { hasText: "Your role in this room changed" }).waitFor();
  });

  it("shows an edit and a deletion made while the page was offline once it reconnects", async () => {
    let offline = false;
    const live: WebSocketRoute[] = [];
    await b.page.routeWebSocket(/\/socket\/websocket/, (ws) => {
      if (offline) {
        void ws.close({ code: 4000, reason: "test: offline" });
        return;
      }
      ws.connectToServer();
      live.push(ws);
    });
    await b.page.reload();
    await waitForLive(b.page);
    await send(a, "to be edited offline");
    await send(a, "to be deleted offline");
    await waitForPost(b, "to be deleted offline");
    await waitForPost(a, "to be deleted offline");

    offline = true;
    for (const ws of live.splice(0)) await ws.close({ code: 4000, reason: "test: connection lost" });
    await waitUntil(
      "B notices it is offline",
      async () => (await b.page.getAttribute("#connection", "data-state")) !== "live",
    );
    await item(a, "to be edited offline").locator('button[data-action="edit"]').click();
    await a.page.locator("#posts input.edit").fill("edited while B was away");
    await a.page.locator("#posts input.edit").press("Enter");
    await waitForPost(a, "edited while B was away");
    await deleteOnPage(a, "to be deleted offline");
    await waitUntil("A shows the deletion", async () => (await countShown(a, "to be deleted offline")) === 0);
    expect(await countShown(b, "to be edited offline")).toBe(1); // B has not heard yet

    offline = false;
    await waitForLive(b.page);
    await waitForPost(b, "edited while B was away");
    await waitUntil("B shows the deletion", async () => (await countShown(b, "to be deleted offline")) === 0);
    expect(await countShown(b, "to be edited offline")).toBe(0);
    // B's page now shows exactly what a fresh page shows.
    const fresh = await openTab(a, room);
    const view = async (page: Page) =>
      (await page.$$eval("#posts li.post", (items) => items.map((li) => li.textContent))).map((text) =>
        (text ?? "").replace(/(Edit|Delete|Mark unread)/g, ""),
      );
    expect((await view(b.page)).slice(-5)).toEqual((await view(fresh)).slice(-5));
    await b.page.unrouteAll({ behavior: "ignoreErrors" });
  });
});

describe("who is online, and who is typing", () => {
  it("lists both people once each with a count, one of them in two tabs, and drops one who closes their page", async () => {
    const here = uniqueName("e2e");
    const aTab = await openTab(a, here);
    const bTab = await openTab(b, here);
    await waitForOnline(aTab, [a.username, b.username], a.username);
    await waitForOnline(bTab, [a.username, b.username], b.username);

    // A second tab of A: A is still listed once, and still two people are online.
    const aSecondTab = await openTab(a, here);
    await waitForOnline(aSecondTab, [a.username, b.username], a.username);
    await waitForOnline(bTab, [a.username, b.username], b.username);

    await bTab.close();
    await waitForOnline(aTab, [a.username], a.username);
    await waitForOnline(aSecondTab, [a.username], a.username);
  });

  it("shows 'A is typing…' on the other page, and clears it as soon as A's post arrives", async () => {
    const here = uniqueName("e2e");
    const aTab = await openTab(a, here);
    const bTab = await openTab(b, here);
    await waitForOnline(aTab, [a.username, b.username], a.username);

    await aTab.locator("#post_message").pressSequentially("on my way", { delay: 20 });
    await waitUntil(
      "B sees that A is typing",
      async () => (await bTab.textContent("#typing")) === `${a.username} is typing…`,
    );
    const shownAt = Date.now();
    expect(await aTab.textContent("#typing")).toBe(""); // never about yourself

    await aTab.press("#post_message", "Enter");
    await waitUntil("B has A's post", async () =>
      (await bTab.$$eval("#posts li.post .message", (items) => items.map((item) => item.textContent))).includes(
        "on my way",
      ),
    );
    await waitUntil("B no longer shows A typing", async () => (await bTab.textContent("#typing")) === "");
    // Cleared by the post, well before the 4 s the indicator would otherwise stay.
    expect(Date.now() - shownAt).toBeLessThan(3_000);
  });
});

describe("history and unsent posts", () => {
  it("loads older posts when scrolled to the top, keeping the reader's place, until the beginning of the room", async () => {
    const here = uniqueName("e2e");
    const seeder = await registerUser(baseUrl, uniqueName("seed"));
    const member = await enterRoom({ baseUrl, room: here, token: seeder.token, sockets });
    // Pushed at once on one socket: the room numbers them in the order they were sent. (One at a time,
    // each would wait out the room's D1 copy interval, 50 ms: six seconds for nothing this test is about.)
    const seeded: Post[] = await Promise.all(
      Array.from({ length: 120 }, (_, n) => post(member.channel, `seeded ${n + 1}`)),
    );
    const seededIds = seeded.map((seed) => seed.id);
    expect(seededIds).toEqual([...seededIds].sort((x, y) => x - y));

    const beforeRequests: string[] = [];
    const bTab = await openTab(b, here, async (page) => {
      page.on("request", (request) => {
        if (request.url().includes("/posts?before=")) beforeRequests.push(request.url());
      });
    });
    const shownIds = async () =>
      await bTab.$$eval("#posts li.post", (items) => items.map((item) => Number(item.getAttribute("data-id"))));
    expect(await shownIds()).toEqual(seeded.slice(70).map((p) => p.id));
    expect(await bTab.getAttribute("#history_edge", "data-state")).toBe("more");
    // The page opens scrolled to the newest post.
    expect(await bTab.$eval("#timeline", (el) => el.scrollTop + el.clientHeight >= el.scrollHeight - 2)).toBe(true);

    /** Scrolls to the top and answers where the post that was first on screen is, before and after loading. */
    const scrollToTopAndLoad = async (expectedCount: number) => {
      const firstId = (await shownIds())[0];
      // Measured in the same task that scrolls, so before the scroll event can start a load.
      const before = await bTab.$eval(
        "#timeline",
        (el, id) => {
          el.scrollTop = 0;
          return document.querySelector(`#posts li[data-id="${id}"]`)?.getBoundingClientRect().top;
        },
        firstId,
      );
      await waitUntil(`${expectedCount} posts are shown`, async () => (await shownIds()).length === expectedCount);
      await waitUntil(
        "the edge is settled",
        async () => (await bTab.getAttribute("#history_edge", "data-state")) !== "loading",
      );
      const after = await bTab.$eval(`#posts li[data-id="${firstId}"]`, (item) => item.getBoundingClientRect().top);
      expect(before).toEqual(expect.any(Number));
      return { before: before ?? Number.NaN, after };
    };

    const firstLoad = await scrollToTopAndLoad(100);
    expect(Math.abs(firstLoad.after - firstLoad.before)).toBeLessThanOrEqual(2);
    expect(await bTab.getAttribute("#history_edge", "data-state")).toBe("more");
    expect(beforeRequests).toEqual([`${baseUrl}/rooms/${here}/posts?before=${seeded[70]?.id}&limit=50`]);

    const secondLoad = await scrollToTopAndLoad(120);
    expect(Math.abs(secondLoad.after - secondLoad.before)).toBeLessThanOrEqual(2);
    expect(await bTab.getAttribute("#history_edge", "data-state")).toBe("start");
    expect(await bTab.textContent("#history_edge")).toBe("Beginning of the room");
    expect(await shownIds()).toEqual(seeded.map((p) => p.id));

    // At the beginning, scrolling to the top again asks for nothing more.
    await bTab.$eval("#timeline", (el) => {
      el.scrollTop = 10;
    });
    await bTab.$eval("#timeline", (el) => {
      el.scrollTop = 0;
    });
    // Two frames for the scroll event to be handled, then a post's round trip: a request would be out by now.
    await bTab.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
    await bTab.fill("#post_message", "a round trip later");
    await bTab.press("#post_message", "Enter");
    await waitUntil("the post is shown", async () => (await shownIds()).length === 121);
    expect(beforeRequests).toHaveLength(2);
  });

  it("shows a message written while offline as pending, and stores it exactly once after reconnecting", async () => {
    const here = uniqueName("e2e");
    let offline = false;
    const live: WebSocketRoute[] = [];
    const bTab = await openTab(b, here, (page) =>
      page.routeWebSocket(/\/socket\/websocket/, (ws) => {
        if (offline) {
          void ws.close({ code: 4000, reason: "test: offline" });
          return;
        }
        ws.connectToServer();
        live.push(ws);
      }),
    );
    const aTab = await openTab(a, here);

    offline = true;
    for (const ws of live.splice(0)) await ws.close({ code: 4000, reason: "test: connection lost" });
    await waitUntil(
      "B notices it is offline",
      async () => (await bTab.getAttribute("#connection", "data-state")) !== "live",
    );
    await bTab.fill("#post_message", "written offline");
    await bTab.press("#post_message", "Enter");
    const pending = bTab.locator("#outbox li.pending");
    await pending.waitFor({ timeout: 5_000 });
    expect(await pending.locator(".message").textContent()).toBe("written offline");
    expect(await pending.locator(".delivery").textContent()).toBe("sending…");
    expect(await bTab.inputValue("#post_message")).toBe("");

    offline = false;
    await waitForLive(bTab);
    const countIn = (page: Page) =>
      page.$$eval(
        "#posts li.post .message",
        (items) => items.filter((item) => item.textContent === "written offline").length,
      );
    await waitUntil(
      "B shows it stored, and no longer pending",
      async () => (await countIn(bTab)) === 1 && (await pending.count()) === 0,
    );
    await waitUntil("A got it", async () => (await countIn(aTab)) === 1);
    expect(await storedWith(bTab, here, "written offline")).toHaveLength(1);
  });

  it("stores a message exactly once when its reply is lost with the connection", async () => {
    const here = uniqueName("e2e");
    let lostRef: string | null = null;
    let cut = false;
    const bTab = await openTab(b, here, (page) =>
      page.routeWebSocket(/\/socket\/websocket/, (ws) => {
        const server = ws.connectToServer();
        ws.onMessage((message) => {
          if (typeof message === "string" && lostRef === null) {
            const [, ref, , event] = JSON.parse(message) as [unknown, string, string, string];
            if (event === "new_post") lostRef = ref;
          }
          server.send(message);
        });
        server.onMessage((message) => {
          if (!cut && typeof message === "string" && lostRef !== null) {
            const [, ref, , event] = JSON.parse(message) as [unknown, string, string, string];
            if (event === "phx_reply" && ref === lostRef) {
              // The post is stored and its reply is on the way: the connection drops right here.
              cut = true;
              void ws.close({ code: 4000, reason: "test: connection lost" });
              void server.close();
              return;
            }
          }
          ws.send(message);
        });
      }),
    );

    await bTab.fill("#post_message", "reply lost");
    await bTab.press("#post_message", "Enter");
    await waitUntil("the connection was cut at the reply", () => cut);
    await waitForLive(bTab);
    const count = () =>
      bTab.$$eval(
        "#posts li.post .message",
        (items) => items.filter((item) => item.textContent === "reply lost").length,
      );
    await waitUntil(
      "B shows it once, and nothing pending",
      async () => (await count()) === 1 && (await bTab.locator("#outbox li").count()) === 0,
    );
    expect(await storedWith(bTab, here, "reply lost")).toHaveLength(1);
  });
});

describe("heartbeats", () => {
  it("sends the constant heartbeat frame and gets the constant reply, on one connection", async () => {
    const here = uniqueName("e2e");
    const sent: string[] = [];
    const received: string[] = [];
    let connections = 0;
    const bTab = await openTab(b, here, async (page) => {
      // The page's own timers run on a fake clock, so 30 s of heartbeat interval pass in no time.
      await page.clock.install();
      page.on("websocket", (ws) => {
        connections++;
        ws.on("framesent", (frame) => sent.push(String(frame.payload)));
        ws.on("framereceived", (frame) => received.push(String(frame.payload)));
      });
    });

    for (let beat = 1; beat <= 2; beat++) {
      await bTab.clock.fastForward(31_000);
      await waitUntil(
        `heartbeat ${beat} is answered`,
        () => received.filter((frame) => frame === HEARTBEAT_REPLY).length >= beat,
      );
    }
    const heartbeats = sent.filter((frame) => frame.includes('"heartbeat"'));
    expect(heartbeats).toEqual([HEARTBEAT_FRAME, HEARTBEAT_FRAME]);
    expect(connections).toBe(1);
    expect(await bTab.getAttribute("#connection", "data-state")).toBe("live");
  });
});

describe("finding your way: mentions and search", () => {
  it("counts a mention from another room in the top bar, lists it, and search opens an old post in its room", async () => {
    const [mentioned, archive] = [uniqueName("e2e"), uniqueName("e2e")];
    const needle = uniqueName("needle");
    const bTab = await b.context.newPage();
    tabs.push(bTab);
    bTab.on("pageerror", (error) => {
      b.pageErrors.push(String(error));
    });
    // Earlier tests mentioned B: opening the mentions page counts those as seen.
    await bTab.goto(`${baseUrl}/mentions`);

    const seeder = await registerUser(baseUrl, uniqueName("seed"));
    const elsewhere = await enterRoom({ baseUrl, room: mentioned, token: seeder.token, sockets });
    const mention = await post(elsewhere.channel, `@${b.username} have a look at this`);
    // An old post: 60 newer ones follow it, so the room page as served (50 posts) does not hold it.
    const old = await enterRoom({ baseUrl, room: archive, token: seeder.token, sockets });
    const found = await post(old.channel, `the ${needle} is in this old post`);
    await Promise.all(Array.from({ length: 60 }, (_, n) => post(old.channel, `filler ${n + 1}`)));

    await bTab.goto(`${baseUrl}/account`);
    expect(await bTab.textContent("#mentions_count")).toBe("1");

    // The mentions page lists it; following it opens the other room at that post.
    await Promise.all([bTab.waitForURL(`${baseUrl}/mentions`), bTab.click("#mentions_link")]);
    expect(await bTab.textContent("#mentions .message")).toBe(mention.message);
    expect(await bTab.$("#mentions_count")).toBeNull();
    await Promise.all([
      bTab.waitForURL(`${baseUrl}/rooms/${mentioned}#post-${mention.id}`),
      bTab.click("#mentions a.found-link"),
    ]);
    await waitForLive(bTab);
    await bTab.waitForSelector(`#post-${mention.id}.linked`);

    // Search from the top bar finds the old post; its link loads older posts until it is on screen. The
    // index takes a post right after its ok, not before (docs/search.md): wait until it has this one.
    await waitUntil("the search index has the old post", async () => {
      const answer = await fetch(`${baseUrl}/search?q=${needle}`, {
        headers: { Accept: "application/json", Authorization: `Bearer ${seeder.token}` },
      });
      return ((await answer.json()) as { results: unknown[] }).results.length > 0;
    });
    await bTab.fill("#topbar_q", needle);
    await Promise.all([bTab.waitForURL(/\/search\?q=/), bTab.press("#topbar_q", "Enter")]);
    expect(await bTab.$$eval("#search_results mark", (marks) => marks.map((mark) => mark.textContent))).toEqual([
      needle,
    ]);
    await Promise.all([
      bTab.waitForURL(`${baseUrl}/rooms/${archive}#post-${found.id}`),
      bTab.click("#search_results a.found-link"),
    ]);
    const target = await bTab.waitForSelector(`#post-${found.id}.linked`, { timeout: 15_000 });
    expect(await target.textContent()).toContain(needle);
    const inView = await bTab.$eval(
      "#timeline",
      (timeline, id) => {
        const item = document.getElementById(`post-${id}`)?.getBoundingClientRect();
        const box = timeline.getBoundingClientRect();
        return item !== undefined && item.top >= box.top && item.bottom <= box.bottom;
      },
      found.id,
    );
    expect(inView).toBe(true);
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
