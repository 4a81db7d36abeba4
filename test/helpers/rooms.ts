/**
 * The rooms API (docs/rooms.md) as an app or a page calls it, through the real worker: with a socket token
 * (`Authorization: Bearer`) or a logged-in browser's session cookie (JSON bodies, same-origin `Origin`).
 * Also what D1 mirrors of a room, to compare with what the room answers.
 */

import { runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { asc, eq } from "drizzle-orm";
import { expect } from "vitest";
import { roomMembers, rooms, users } from "../../src/db/schema";
import type { User } from "../../src/db/users";
import { roomStub } from "../../src/realtime/room/client";
import { db, makeUser, tokenFor } from "./users";
import { LOCAL_ORIGIN, Visitor } from "./visitor";

export interface Answer {
  status: number;
  headers: Headers;
  /** The body as sent. */
  text: string;
  /** The body parsed as JSON (null when empty or not JSON). */
  // biome-ignore lint/suspicious/noExplicitAny: answers are checked field by field against the contract
  body: any;
}

/** One person calling the API, by token or by cookie. */
export class ApiClient {
  constructor(
    readonly user: User,
    readonly auth: { kind: "bearer"; token: string } | { kind: "cookie"; visitor: Visitor },
  ) {}

  get username(): string {
    return this.user.username;
  }

  get(path: string, headers: Record<string, string> = {}): Promise<Answer> {
    return this.send("GET", path, undefined, headers);
  }

  post(path: string, body: unknown = {}, headers: Record<string, string> = {}): Promise<Answer> {
    return this.send("POST", path, body, headers);
  }

  patch(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
    return this.send("PATCH", path, body, headers);
  }

  delete(path: string, headers: Record<string, string> = {}): Promise<Answer> {
    return this.send("DELETE", path, undefined, headers);
  }

  /**
   * `body` as JSON (a string is sent as it is), with `Content-Type: application/json` unless `headers` say
   * otherwise. A browser's fetch from our pages adds its Origin to every request but a GET.
   */
  async send(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
    const json = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
    const contentType: Record<string, string> = json === undefined ? {} : { "Content-Type": "application/json" };
    if (this.auth.kind === "bearer") {
      const response = await exports.default.fetch(new URL(path, LOCAL_ORIGIN), {
        method,
        redirect: "manual",
        headers: { Authorization: `Bearer ${this.auth.token}`, ...contentType, ...headers },
        body: json,
      });
      return answerOf(response.status, response.headers, await response.text());
    }
    const visitor = this.auth.visitor;
    const origin: Record<string, string> = method === "GET" ? {} : { Origin: visitor.origin };
    const page = await visitor.request(path, {
      method,
      headers: { ...origin, ...contentType, ...headers },
      body: json,
    });
    return answerOf(page.status, page.headers, page.html);
  }
}

function answerOf(status: number, headers: Headers, text: string): Answer {
  let body: unknown = null;
  try {
    body = text === "" ? null : JSON.parse(text);
  } catch {
    body = null;
  }
  return { status, headers, text, body };
}

/** A new user calling with their socket token. */
export async function bearer(username: string): Promise<ApiClient> {
  const user = await makeUser(username);
  return new ApiClient(user, { kind: "bearer", token: await tokenFor(user) });
}

/** A new user logged in with a browser (through the real /login form), calling with its cookie. */
export async function browser(username: string): Promise<ApiClient> {
  const user = await makeUser(username);
  const visitor = new Visitor();
  const login = await visitor.logIn(user.email);
  expect(login.status).toBe(303);
  return new ApiClient(user, { kind: "cookie", visitor });
}

export interface RoomAnswer {
  id: string;
  kind: "public" | "private" | "dm";
  name?: string;
  title?: string | null;
  role: "owner" | "moderator" | "member" | null;
  partner?: { id: number; username: string } | null;
}

/** Creates a room and answers its view; fails the test unless the API answered 201. */
export async function createRoom(
  client: ApiClient,
  body: { kind: "public"; name: string } | { kind: "private"; title: string },
): Promise<RoomAnswer> {
  const created = await client.post("/api/rooms", body);
  expect(created.status, created.text).toBe(201);
  return created.body.room as RoomAnswer;
}

/** Adds each person to the room with the role given (member by default), as `actor`. */
export async function addMembers(
  actor: ApiClient,
  id: string,
  people: ReadonlyArray<ApiClient | [ApiClient, "member" | "moderator"]>,
): Promise<void> {
  for (const entry of people) {
    const [person, role] = Array.isArray(entry) ? entry : [entry, "member" as const];
    const added = await actor.post(`/api/rooms/${id}/members`, { username: person.username, role });
    expect(added.status, added.text).toBe(201);
  }
}

export type MemberRole = [username: string, role: string];

/** The members the room answers with, as [username, role], sorted by username. */
export async function membersAnswered(asker: ApiClient, id: string): Promise<MemberRole[]> {
  const details = await asker.get(`/api/rooms/${id}`);
  expect(details.status, details.text).toBe(200);
  return (details.body.members as Array<{ username: string; role: string }>)
    .map(({ username, role }): MemberRole => [username, role])
    .sort(([a], [b]) => a.localeCompare(b));
}

/** D1's mirror of the room's members, as [username, role], sorted by username. */
export async function membersInD1(id: string): Promise<MemberRole[]> {
  const rows = await db
    .select({ username: users.username, role: roomMembers.role })
    .from(roomMembers)
    .innerJoin(users, eq(users.id, roomMembers.userId))
    .where(eq(roomMembers.room, id))
    .orderBy(asc(users.username));
  return rows.map(({ username, role }): MemberRole => [username, role]).sort(([a], [b]) => a.localeCompare(b));
}

/** The room's own answer and D1's mirror agree, and are `expected` when given. */
export async function expectMirrored(asker: ApiClient, id: string, expected?: MemberRole[]): Promise<void> {
  const answered = await membersAnswered(asker, id);
  expect(await membersInD1(id)).toEqual(answered);
  if (expected) expect(answered).toEqual([...expected].sort(([a], [b]) => a.localeCompare(b)));
}

/** D1's `rooms` row of a room, if it has one. */
export async function roomRowInD1(id: string) {
  const [row] = await db.select().from(rooms).where(eq(rooms.id, id));
  return row;
}

/** The room's Durable Object storage: its key-value entries and its own SQL tables. */
export function roomStorage(id: string): Promise<{ keys: string[]; tables: string[] }> {
  return runInDurableObject(roomStub(env, id), (_room, state) => ({
    keys: [...state.storage.kv.list()].map(([key]) => key),
    tables: state.storage.sql
      .exec<{ name: string }>(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_cf%' ESCAPE '\\'",
      )
      .toArray()
      .map(({ name }) => name)
      .filter((name) => !name.startsWith("sqlite_")),
  }));
}

/** Moves every invite of the room `id` past its expiry, as time passing would. */
export function expireInvites(id: string): Promise<void> {
  return runInDurableObject(roomStub(env, id), (_room, state) => {
    state.storage.sql.exec("UPDATE invites SET expires_at = ?", Date.now() - 1);
  });
}

/** The invite token in an invite's url (`/invites/TOKEN`). */
export function tokenOf(url: string): string {
  const path = new URL(url).pathname;
  expect(path).toMatch(/^\/invites\/[^/]+$/);
  return path.slice("/invites/".length);
}
