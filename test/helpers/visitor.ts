/**
 * A person with a browser, as far as HTTP goes: follows no redirects by itself, keeps cookies, and sends
 * the Origin a browser would send with its forms. Drives the real worker through `exports.default.fetch`.
 *
 * Each visitor comes from an address of its own (CF-Connecting-IP, as Cloudflare's edge would set it), so
 * the per-IP caps on sign-ups and logins apply to tests as they would to people; a test about those caps
 * gives several visitors the same address.
 */
import { exports } from "cloudflare:workers";

export const LOCAL_ORIGIN = "http://127.0.0.1:8787";
export const PUBLIC_ORIGIN = "https://pyre.example";

export interface Page {
  status: number;
  headers: Headers;
  html: string;
  location: string | null;
}

let visitors = 0;

/** A fresh IPv4 address from 10.0.0.0/8 for each call. */
export function nextTestIp(): string {
  visitors += 1;
  return `10.${(visitors >> 16) & 255}.${(visitors >> 8) & 255}.${visitors & 255}`;
}

export class Visitor {
  readonly origin: string;
  readonly ip: string;
  readonly cookies = new Map<string, string>();

  constructor(origin: string = LOCAL_ORIGIN, ip: string = nextTestIp()) {
    this.origin = origin;
    this.ip = ip;
  }

  get(path: string, headers: Record<string, string> = {}): Promise<Page> {
    return this.request(path, { headers });
  }

  /** Posts a form the way a browser does from one of our pages (same-origin). */
  post(path: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<Page> {
    return this.request(path, {
      method: "POST",
      headers: { Origin: this.origin, "Content-Type": "application/x-www-form-urlencoded", ...headers },
      body: new URLSearchParams(fields).toString(),
    });
  }

  register(username: string, password = "correct horse battery", email = `${username.toLowerCase()}@example.com`) {
    return this.post("/register", { username, email, password });
  }

  logIn(email: string, password = "correct horse battery") {
    return this.post("/login", { email, password });
  }

  /** The socket token a logged-in page embeds, or undefined. */
  async socketToken(): Promise<string | undefined> {
    return userTokenOf((await this.get("/")).html);
  }

  async request(path: string, init: RequestInit & { headers?: Record<string, string> }): Promise<Page> {
    const cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join("; ");
    const response = await exports.default.fetch(`${this.origin}${path}`, {
      ...init,
      redirect: "manual",
      headers: { "CF-Connecting-IP": this.ip, ...(cookie ? { Cookie: cookie } : {}), ...init.headers },
    });
    for (const header of response.headers.getSetCookie()) this.#store(header);
    return {
      status: response.status,
      headers: response.headers,
      html: await response.text(),
      location: response.headers.get("Location"),
    };
  }

  #store(setCookie: string): void {
    const [pair = "", ...attributes] = setCookie.split(";");
    const index = pair.indexOf("=");
    const name = pair.slice(0, index).trim();
    const value = pair.slice(index + 1).trim();
    const expired = attributes.some((attribute) => /^\s*max-age=0\s*$/i.test(attribute));
    if (expired || value === "") this.cookies.delete(name);
    else this.cookies.set(name, value);
  }
}

export function userTokenOf(html: string): string | undefined {
  return /<meta name="user_token" content="([^"]+)"/.exec(html)?.[1];
}

/** Parses one Set-Cookie header into its name, value and lower-cased attributes. */
export function parseSetCookie(header: string) {
  const [pair = "", ...rest] = header.split(";").map((part) => part.trim());
  const index = pair.indexOf("=");
  const attributes = new Map<string, string>();
  for (const part of rest) {
    const eq = part.indexOf("=");
    if (eq === -1) attributes.set(part.toLowerCase(), "");
    else attributes.set(part.slice(0, eq).toLowerCase(), part.slice(eq + 1));
  }
  return { name: pair.slice(0, index), value: pair.slice(index + 1), attributes };
}
