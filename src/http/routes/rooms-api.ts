/**
 * The rooms API (docs/rooms.md): creating rooms, members and roles, invites, direct messages, and (its own
 * routes, moderation-api.ts) moderation. Each call is decided by the room it names, from what the room
 * holds; this layer only reads the request and the asker, and finds users by name.
 */
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { roomsFor } from "../../db/rooms";
import { checkTitle, mintPrivateRoomId, NO_SUCH_ROOM, type Role, roomStub } from "../../realtime/room/client";
import { isRoomName } from "../../shared/rooms";
import type { AppEnv } from "../env";
import { isAllowedOrigin } from "../origin";
import { requestUser } from "../request-user";
import { acceptInvite, INVITE_LIMITS, openDirectMessage, roomCounts } from "../rooms";
import { type ApiEnv, answer, fail, jsonBody, roomOf, userNamed } from "./api-request";
import { moderationApiRoutes, modesFrom } from "./moderation-api";

/** Every body here is a few fields. */
export const API_BODY_MAX_BYTES = 16 * 1024;

const ROLES: readonly Role[] = ["owner", "moderator", "member"];

export const roomsApiRoutes = new Hono<ApiEnv>();

// Who is asking, and (for a cookie) that a write comes from our own pages: JSON only, which a form on
// another site cannot send, and an allowed Origin when there is one.
roomsApiRoutes.use(
  "/api/*",
  bodyLimit({
    maxSize: API_BODY_MAX_BYTES,
    onError: (c) => fail(c, 413, `The body was larger than ${API_BODY_MAX_BYTES / 1024} KiB, so it was refused.`),
  }),
);

roomsApiRoutes.use("/api/*", async (c, next) => {
  c.header("Cache-Control", "private, no-store");
  const user = await requestUser(c as unknown as Context<AppEnv>);
  if (!user) return fail(c, 401, "Log in (or send the socket token as Authorization: Bearer) to use the rooms API.");
  if (c.req.method !== "GET" && c.req.method !== "DELETE") {
    if (!/^application\/json\b/i.test(c.req.header("Content-Type") ?? "")) {
      return fail(c, 415, "Send a JSON body with Content-Type: application/json.");
    }
  }
  const origin = c.req.header("Origin");
  if (
    c.req.method !== "GET" &&
    origin !== undefined &&
    !isAllowedOrigin(origin, c.req.url, c.var.config.allowedOrigins)
  ) {
    return fail(c, 403, `Origin ${origin} may not change rooms here.`);
  }
  c.set("user", user);
  c.set("identity", { id: user.id, username: user.username });
  await next();
});

roomsApiRoutes.post("/api/rooms", async (c) => {
  const body = await jsonBody(c);
  if (!body) return fail(c, 400, "The body must be a JSON object.");
  const identity = c.var.identity;
  if (body.kind === "public") {
    if (!isRoomName(body.name)) return fail(c, 422, "name must be 1 to 64 of A-Z a-z 0-9 _ -.");
    const created = await roomStub(c.env, body.name).create({
      kind: "public",
      title: null,
      dmPair: null,
      creator: identity,
    });
    return answer(c, created, (room) => ({ room }), 201);
  }
  if (body.kind === "private") {
    const title = checkTitle(body.title, true);
    if (!title.ok) return fail(c, 422, `title ${title.error}`);
    const id = await mintPrivateRoomId(c.env);
    const created = await roomStub(c.env, id).create({
      kind: "private",
      title: title.value,
      dmPair: null,
      creator: identity,
    });
    return answer(c, created, (room) => ({ room }), 201);
  }
  return fail(c, 422, 'kind must be "public" or "private" (a direct message: POST /api/dm).');
});

roomsApiRoutes.get("/api/rooms", async (c) => {
  const rooms = await roomsFor(c.var.db, c.var.user.id);
  // Every room's counts in one query; null where the asker has no read position (never joined it).
  const counts = await roomCounts(
    c.var.db,
    c.var.user.id,
    rooms.map((room) => room.id),
  );
  return c.json({
    rooms: rooms.map((room) => ({
      id: room.id,
      kind: room.kind,
      ...(room.kind === "public" ? { name: room.id, title: room.title } : {}),
      ...(room.kind === "private" ? { title: room.title } : {}),
      ...(room.kind === "dm" ? { partner: room.partner } : {}),
      role: room.role,
      post_count: room.postCount,
      last_post_at: room.lastPostAt.toISOString(),
      unread: counts.get(room.id)?.unread ?? null,
      mentions: counts.get(room.id)?.mentions ?? null,
    })),
  });
});

roomsApiRoutes.get("/api/rooms/:id", async (c) => {
  const room = await roomOf(c);
  if (!room) return fail(c, 404, NO_SUCH_ROOM);
  return answer(c, await room.details(c.var.identity), (details) => details);
});

/**
 * Renames the room (the owner), and sets slow mode and read-only (owners and moderators): every field is
 * checked before any is applied; a rename refused applies nothing. Answers the room and its moderation.
 */
roomsApiRoutes.patch("/api/rooms/:id", async (c) => {
  const room = await roomOf(c);
  if (!room) return fail(c, 404, NO_SUCH_ROOM);
  const body = (await jsonBody(c)) ?? {};
  const changes = modesFrom(body);
  if (!("title" in body) && changes.ok && Object.keys(changes.modes).length === 0) {
    return fail(c, 422, 'Send {"title": …}, {"slow_mode_seconds": …} or {"read_only": …} to change the room.');
  }
  if (!changes.ok) return fail(c, 422, changes.error);
  const identity = c.var.identity;
  if ("title" in body) {
    const renamed = await room.rename(identity, body.title);
    if (!renamed.ok) return fail(c, renamed.status, renamed.error);
  }
  if (Object.keys(changes.modes).length > 0) {
    const set = await room.setModes(identity, changes.modes);
    if (!set.ok) return fail(c, set.status, set.error);
  }
  return answer(c, await room.details(identity), ({ room: view, moderation }) => ({ room: view, moderation }));
});

/** Joining a public room's members: it then shows among your rooms. Leaving: DELETE your membership. */
roomsApiRoutes.post("/api/rooms/:id/join", async (c) => {
  const room = await roomOf(c);
  if (!room) return fail(c, 404, NO_SUCH_ROOM);
  return answer(c, await room.joinPublic(c.var.identity), (joined) => ({ room: joined }));
});

roomsApiRoutes.post("/api/rooms/:id/members", async (c) => {
  const room = await roomOf(c);
  if (!room) return fail(c, 404, NO_SUCH_ROOM);
  const body = await jsonBody(c);
  if (!body) return fail(c, 400, "The body must be a JSON object.");
  const role = body.role ?? "member";
  if (!isRole(role)) return fail(c, 422, 'role must be "member" or "moderator".');
  const target = await userNamed(c, body.username);
  if (!target.ok) return target.response;
  return answer(c, await room.addMember(c.var.identity, target.identity, role), (member) => ({ member }), 201);
});

roomsApiRoutes.patch("/api/rooms/:id/members/:username", async (c) => {
  const room = await roomOf(c);
  if (!room) return fail(c, 404, NO_SUCH_ROOM);
  const body = await jsonBody(c);
  if (!body || !isRole(body.role)) return fail(c, 422, 'role must be "owner", "moderator" or "member".');
  const target = await userNamed(c, c.req.param("username"));
  if (!target.ok) return target.response;
  return answer(c, await room.setRole(c.var.identity, target.identity.id, body.role), (member) => ({ member }));
});

roomsApiRoutes.delete("/api/rooms/:id/members/:username", async (c) => {
  const room = await roomOf(c);
  if (!room) return fail(c, 404, NO_SUCH_ROOM);
  const target = await userNamed(c, c.req.param("username"));
  if (!target.ok) return target.response;
  const removed = await room.removeMember(c.var.identity, target.identity.id);
  return removed.ok ? c.body(null, 204) : fail(c, removed.status, removed.error);
});

roomsApiRoutes.post("/api/rooms/:id/invites", async (c) => {
  const room = await roomOf(c);
  if (!room) return fail(c, 404, NO_SUCH_ROOM);
  const body = await jsonBody(c);
  if (!body) return fail(c, 400, "The body must be a JSON object.");
  const seconds = body.expires_in_seconds;
  const uses = body.max_uses;
  const { minSeconds, maxSeconds, maxUses } = INVITE_LIMITS;
  if (!Number.isInteger(seconds) || (seconds as number) < minSeconds || (seconds as number) > maxSeconds) {
    return fail(c, 422, `expires_in_seconds must be a whole number from ${minSeconds} to ${maxSeconds}.`);
  }
  if (!Number.isInteger(uses) || (uses as number) < 1 || (uses as number) > maxUses) {
    return fail(c, 422, `max_uses must be a whole number from 1 to ${maxUses}.`);
  }
  const created = await room.createInvite(c.var.identity, seconds as number, uses as number);
  if (!created.ok) return fail(c, created.status, created.error);
  const { invite, secret } = created.value;
  const url = new URL(`/invites/${c.req.param("id")}.${secret}`, c.req.url).toString();
  return c.json({ invite: { ...invite, url } }, 201);
});

roomsApiRoutes.get("/api/rooms/:id/invites", async (c) => {
  const room = await roomOf(c);
  if (!room) return fail(c, 404, NO_SUCH_ROOM);
  return answer(c, await room.invites(c.var.identity), (invites) => ({ invites }));
});

roomsApiRoutes.delete("/api/rooms/:id/invites/:invite", async (c) => {
  const room = await roomOf(c);
  if (!room) return fail(c, 404, NO_SUCH_ROOM);
  const revoked = await room.revokeInvite(c.var.identity, c.req.param("invite"));
  return revoked.ok ? c.body(null, 204) : fail(c, revoked.status, revoked.error);
});

roomsApiRoutes.post("/api/invites/:token", async (c) => {
  const accepted = await acceptInvite(c.env, c.var.identity, c.req.param("token"));
  return answer(c, accepted, (room) => ({ room }));
});

roomsApiRoutes.post("/api/dm", async (c) => {
  const body = await jsonBody(c);
  if (!body) return fail(c, 400, "The body must be a JSON object.");
  const partner = await userNamed(c, body.username);
  if (!partner.ok) return partner.response;
  return answer(c, await openDirectMessage(c.env, c.var.db, c.var.identity, partner.identity), (room) => ({ room }));
});

roomsApiRoutes.route("/", moderationApiRoutes);

function isRole(value: unknown): value is Role {
  return typeof value === "string" && (ROLES as readonly string[]).includes(value);
}
