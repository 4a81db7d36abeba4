/**
 * Debian's Chromium for the browser e2e tests, and what they read off a room page. Shared by
 * browser.e2e.ts and restart.e2e.ts.
 */
import { existsSync } from "node:fs";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { expect } from "vitest";
import { PASSWORD, uniqueName } from "./helpers";

/** Debian's chromium; E2E_CHROMIUM points elsewhere (never a downloaded browser). */
const CHROMIUM = process.env.E2E_CHROMIUM ?? "/usr/bin/chromium";

/** Headless, and kept off the network: without these flags Chromium keeps trying hosts it cannot reach. */
export function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} does not exist: the browser e2e tests need Debian's chromium (apt-get install -y chromium).`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

export interface ShownPost {
  id: string | null;
  author: string | null | undefined;
  message: string | null | undefined;
  classes: string[];
}

/** The posts a room page shows, top to bottom. */
export function shownPosts(page: Page): Promise<ShownPost[]> {
  return page.$$eval("#posts li.post", (items) =>
    items.map((item) => ({
      id: item.getAttribute("data-id"),
      author: item.querySelector(".author")?.textContent,
      message: item.querySelector(".message")?.textContent,
      classes: Array.from(item.classList),
    })),
  );
}

/** Until the room page has joined: live status and an enabled composer. */
export async function waitForLive(page: Page): Promise<void> {
  await page.waitForSelector('#connection[data-state="live"]', { timeout: 15_000 });
  await page.waitForSelector("#post_message:enabled", { timeout: 15_000 });
}

/** One person at a browser: a context of their own (cookies), its page, and what went wrong in it. */
export interface Person {
  username: string;
  context: BrowserContext;
  page: Page;
  /** Messages of every dialog (alert, confirm...) the page opened; each is dismissed. */
  dialogs: string[];
  /** Uncaught exceptions in the page. */
  pageErrors: string[];
}

/** A new person with a fresh username, in a context of their own. */
export async function newPerson(
  browser: Browser | undefined,
  prefix: string,
  viewport?: { width: number; height: number },
): Promise<Person> {
  if (!browser) throw new Error("the browser is not running");
  const context = await browser.newContext(viewport ? { viewport } : {});
  const page = await context.newPage();
  const person: Person = { username: uniqueName(prefix), context, page, dialogs: [], pageErrors: [] };
  page.on("dialog", (dialog) => {
    person.dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    void dialog.dismiss().catch(() => {});
  });
  page.on("pageerror", (error) => {
    person.pageErrors.push(String(error));
  });
  return person;
}

/** Signs up through the real form, as a person would, landing logged in on the home page. */
export async function signUp(baseUrl: string, person: Person): Promise<void> {
  const { page, username } = person;
  await page.goto(`${baseUrl}/register`);
  await page.fill("#username", username);
  await page.fill("#email", `${username}@example.com`);
  await page.fill("#password", PASSWORD);
  await Promise.all([
    page.waitForURL(`${baseUrl}/`, { timeout: 15_000 }),
    page.click('main form[action^="/register"] button[type=submit]'),
  ]);
  expect(await page.textContent("#whoami")).toContain(username);
}
