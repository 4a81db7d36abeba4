/**
 * Changing the password at /account: the current password is confirmed (counted like a login), the new
 * one is checked like at sign-up, and a change revokes every session and socket token the user held while
 * this browser carries on in a fresh session.
 */
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { LOCKOUT } from "../../src/auth/accounts";
import { verifyUserToken } from "../../src/auth/token";
import { loginFailures } from "../../src/db/schema";
import { createApp } from "../../src/http/app";
import { SESSION_ENDED_CLOSE_CODE } from "../../src/shared/room-contract";
import { TestSocket, upgrade } from "../helpers/socket";
import { db, testSecrets } from "../helpers/users";
import { LOCAL_ORIGIN, type Page, userTokenOf, Visitor } from "../helpers/visitor";

const PASSWORD = "correct horse battery";
const NEW_PASSWORD = "a whole new horse";

async function signedUp(username: string): Promise<Visitor> {
  const visitor = new Visitor();
  expect((await visitor.register(username)).status).toBe(303);
  return visitor;
}

function change(visitor: Visitor, current: string, next: string): Promise<Page> {
  return visitor.post("/account", { current_password: current, new_password: next });
}

async function openSocket(room: string, token: string): Promise<TestSocket> {
  const response = await upgrade({ room, token });
  expect(response.status).toBe(101);
  return new TestSocket(response.webSocket as WebSocket);
}

function fieldError(page: Page, field: string): string | undefined {
  return new RegExp(`<p class="field-error" id="${field}_error">([^<]*)</p>`).exec(page.html)?.[1];
}

describe("GET /account", () => {
  it("sends a visitor who is not logged in to log in, and back afterwards", async () => {
    const page = await new Visitor().get("/account");
    expect(page.status).toBe(303);
    expect(page.location).toBe("/login?next=%2Faccount");
  });

  it("shows the password form, linked from the top bar", async () => {
    const visitor = await signedUp("acct_page");
    expect((await visitor.get("/")).html).toMatch(/<a href="\/account" id="account_link">Account<\/a>/);
    const page = await visitor.get("/account");
    expect(page.status).toBe(200);
    expect(page.html).toContain('<form method="post" action="/account"');
    expect(page.html).toContain('name="current_password"');
    expect(page.html).toContain('name="new_password"');
    expect(page.html).toContain("acct_page@example.com");
  });
});

describe("POST /account", () => {
  it("refuses a wrong current password (401) and changes nothing", async () => {
    const visitor = await signedUp("acct_wrong");
    const page = await change(visitor, "not my password", NEW_PASSWORD);
    expect(page.status).toBe(401);
    expect(fieldError(page, "current_password")).toBe("Current password is wrong");
    expect((await new Visitor().logIn("acct_wrong@example.com", PASSWORD)).status).toBe(303);
    expect((await visitor.get("/")).html).toContain('id="whoami">acct_wrong<');
  });

  it.each([
    [
      "acct_short",
      "a too-short new password",
      { current_password: PASSWORD, new_password: "short" },
      "new_password",
      "New password must be at least 8 characters",
    ],
    [
      "acct_blank_new",
      "a blank new password",
      { current_password: PASSWORD, new_password: "" },
      "new_password",
      "New password can&#39;t be blank",
    ],
    [
      "acct_blank_cur",
      "a blank current password",
      { current_password: "", new_password: NEW_PASSWORD },
      "current_password",
      "Current password can&#39;t be blank",
    ],
  ])("refuses %s: %s (422) without counting an attempt", async (username, _, fields, field, message) => {
    const visitor = await signedUp(username);
    const page = await visitor.post("/account", fields);
    expect(page.status).toBe(422);
    expect(page.html).toContain(`id="${field}_error"`);
    expect(page.html).toContain(message);
    expect(page.html).not.toContain(PASSWORD);
    const counted = await db
      .select()
      .from(loginFailures)
      .where(eq(loginFailures.email, `${username}@example.com`));
    expect(counted).toEqual([]);
  });

  it("closes every socket the user has open, in every room, listeners included, when the password changes", async () => {
    const visitor = await signedUp("acct_sockets");
    const token = (await visitor.socketToken()) ?? "";
    const listening = await openSocket("acct_room_a", token);
    const joined = await openSocket("acct_room_b", token);
    expect((await joined.join("acct_room_b")).status).toBe("ok");

    expect((await change(visitor, PASSWORD, NEW_PASSWORD)).status).toBe(303);
    for (const socket of [listening, joined]) {
      expect(await socket.closed).toEqual({ code: SESSION_ENDED_CLOSE_CODE, reason: "token revoked" });
    }
  });

  it("changes the password, revokes every old session and socket token, and keeps this browser logged in", async () => {
    const visitor = await signedUp("acct_change");
    const elsewhere = new Visitor();
    expect((await elsewhere.logIn("acct_change@example.com", PASSWORD)).status).toBe(303);
    const oldCookies = new Map(visitor.cookies);
    const oldSocketToken = (await visitor.socketToken()) ?? "";
    const otherSocketToken = (await elsewhere.socketToken()) ?? "";

    const page = await change(visitor, PASSWORD, NEW_PASSWORD);
    expect(page.status).toBe(303);
    expect(page.location).toBe("/account?changed=1");
    expect((await visitor.get("/account?changed=1")).html).toContain("Your password has been changed.");

    // The old cookie, replayed, and the other browser's session no longer log anyone in.
    const replay = new Visitor();
    for (const [name, value] of oldCookies) replay.cookies.set(name, value);
    expect((await replay.get("/rooms/lobby")).status).toBe(303);
    expect((await elsewhere.get("/rooms/lobby")).status).toBe(303);

    // Every socket token issued before is revoked, at the endpoint too.
    for (const token of [oldSocketToken, otherSocketToken]) {
      expect(await verifyUserToken(token, testSecrets(), db)).toEqual({ ok: false, reason: "revoked" });
    }
    const refused = await upgrade({ room: "lobby", token: oldSocketToken });
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain("Token revoked");

    // This browser's new cookie works and its page carries a token that verifies.
    const home = await visitor.get("/");
    expect(home.html).toContain('id="whoami">acct_change<');
    expect((await verifyUserToken(userTokenOf(home.html) ?? "", testSecrets(), db)).ok).toBe(true);

    // And the password is the new one.
    expect((await new Visitor().logIn("acct_change@example.com", PASSWORD)).status).toBe(401);
    expect((await new Visitor().logIn("acct_change@example.com", NEW_PASSWORD)).status).toBe(303);
  });

  it("counts wrong current passwords towards the email's lock, shared with logging in", async () => {
    const visitor = await signedUp("acct_lock");
    for (let attempt = 1; attempt < LOCKOUT.maxFailures; attempt++) {
      expect((await change(visitor, "guess", NEW_PASSWORD)).status).toBe(401);
    }
    const locked = await change(visitor, "guess", NEW_PASSWORD);
    expect(locked.status).toBe(429);
    expect(locked.html).toContain("logging in with this email is locked for 15 more minutes");
    // Locked means locked: the right current password is refused, and so is logging in.
    expect((await change(visitor, PASSWORD, NEW_PASSWORD)).status).toBe(429);
    expect((await new Visitor().logIn("acct_lock@example.com", PASSWORD)).status).toBe(429);
  });

  it("sends a visitor who is not logged in to log in, changing nothing", async () => {
    const page = await change(new Visitor(), PASSWORD, NEW_PASSWORD);
    expect(page.status).toBe(303);
    expect(page.location).toBe("/login?next=%2Faccount");
  });

  it("refuses a change posted from another site (403), leaving the password and session as they were", async () => {
    const visitor = await signedUp("acct_csrf");
    const page = await visitor.post(
      "/account",
      { current_password: PASSWORD, new_password: NEW_PASSWORD },
      { Origin: "https://evil.example" },
    );
    expect(page.status).toBe(403);
    expect(page.html).toContain("submitted from another site");
    expect((await visitor.get("/")).html).toContain('id="whoami">acct_csrf<');
    expect((await new Visitor().logIn("acct_csrf@example.com", PASSWORD)).status).toBe(303);
  });

  it("counts towards the per-address login cap, answering 429 with when to try again", async () => {
    const visitor = await signedUp("acct_ip_cap");
    const cookie = [...visitor.cookies].map(([name, value]) => `${name}=${value}`).join("; ");
    const post = (current: string) =>
      createApp().request(
        `${LOCAL_ORIGIN}/account`,
        {
          method: "POST",
          headers: {
            Origin: LOCAL_ORIGIN,
            Cookie: cookie,
            "CF-Connecting-IP": visitor.ip,
            "Content-Type": "application/x-www-form-urlencoded",
          },
          body: new URLSearchParams({ current_password: current, new_password: NEW_PASSWORD }).toString(),
        },
        { ...env, LOGINS_PER_IP: "1" },
      );
    // The sign-up was no login: the first try is within the cap, the second (right this time) is over it.
    expect((await post("a wrong guess")).status).toBe(401);
    const refused = await post(PASSWORD);
    expect(refused.status).toBe(429);
    expect(refused.headers.get("Retry-After")).not.toBeNull();
    expect(await refused.text()).toContain("Too many login attempts from your network. Try again in 10 minutes.");
  });
});
