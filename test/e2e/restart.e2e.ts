/**
 * A deploy drops every socket. Here the deploy is real enough: a `wrangler dev` of its own, stopped under a
 * connected browser page and a connected Node client and started again on the same port and the same
 * state. Posts made right after the restart, before the page has reconnected, must all reach the page,
 * once each and in order: the page reconnects with backoff and catches up with `last_seen_id`. A mute and a
 * ban set before the restart still hold after it (the room keeps them in its own storage).
 */
import { randomBytes } from "node:crypto";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { launchChromium, shownPosts, waitForLive } from "./chromium";
import { E2E_VARS } from "./global-setup";
import { type RegisteredUser, registerUser, uniqueName, waitUntil } from "./helpers";
import { enterRoom, OpenSockets, openSocket, post, push, QUICK_RECONNECT, tryJoin } from "./phoenix";
import { freePort, startWranglerDev, type WranglerDev } from "./wrangler-dev";

const stateDir = mkdtempSync(join(tmpdir(), "pyre-restart-"));
const persistTo = join(stateDir, "state");
const envFile = join(stateDir, "secrets.env");
let port: number;
let dev: WranglerDev | undefined;
let browser: Browser | undefined;
const sockets = new OpenSockets();

function start(): Promise<WranglerDev> {
  return startWranglerDev({ persistTo, envFile, vars: E2E_VARS, port, echo: Boolean(process.env.E2E_SHOW_WRANGLER) });
}

beforeAll(async () => {
  writeFileSync(envFile, `TOKEN_SECRET=${randomBytes(36).toString("base64url")}\n`, { mode: 0o600 });
  // A copy of the state global-setup.ts migrated: the same D1, without applying the migrations again.
  cpSync(inject("migratedState"), persistTo, { recursive: true });
  port = await freePort();
  // Side by side; both are kept (and closed in afterAll) even when the other one fails.
  const [started, launched] = await Promise.allSettled([start(), launchChromium()]);
  if (started.status === "fulfilled") dev = started.value;
  if (launched.status === "fulfilled") browser = launched.value;
  for (const result of [started, launched]) if (result.status === "rejected") throw result.reason;
}, 120_000);

afterAll(async () => {
  sockets.disconnectAll();
  await browser?.close();
  await dev?.stop();
  rmSync(stateDir, { recursive: true, force: true });
}, 60_000);

describe("a restart under connected clients (a deploy)", () => {
  it("reconnects the page with backoff, and it catches up on every post made meanwhile, once each", async () => {
    if (!dev || !browser) throw new Error("not started");
    const baseUrl = dev.baseUrl;
    const room = uniqueName("deploy");
    const [reader, writer, muted, banned] = (await Promise.all(
      ["reader", "writer", "muted", "banned"].map((prefix) => registerUser(baseUrl, uniqueName(prefix))),
    )) as [RegisteredUser, RegisteredUser, RegisteredUser, RegisteredUser];

    const context = await browser.newContext();
    const [name, value] = reader.cookie.split("=") as [string, string];
    await context.addCookies([{ name, value, url: baseUrl }]);
    const page = await context.newPage();
    await page.goto(`${baseUrl}/rooms/${room}`);
    await waitForLive(page);

    const member = await enterRoom({ baseUrl, room, token: writer.token, sockets, socket: QUICK_RECONNECT });
    const before = ["before 1", "before 2", "before 3"];
    for (const message of before) await post(member.channel, message);
    await waitUntil("the page shows the posts from before", async () =>
      (await shownPosts(page)).some((shown) => shown.message === "before 3"),
    );
    // The reader's page opened the room first, so the reader owns it: a mute and a ban before the deploy.
    const moderate = async (path: string, body: object) => {
      const answer = await fetch(`${baseUrl}/api/rooms/${room}/${path}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${reader.token}`, "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      expect(answer.status).toBe(201);
      return answer.json();
    };
    const { mute } = await moderate("mutes", { username: muted.username, seconds: 3600 });
    await moderate("bans", { username: banned.username });

    // The deploy: every socket drops; the same state comes back on the same address.
    await dev.stop();
    await waitUntil(
      "the page notices",
      async () => (await page.getAttribute("#connection", "data-state")) !== "live",
      15_000,
    );
    dev = await start();

    // The writer is back first (it retries every 100 ms) and posts at once, while the page may still be
    // waiting out its backoff.
    const rejoined = await enterRoom({ baseUrl, room, token: writer.token, sockets, socket: QUICK_RECONNECT });
    const after = Array.from({ length: 20 }, (_, n) => `after ${n + 1}`);
    // All at once on one socket (the room numbers them in the order sent), not one per 50 ms D1 copy.
    await Promise.all(after.map((message) => post(rejoined.channel, message)));

    await waitForLive(page);
    const everything = [...before, ...after];
    await waitUntil(
      "the page shows every post",
      async () => {
        const shown = new Set((await shownPosts(page)).map((item) => item.message));
        return everything.every((message) => shown.has(message));
      },
      20_000,
    );
    const shown = await shownPosts(page);
    expect(shown.map((item) => item.message)).toEqual(everything);
    const ids = shown.map((item) => Number(item.id));
    expect(ids).toEqual([...ids].sort((x, y) => x - y));

    // And it is live again both ways.
    await page.fill("#post_message", "I'm back");
    await page.press("#post_message", "Enter");
    await waitUntil("the writer gets the page's post", () =>
      rejoined.events.some(
        ({ event, payload }) => event === "new_post" && (payload as { message: string }).message === "I'm back",
      ),
    );
    await context.close();

    // The mute and the ban from before the restart hold: the same mute, until the same time.
    const stillMuted = await enterRoom({ baseUrl, room, token: muted.token, sockets });
    expect(await push(stillMuted.channel, "new_post", { message: "am I back?" })).toEqual({
      status: "error",
      response: { reason: "muted", until: mute.until },
    });
    const stillBanned = openSocket({ baseUrl, room, token: banned.token, sockets });
    stillBanned.connect();
    expect(await tryJoin(stillBanned.channel(`room:${room}`, {}))).toEqual({
      status: "error",
      response: { reason: "banned" },
    });
  }, 90_000);
});
