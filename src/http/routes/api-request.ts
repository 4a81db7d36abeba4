/**
 * What every route of the rooms API (rooms-api.ts, moderation-api.ts) shares: who asks (set by the API's
 * guard), the room a request names, a person by username, the JSON body, and the shape of every answer.
 */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { User } from "../../db/users";
import type { Identity } from "../../realtime/access/identity";
import { knownRoom, type Outcome, type RoomStub } from "../../realtime/room/client";
import { isRoomId } from "../../shared/rooms";
import type { AppEnv } from "../env";
import { personNamed } from "../rooms";

/** What the API's guard sets for every route behind it. */
export type ApiVariables = AppEnv["Variables"] & { user: User; identity: Identity };

export type ApiEnv = { Bindings: AppEnv["Bindings"]; Variables: ApiVariables };

/**
 * The room a request names, if the asker may see it; else undefined, answered 404 like a room that does not
 * exist, before anything in the request is checked, so nothing about a private room leaks to a non-member.
 */
export async function roomOf(c: Context<ApiEnv>): Promise<RoomStub | undefined> {
  const id = c.req.param("id") ?? "";
  const room = isRoomId(id) ? await knownRoom(c.env, id) : undefined;
  return room && (await room.visibleTo(c.var.identity.id)) ? room : undefined;
}

export async function userNamed(
  c: Context<ApiEnv>,
  username: unknown,
): Promise<{ ok: true; identity: Identity } | { ok: false; response: Response }> {
  const person = await personNamed(c.var.db, username);
  return person.ok
    ? { ok: true, identity: person.value }
    : { ok: false, response: fail(c, person.status, person.error) };
}

export async function jsonBody(c: Context): Promise<Record<string, unknown> | undefined> {
  try {
    const body: unknown = await c.req.json();
    return typeof body === "object" && body !== null && !Array.isArray(body)
      ? (body as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

export function answer<T>(
  c: Context,
  outcome: Outcome<T>,
  shape: (value: T) => object,
  status: ContentfulStatusCode = 200,
) {
  return outcome.ok ? c.json(shape(outcome.value), status) : fail(c, outcome.status, outcome.error);
}

/** An empty 204 when it went through; the room's refusal otherwise. */
export function answerEmpty(c: Context, outcome: Outcome<unknown>): Response {
  return outcome.ok ? c.body(null, 204) : fail(c, outcome.status, outcome.error);
}

export function fail(c: Context, status: ContentfulStatusCode, error: string): Response {
  return c.json({ error }, status);
}
