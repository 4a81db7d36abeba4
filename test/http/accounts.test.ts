import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { verifyUserToken } from "../../src/auth/token";
import { users } from "../../src/db/schema";
import { findUserByEmail } from "../../src/db/users";
import { createApp } from "../../src/http/app";
import { db, testSecrets } from "../helpers/users";
import { LOCAL_ORIGIN, PUBLIC_ORIGIN, parseSetCookie, userTokenOf, Visitor } from "../helpers/visitor";

const PASSWORD = "correct horse battery";

async function countUsers(): Promise<number> {
  return (await db.select().from(users)).length;
}

describe("GET/POST /register", () => {
  it("shows the sign-up form", async () => {
    const page = await new Visitor().get("/register");
    expect(page.status).toBe(200);
    expect(page.html).toContain('name="username"');
    expect(page.html).toContain('name="email"');
    expect(page.html).toContain('name="password"');
  });

  it("creates the account, logs the person in and sends them home (303)", async () => {
    const visitor = new Visitor();
    const page = await visitor.register("reg_ok");
    expect(page.status).toBe(303);
    expect(page.location).toBe("/");
    const home = await visitor.get("/");
    expect(home.html).toContain('id="whoami">reg_ok<');
    expect(userTokenOf(home.html)).toBeDefined();
  });

  it("goes to a local `next` after signing up", async () => {
    const visitor = new Visitor();
    const page = await visitor.post("/register?next=%2Frooms%2Fgarden", {
      username: "reg_next",
      email: "reg_next@example.com",
      password: PASSWORD,
    });
    expect(page.status).toBe(303);
    expect(page.location).toBe("/rooms/garden");
  });

  it.each([
    ["blank username", { username: "" }, "username", "Username can&#39;t be blank"],
    ["username too short", { username: "ab" }, "username", "Username must be 3 to 24 letters, digits or underscores"],
    ["username too long", { username: "a".repeat(25) }, "username", "must be 3 to 24 letters"],
    ["username with a space", { username: "al ice" }, "username", "must be 3 to 24 letters"],
    ["username with a dash", { username: "al-ice" }, "username", "must be 3 to 24 letters"],
    ["username with non-ASCII", { username: "élodie" }, "username", "must be 3 to 24 letters"],
    ["blank email", { email: "" }, "email", "Email can&#39;t be blank"],
    ["email without @", { email: "nobody.example.com" }, "email", "Email is not a valid email address"],
    ["email without domain dot", { email: "nobody@example" }, "email", "Email is not a valid email address"],
    ["blank password", { password: "" }, "password", "Password can&#39;t be blank"],
    ["7-character password", { password: "1234567" }, "password", "Password must be at least 8 characters"],
    ["257-character password", { password: "p".repeat(257) }, "password", "Password must be at most 256 characters"],
  ])("refuses a %s with 422 and says so next to the field", async (_, override, field, message) => {
    const before = await countUsers();
    const fields = { username: "valid_name", email: "valid@example.com", password: PASSWORD, ...override };
    const page = await new Visitor().post("/register", fields);
    expect(page.status).toBe(422);
    expect(page.html).toContain(`id="${field}_error"`);
    expect(page.html).toContain(message);
    expect(page.headers.getSetCookie()).toEqual([]);
    expect(await countUsers()).toBe(before);
  });

  it("accepts exactly 3 and 24 characters and exactly 8 password characters", async () => {
    expect((await new Visitor().register("abc", "12345678")).status).toBe(303);
    expect((await new Visitor().register("a".repeat(24), "12345678")).status).toBe(303);
  });

  it("keeps what was typed (except the password) when showing the form again, escaped", async () => {
    const page = await new Visitor().post("/register", {
      username: '"><script>alert(1)</script>',
      email: "kept@example.com",
      password: "secret-password",
    });
    expect(page.status).toBe(422);
    expect(page.html).toContain('value="kept@example.com"');
    expect(page.html).not.toContain("secret-password");
    expect(page.html).not.toContain("<script>alert(1)</script>");
    expect(page.html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
  });

  it("refuses a username taken in another case (422)", async () => {
    expect((await new Visitor().register("CaseUser")).status).toBe(303);
    const page = await new Visitor().register("caseuser", PASSWORD, "other-case@example.com");
    expect(page.status).toBe(422);
    expect(page.html).toContain("Username has already been taken");
  });

  it("refuses an email taken in another case (422)", async () => {
    expect((await new Visitor().register("email_one", PASSWORD, "dup@example.com")).status).toBe(303);
    const page = await new Visitor().register("email_two", PASSWORD, "DUP@Example.com");
    expect(page.status).toBe(422);
    expect(page.html).toContain("Email has already been taken");
  });

  it("stores the email lower-cased and the password only as a PBKDF2 hash", async () => {
    await new Visitor().register("stored_user", PASSWORD, "Stored.User@Example.com");
    const user = await findUserByEmail(db, "stored.user@example.com");
    expect(user?.email).toBe("stored.user@example.com");
    expect(user?.passwordHash).toMatch(/^pbkdf2-sha256\$100000\$/);
    expect(user?.passwordHash).not.toContain(PASSWORD);
  });

  it("refuses a form body over 16 KiB with 413 before parsing it", async () => {
    const page = await new Visitor().post("/register", {
      username: "big_form",
      email: "big@example.com",
      password: "p".repeat(17 * 1024),
    });
    expect(page.status).toBe(413);
    expect(page.html).toContain("larger than 16 KiB");
    expect(await findUserByEmail(db, "big@example.com")).toBeUndefined();
  });

  it("treats a form that is not a form (JSON) as blank fields", async () => {
    const page = await new Visitor().request("/register", {
      method: "POST",
      headers: { Origin: LOCAL_ORIGIN, "Content-Type": "application/json" },
      body: JSON.stringify({ username: "json_user", email: "json@example.com", password: PASSWORD }),
    });
    expect(page.status).toBe(422);
    expect(page.html).toContain("Username can&#39;t be blank");
  });
});

describe("GET/POST /login", () => {
  it("logs in, counts the sign-in and records when", async () => {
    await new Visitor().register("login_ok");
    const before = await findUserByEmail(db, "login_ok@example.com");
    const visitor = new Visitor();
    const page = await visitor.logIn("login_ok@example.com");
    expect(page.status).toBe(303);
    expect(page.location).toBe("/");
    expect((await visitor.get("/")).html).toContain('id="whoami">login_ok<');
    const after = await findUserByEmail(db, "login_ok@example.com");
    expect(after?.signInCount).toBe((before?.signInCount ?? 0) + 1);
    expect(after?.lastSignInAt).toBeInstanceOf(Date);
  });

  it("accepts the email in any case and with surrounding spaces", async () => {
    await new Visitor().register("login_case");
    expect((await new Visitor().logIn("  LOGIN_CASE@example.COM ")).status).toBe(303);
  });

  it("goes to `next` when it is a local path", async () => {
    await new Visitor().register("login_next");
    const page = await new Visitor().post("/login?next=%2Frooms%2Fgarden%3Fx%3D1", {
      email: "login_next@example.com",
      password: PASSWORD,
    });
    expect(page.location).toBe("/rooms/garden?x=1");
  });

  it.each([
    "https://evil.example/",
    "//evil.example/rooms",
    "/\\evil.example",
    "javascript:alert(1)",
    "rooms/relative",
    "/\t/evil.example",
    "/..//evil.example",
  ])("refuses a `next` that could leave the site (%s) and goes to / instead", async (next) => {
    await new Visitor().register(`next_${next.length}_${next.charCodeAt(1)}`);
    const page = await new Visitor().post(`/login?next=${encodeURIComponent(next)}`, {
      email: `next_${next.length}_${next.charCodeAt(1)}@example.com`,
      password: PASSWORD,
    });
    expect(page.status).toBe(303);
    expect(page.location).toBe("/");
  });

  it("answers a wrong password and an unknown email the same way: 401, form again, no hint", async () => {
    await new Visitor().register("login_wrong");
    const wrong = await new Visitor().logIn("login_wrong@example.com", "not the password");
    const unknown = await new Visitor().logIn("nobody-here@example.com", "not the password");
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    for (const page of [wrong, unknown]) {
      expect(page.html).toContain("Wrong email or password.");
      expect(page.html).toContain('name="password"');
      expect(page.headers.getSetCookie()).toEqual([]);
    }
  });

  it("asks for both fields when one is blank (422)", async () => {
    const page = await new Visitor().post("/login", { email: "", password: "" });
    expect(page.status).toBe(422);
    expect(page.html).toContain("Email can&#39;t be blank");
    expect(page.html).toContain("Password can&#39;t be blank");
  });

  it("logs in with a long password of emoji, counted in characters the same way as at sign-up", async () => {
    const password = "🔥".repeat(200); // 200 characters, 400 UTF-16 units
    expect((await new Visitor().register("emoji_pw", password)).status).toBe(303);
    expect((await new Visitor().logIn("emoji_pw@example.com", password)).status).toBe(303);
  });
});

describe("POST /logout", () => {
  it("ends the session, revokes the user's tokens and sends them home", async () => {
    const visitor = new Visitor();
    await visitor.register("leaver");
    const oldCookie = new Map(visitor.cookies);
    const oldSocketToken = await visitor.socketToken();
    expect(oldSocketToken).toBeDefined();

    const page = await visitor.post("/logout", {});
    expect(page.status).toBe(303);
    expect(page.location).toBe("/");
    expect(visitor.cookies.size).toBe(0);
    expect(userTokenOf((await visitor.get("/")).html)).toBeUndefined();

    // The old cookie, replayed, no longer logs anyone in.
    const replay = new Visitor();
    for (const [name, value] of oldCookie) replay.cookies.set(name, value);
    const room = await replay.get("/rooms/lobby");
    expect(room.status).toBe(303);
    expect(room.location).toBe("/login?next=%2Frooms%2Flobby");

    // And the socket token the page had stops verifying.
    expect(await verifyUserToken(oldSocketToken ?? "", testSecrets(), db)).toEqual({ ok: false, reason: "revoked" });
  });

  it("is harmless when nobody is logged in", async () => {
    const page = await new Visitor().post("/logout", {});
    expect(page.status).toBe(303);
    expect(page.location).toBe("/");
  });
});

describe("CSRF protection of forms", () => {
  it.each([
    ["another site's Origin", { Origin: "https://evil.example" }],
    ["a look-alike Origin on another port", { Origin: "http://127.0.0.1:9999" }],
    ["Sec-Fetch-Site cross-site and no Origin", { Origin: "", "Sec-Fetch-Site": "cross-site" }],
  ])("refuses a login post with %s (403) and explains", async (_, headers) => {
    const visitor = new Visitor();
    const clean = Object.fromEntries(Object.entries(headers).filter(([, value]) => value !== ""));
    const page = await visitor.request("/login", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", ...clean },
      body: new URLSearchParams({ email: "csrf@example.com", password: PASSWORD }).toString(),
    });
    expect(page.status).toBe(403);
    expect(page.html).toContain("submitted from another site");
    expect(visitor.cookies.size).toBe(0);
  });

  it("refuses a logout posted from another site, leaving the session alive", async () => {
    const visitor = new Visitor();
    await visitor.register("csrf_logout");
    const page = await visitor.post("/logout", {}, { Origin: "https://evil.example" });
    expect(page.status).toBe(403);
    expect((await visitor.get("/")).html).toContain('id="whoami">csrf_logout<');
  });

  it("accepts a same-origin post identified by Sec-Fetch-Site alone", async () => {
    await new Visitor().register("csrf_fetch_site");
    const page = await new Visitor().request("/login", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "same-origin" },
      body: new URLSearchParams({ email: "csrf_fetch_site@example.com", password: PASSWORD }).toString(),
    });
    expect(page.status).toBe(303);
  });

  it("accepts an origin listed in ALLOWED_ORIGINS", async () => {
    const app = createApp();
    const response = await app.fetch(
      new Request(`${LOCAL_ORIGIN}/login`, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded", Origin: "https://chat.example.com" },
        body: new URLSearchParams({ email: "", password: "" }).toString(),
      }),
      { ...env, ALLOWED_ORIGINS: "https://other.example, https://chat.example.com" },
    );
    expect(response.status).toBe(422); // past CSRF, stopped by validation
  });
});

describe("session cookie", () => {
  it("is HttpOnly, Secure, SameSite=Lax, __Host- prefixed and two weeks long on a public host", async () => {
    const visitor = new Visitor(PUBLIC_ORIGIN);
    const page = await visitor.register("cookie_public");
    const [header] = page.headers.getSetCookie();
    const cookie = parseSetCookie(header ?? "");
    expect(cookie.name).toBe("__Host-pyre_session");
    expect(cookie.attributes.has("httponly")).toBe(true);
    expect(cookie.attributes.has("secure")).toBe(true);
    expect(cookie.attributes.get("samesite")).toBe("Lax");
    expect(cookie.attributes.get("path")).toBe("/");
    expect(cookie.attributes.has("domain")).toBe(false);
    expect(cookie.attributes.get("max-age")).toBe("1209600");
  });

  it("drops Secure only on loopback hosts, where development runs over http", async () => {
    const page = await new Visitor(LOCAL_ORIGIN).register("cookie_local");
    const cookie = parseSetCookie(page.headers.getSetCookie()[0] ?? "");
    expect(cookie.name).toBe("pyre_session");
    expect(cookie.attributes.has("secure")).toBe(false);
    expect(cookie.attributes.has("httponly")).toBe(true);
    expect(cookie.attributes.get("samesite")).toBe("Lax");
  });

  it("is not accepted as a socket token, nor a socket token as a session", async () => {
    const visitor = new Visitor();
    await visitor.register("cookie_swap");
    const sessionToken = visitor.cookies.get("pyre_session") ?? "";
    expect(await verifyUserToken(sessionToken, testSecrets(), db)).toEqual({ ok: false, reason: "invalid" });

    const socketToken = (await visitor.socketToken()) ?? "";
    const impostor = new Visitor();
    impostor.cookies.set("pyre_session", socketToken);
    expect(userTokenOf((await impostor.get("/")).html)).toBeUndefined();
  });

  it("clears a cookie that does not verify", async () => {
    const visitor = new Visitor();
    visitor.cookies.set("pyre_session", "garbage");
    const page = await visitor.get("/");
    expect(page.status).toBe(200);
    expect(userTokenOf(page.html)).toBeUndefined();
    expect(visitor.cookies.has("pyre_session")).toBe(false);
  });
});
