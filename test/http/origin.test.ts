/**
 * Origins (http/origin.ts): the rule itself, then through the whole worker. The pool binds ALLOWED_ORIGINS = "capacitor://localhost" (an app
 * scheme, whose URL origin is the opaque "null"): the app itself may post forms and open sockets, while a
 * sandboxed iframe or a data: page, which send `Origin: null`, may do neither. Other values are tested
 * through `createApp().request` with the real bindings and one var changed.
 */
import { env, exports } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createApp } from "../../src/http/app";
import { isAllowedOrigin, parseAllowedOrigins } from "../../src/http/origin";
import { TEST_HOST, TestSocket } from "../helpers/socket";
import { makeUser, tokenFor } from "../helpers/users";

const APP_ORIGIN = "capacitor://localhost";

afterEach(() => {
  vi.restoreAllMocks();
});

function loginPost(origin: string): RequestInit {
  return {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", Origin: origin, "Sec-Fetch-Site": "cross-site" },
    body: new URLSearchParams({ email: "", password: "" }).toString(),
  };
}

let users = 0;

async function upgradeRequest(origin: string, room: string): Promise<Request> {
  users += 1;
  const token = await tokenFor(await makeUser(`origin_user_${users}`));
  return new Request(`${TEST_HOST}/socket/websocket?vsn=2.0.0&room=${room}&token=${token}`, {
    headers: { Upgrade: "websocket", Origin: origin },
  });
}

describe("isAllowedOrigin and parseAllowedOrigins", () => {
  const url = "http://127.0.0.1:8787/socket/websocket";
  const none = new Set<string>();
  const listed = (value: string) => {
    const result = parseAllowedOrigins(value);
    if (!result.ok) throw new Error(result.problem);
    return result.origins;
  };

  it("allows exactly the request's own scheme, host and port", () => {
    expect(isAllowedOrigin("http://127.0.0.1:8787", url, none)).toBe(true);
    expect(isAllowedOrigin("http://127.0.0.1:8788", url, none)).toBe(false);
    expect(isAllowedOrigin("https://127.0.0.1:8787", url, none)).toBe(false);
    expect(isAllowedOrigin("http://localhost:8787", url, none)).toBe(false);
    expect(isAllowedOrigin("null", url, none)).toBe(false);
    expect(isAllowedOrigin("not an origin", url, none)).toBe(false);
  });

  it("allows listed origins, normalised", () => {
    expect([...listed(" https://a.example/ ,https://B.example:8443, , HTTPS://c.example:443")]).toEqual([
      "https://a.example",
      "https://b.example:8443",
      "https://c.example",
    ]);
    const allowed = listed("https://B.example:8443");
    expect(isAllowedOrigin("https://b.example:8443", url, allowed)).toBe(true);
    expect(isAllowedOrigin("https://sub.b.example:8443", url, allowed)).toBe(false);
    expect(isAllowedOrigin("http://b.example:8443", url, allowed)).toBe(false);
  });

  it("compares app schemes as lower-cased scheme://host[:port], and never lets `null` in", () => {
    const allowed = listed("Capacitor://LocalHost/, ionic://localhost:8100, tauri://localhost");
    expect([...allowed]).toEqual(["capacitor://localhost", "ionic://localhost:8100", "tauri://localhost"]);
    expect(isAllowedOrigin("capacitor://localhost", url, allowed)).toBe(true);
    expect(isAllowedOrigin("ionic://localhost:8100", url, allowed)).toBe(true);
    expect(isAllowedOrigin("ionic://localhost", url, allowed)).toBe(false);
    expect(isAllowedOrigin("capacitor://localhost.evil.example", url, allowed)).toBe(false);
    expect(isAllowedOrigin("null", url, allowed)).toBe(false);
    expect(isAllowedOrigin("NULL", url, allowed)).toBe(false);
  });

  it.each([
    "null",
    "not a url",
    "https://a.example/path",
    "https://a.example/?q",
    "https://a.example/#f",
    "https://user@a.example",
    "capacitor:",
    "capacitor:localhost",
    "file:///etc/passwd",
    "data:text/html;base64",
  ])("refuses the ALLOWED_ORIGINS entry %j, naming it", (entry) => {
    const result = parseAllowedOrigins(`https://fine.example, ${entry}`);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.problem).toContain(`ALLOWED_ORIGINS entry ${JSON.stringify(entry)}`);
  });

  it("treats an empty or missing value as no extra origins", () => {
    expect(parseAllowedOrigins("")).toEqual({ ok: true, origins: new Set() });
    expect(parseAllowedOrigins(undefined)).toEqual({ ok: true, origins: new Set() });
  });
});

describe("ALLOWED_ORIGINS = capacitor://localhost, through the worker", () => {
  it("is what the pool binds", () => {
    expect(env.ALLOWED_ORIGINS).toBe(APP_ORIGIN);
  });

  it("refuses a form post with Origin: null (403)", async () => {
    const response = await exports.default.fetch(`${TEST_HOST}/login`, loginPost("null"));
    expect(response.status).toBe(403);
    expect(await response.text()).toContain("submitted from another site");
  });

  it("accepts a form post from the app's own scheme (past CSRF, stopped by validation: 422)", async () => {
    const response = await exports.default.fetch(`${TEST_HOST}/login`, loginPost(APP_ORIGIN));
    expect(response.status).toBe(422);
  });

  it("accepts the app's origin however its scheme and host are cased", async () => {
    const response = await exports.default.fetch(`${TEST_HOST}/login`, loginPost("Capacitor://LocalHost"));
    expect(response.status).toBe(422);
  });

  it("refuses a socket upgrade with Origin: null (403) and admits the app's", async () => {
    const refused = await exports.default.fetch(await upgradeRequest("null", "null_origin"));
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain("may not open sockets");

    const admitted = await exports.default.fetch(await upgradeRequest(APP_ORIGIN, "app_origin"));
    expect(admitted.status).toBe(101);
    new TestSocket(admitted.webSocket as WebSocket).close();
  });
});

describe("other ALLOWED_ORIGINS values", () => {
  it.each([
    ["an app scheme listed with others", "https://chat.example.com, ionic://localhost/"],
    ["a web origin with a trailing slash", "https://chat.example.com/"],
  ])("never admits Origin: null (%s)", async (_, allowed) => {
    const vars = { ...env, ALLOWED_ORIGINS: allowed };
    const form = await createApp().request(`${TEST_HOST}/login`, loginPost("null"), vars);
    expect(form.status).toBe(403);
    const socket = await createApp().request(await upgradeRequest("null", "null_list"), undefined, vars);
    expect(socket.status).toBe(403);
    // The control: a listed origin does get through.
    const listed = await createApp().request(`${TEST_HOST}/login`, loginPost("https://chat.example.com"), vars);
    expect(listed.status).toBe(422);
  });

  it.each([
    ["not a URL", "https://ok.example, not a url", "not a url"],
    ["the literal null", "null", "null"],
    ["a path", "https://ok.example/chat", "https://ok.example/chat"],
    ["credentials", "https://user:pw@ok.example", "https://user:pw@ok.example"],
    ["a scheme with no host", "capacitor:", "capacitor:"],
  ])("fails closed on an entry that is %s: 500 everywhere, and the log names the entry", async (_, allowed, entry) => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const vars = { ...env, ALLOWED_ORIGINS: allowed };
    const home = await createApp().request(`${TEST_HOST}/`, undefined, vars);
    const socket = await createApp().request(await upgradeRequest(APP_ORIGIN, "bad_list"), undefined, vars);
    expect(home.status).toBe(500);
    expect(await home.text()).toContain("not configured correctly");
    expect(socket.status).toBe(500);
    const logged = errors.mock.calls.map((call) => call.join(" "));
    expect(logged.some((line) => line.includes("ALLOWED_ORIGINS") && line.includes(JSON.stringify(entry)))).toBe(true);
  });
});
