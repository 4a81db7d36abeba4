/** Shared by the e2e files: accounts made through the real HTTP forms, raw upgrades, and bounded waits. */
import { randomBytes } from "node:crypto";
import { request } from "node:http";

/** `prefix_` plus 8 random hex digits: a fresh username or room name for every test. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(4).toString("hex")}`;
}

export const PASSWORD = "correct horse battery staple";

export interface RegisteredUser {
  username: string;
  email: string;
  /** `pyre_session=...`, ready for a Cookie header. */
  cookie: string;
  /** The socket token from the home page's `<meta name="user_token">`. */
  token: string;
}

/** Signs up through `POST /register` as a browser form would, then reads the socket token off `GET /`. */
export async function registerUser(baseUrl: string, username: string): Promise<RegisteredUser> {
  const email = `${username.toLowerCase()}@example.com`;
  const response = await fetch(`${baseUrl}/register`, {
    method: "POST",
    redirect: "manual",
    headers: { Origin: baseUrl },
    body: new URLSearchParams({ username, email, password: PASSWORD }),
  });
  const body = await response.text();
  if (response.status !== 303) {
    throw new Error(`POST /register for ${username} answered ${response.status}, not 303:\n${body.slice(0, 2000)}`);
  }
  const cookie = response.headers
    .getSetCookie()
    .map((header) => header.split(";")[0] ?? "")
    .find((pair) => pair.startsWith("pyre_session="));
  if (cookie === undefined || cookie === "pyre_session=") {
    throw new Error(`POST /register for ${username} set no pyre_session cookie: ${response.headers.getSetCookie()}`);
  }

  const home = await fetch(`${baseUrl}/`, { headers: { Cookie: cookie } });
  const html = await home.text();
  const token = /<meta name="user_token" content="([^"]+)"/.exec(html)?.[1];
  if (home.status !== 200 || token === undefined) {
    throw new Error(`GET / as ${username} (status ${home.status}) has no user_token meta tag:\n${html.slice(0, 2000)}`);
  }
  return { username, email, cookie, token };
}

/**
 * Polls `probe` until it returns something other than undefined/false, and returns that; fails after
 * `timeoutMs` with `description`, so a test waits for a condition instead of sleeping.
 */
export async function waitUntil<T>(
  description: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${description}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** The headers of a WebSocket handshake, for raw requests to the socket endpoint. */
export const UPGRADE_HEADERS = {
  Connection: "Upgrade",
  Upgrade: "websocket",
  "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
  "Sec-WebSocket-Version": "13",
} as const;

/**
 * A GET with whatever headers we like (fetch refuses Connection/Upgrade), answering the status. A 101
 * upgrade is reported as status 101 and its socket closed at once.
 */
export function rawGet(url: string, headers: Record<string, string>): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "GET", headers, timeout: 10_000 });
    req.once("response", (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => {
        body += chunk;
      });
      response.once("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
      response.once("error", reject);
    });
    req.once("upgrade", (response, socket) => {
      socket.destroy();
      resolve({ status: response.statusCode ?? 0, headers: response.headers, body: "" });
    });
    req.once("timeout", () => req.destroy(new Error(`GET ${url} timed out`)));
    req.once("error", reject);
    req.end();
  });
}
