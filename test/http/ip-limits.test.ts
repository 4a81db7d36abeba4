/**
 * Per-address caps on sign-ups and logins (abuse limits), with the limits an operator sets in
 * wrangler.toml. The pool runs with the shipped defaults; tests that need a small cap change one var
 * through `createApp().request` with the real bindings.
 */
import { env } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { readConfig } from "../../src/config";
import { ipAttempts, loginFailures } from "../../src/db/schema";
import { createApp } from "../../src/http/app";
import { db } from "../helpers/users";
import { LOCAL_ORIGIN, type Page, Visitor } from "../helpers/visitor";

const PASSWORD = "correct horse battery";

afterEach(() => {
  vi.restoreAllMocks();
});

function alertOf(page: Page): string | undefined {
  return /<p class="alert" role="alert"[^>]*>([^<]*)<\/p>/.exec(page.html)?.[1];
}

/** A form post straight to a fresh app with some vars changed, from `ip` (or from no known address). */
async function postWith(
  vars: Partial<Env>,
  path: string,
  fields: Record<string, string>,
  ip?: string,
): Promise<Response> {
  return createApp().request(
    `${LOCAL_ORIGIN}${path}`,
    {
      method: "POST",
      headers: {
        Origin: LOCAL_ORIGIN,
        "Content-Type": "application/x-www-form-urlencoded",
        ...(ip === undefined ? {} : { "CF-Connecting-IP": ip }),
      },
      body: new URLSearchParams(fields).toString(),
    },
    { ...env, ...vars },
  );
}

/** The window passes for `ip` (moved in D1, as the clock would). */
async function endWindow(action: "register" | "login", ip: string): Promise<void> {
  await db
    .update(ipAttempts)
    .set({ windowStartedAt: new Date(Date.now() - 601_000) })
    .where(and(eq(ipAttempts.action, action), eq(ipAttempts.ip, ip)));
}

describe("sign-ups per address", () => {
  it("runs with the shipped defaults: 30 sign-ups and 100 logins per address per 10 minutes", () => {
    expect(env.REGISTRATIONS_PER_IP).toBe("30");
    expect(env.LOGINS_PER_IP).toBe("100");
    expect(env.ACCOUNT_LIMIT_WINDOW_SECONDS).toBe("600");
  });

  it("allows 30 from one address, refuses the 31st with 429 and when to try again; others are unaffected", async () => {
    const ip = "203.0.113.30";
    for (let n = 1; n <= 30; n++) {
      const page = await new Visitor(LOCAL_ORIGIN, ip).register(`ip_cap_${n}`);
      expect(page.status, `sign-up ${n}`).toBe(303);
    }
    const refused = await new Visitor(LOCAL_ORIGIN, ip).register("ip_cap_31");
    expect(refused.status).toBe(429);
    expect(alertOf(refused)).toBe("Too many sign-up attempts from your network. Try again in 10 minutes.");
    const retryAfter = Number(refused.headers.get("Retry-After"));
    expect(retryAfter).toBeGreaterThan(540);
    expect(retryAfter).toBeLessThanOrEqual(600);
    expect(refused.html).toContain('value="ip_cap_31"'); // the form, as typed, to send again later
    expect(refused.headers.getSetCookie()).toEqual([]);
    const [row] = await db
      .select()
      .from(ipAttempts)
      .where(and(eq(ipAttempts.action, "register"), eq(ipAttempts.ip, ip)));
    expect(row?.attempts).toBe(31);

    expect((await new Visitor(LOCAL_ORIGIN, "203.0.113.31").register("ip_cap_other")).status).toBe(303);

    await endWindow("register", ip);
    expect((await new Visitor(LOCAL_ORIGIN, ip).register("ip_cap_31")).status).toBe(303);
    // 32 sign-ups, each a PBKDF2 hash of 100,000 iterations: CPU, not waiting, so a loaded machine needs
    // several times vitest's default 5 s.
  }, 30_000);

  it("counts failed attempts too, and shares one key among requests with no address", async () => {
    const vars = { REGISTRATIONS_PER_IP: "2" };
    const blank = { username: "", email: "", password: "" };
    expect((await postWith(vars, "/register", blank)).status).toBe(422);
    expect((await postWith(vars, "/register", blank)).status).toBe(422);
    const third = await postWith(vars, "/register", {
      username: "no_ip",
      email: "no_ip@example.com",
      password: PASSWORD,
    });
    expect(third.status).toBe(429);
    const [row] = await db
      .select()
      .from(ipAttempts)
      .where(and(eq(ipAttempts.action, "register"), eq(ipAttempts.ip, "unknown")));
    expect(row?.attempts).toBe(3);
  });
});

describe("logins per address", () => {
  it("caps password guesses across emails, unknown ones included, before any lockout counting", async () => {
    await new Visitor().register("ip_login_target");
    const vars = { LOGINS_PER_IP: "3" };
    const ip = "198.51.100.7";
    for (const email of ["a@example.com", "b@example.com", "c@example.com"]) {
      expect((await postWith(vars, "/login", { email, password: "guess" }, ip)).status).toBe(401);
    }
    const refused = await postWith(vars, "/login", { email: "ip_login_target@example.com", password: PASSWORD }, ip);
    expect(refused.status).toBe(429);
    expect(refused.headers.get("Set-Cookie")).toBeNull();
    expect(alertOf({ html: await refused.text() } as Page)).toBe(
      "Too many login attempts from your network. Try again in 10 minutes.",
    );
    // Refused before the password check: the target's lockout count was not touched.
    const counted = await db.select().from(loginFailures).where(eq(loginFailures.email, "ip_login_target@example.com"));
    expect(counted).toEqual([]);

    // Another address logs in; this one may again once the window has passed.
    const other = await postWith(
      vars,
      "/login",
      { email: "ip_login_target@example.com", password: PASSWORD },
      "198.51.100.8",
    );
    expect(other.status).toBe(303);
    await endWindow("login", ip);
    expect(
      (await postWith(vars, "/login", { email: "ip_login_target@example.com", password: PASSWORD }, ip)).status,
    ).toBe(303);
  });

  it("counts an IPv6 network (/64) as one address", async () => {
    const vars = { LOGINS_PER_IP: "1" };
    const guess = { email: "v6@example.com", password: "guess" };
    expect((await postWith(vars, "/login", guess, "2001:db8:1:2::1")).status).toBe(401);
    expect((await postWith(vars, "/login", guess, "2001:0db8:0001:0002:ffff::9")).status).toBe(429);
    expect((await postWith(vars, "/login", guess, "2001:db8:1:3::1")).status).toBe(401);
  });

  it("says minutes in the singular when one is left", async () => {
    const vars = { LOGINS_PER_IP: "1", ACCOUNT_LIMIT_WINDOW_SECONDS: "30" };
    const guess = { email: "soon@example.com", password: "guess" };
    expect((await postWith(vars, "/login", guess, "198.51.100.99")).status).toBe(401);
    const refused = await postWith(vars, "/login", guess, "198.51.100.99");
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("Retry-After"))).toBeGreaterThan(20);
    expect(Number(refused.headers.get("Retry-After"))).toBeLessThanOrEqual(30);
    expect(alertOf({ html: await refused.text() } as Page)).toBe(
      "Too many login attempts from your network. Try again in 1 minute.",
    );
  });
});

describe("the limits' vars", () => {
  it.each([
    ["REGISTRATIONS_PER_IP", ""],
    ["REGISTRATIONS_PER_IP", "thirty"],
    ["LOGINS_PER_IP", "0"],
    ["LOGINS_PER_IP", "-5"],
    ["LOGINS_PER_IP", "2.5"],
    ["SOCKET_IDLE_MS", "0"],
    ["SOCKET_IDLE_MS", "600001"],
    ["ACCOUNT_LIMIT_WINDOW_SECONDS", "1e3"],
    ["ACCOUNT_LIMIT_WINDOW_SECONDS", "99999999999"],
    ["EDIT_WINDOW_SECONDS", "-1"],
    ["EDIT_WINDOW_SECONDS", "1.5"],
    ["EDIT_WINDOW_SECONDS", "31536001"],
  ])("fail closed when %s is %j: 500, and the log names the var and the value", async (name, value) => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const response = await createApp().request(`${LOCAL_ORIGIN}/`, undefined, { ...env, [name]: value });
    expect(response.status).toBe(500);
    expect(await response.text()).toContain("not configured correctly");
    const logged = errors.mock.calls.map((call) => call.join(" "));
    expect(logged.some((line) => line.includes(name) && line.includes(JSON.stringify(value)))).toBe(true);
  });

  it("take EDIT_WINDOW_SECONDS of 0 as no limit, in seconds up to a year", () => {
    const windowOf = (value: string) => {
      const result = readConfig({ EDIT_WINDOW_SECONDS: value });
      return result.ok ? result.config.roomLimits.editWindowMs : result.problem;
    };
    expect(windowOf("0")).toBe(0);
    expect(windowOf("86400")).toBe(86_400_000);
    expect(windowOf("31536000")).toBe(31_536_000_000);
    const defaults = readConfig({});
    expect(defaults.ok && defaults.config.roomLimits.editWindowMs).toBe(86_400_000);
  });
});
