/**
 * Debian's Chromium for the browser e2e tests, and what they read off a room page. Shared by
 * browser.e2e.ts and restart.e2e.ts.
 */
import { existsSync } from "node:fs";
import { type Browser, chromium, type Page } from "playwright-core";

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
