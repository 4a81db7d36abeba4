/**
 * The rooms API's moderation (docs/rooms.md#moderation): mutes, bans, the moderation log, and the room's
 * modes that `PATCH /api/rooms/<id>` changes (slow mode, read-only). Behind the rooms API's guard (who asks,
 * JSON only, allowed Origins); each call is decided by the room it names (room/moderation-actions.ts).
 */
import { Hono } from "hono";
import type { RoomModes } from "../../realtime/room/client";
import { NO_SUCH_ROOM } from "../../realtime/room/client";
import { MUTE_SECONDS, SLOW_MODE_MAX_SECONDS } from "../../shared/room-contract";
import { type ApiEnv, answer, answerEmpty, fail, jsonBody, roomOf, userNamed } from "./api-request";

/** A page of the moderation log: 50 entries unless asked, at most 200. */
export const LOG_PAGE = { default: 50, max: 200 } as const;

export const moderationApiRoutes = new Hono<ApiEnv>();

moderationApiRoutes.post("/api/rooms/:id/mutes", async (c) => {
  const room = await roomOf(c);
  if (!room) return fail(c, 404, NO_SUCH_ROOM);
  const body = await jsonBody(c);
  if (!body) return fail(c, 400, "The body must be a JSON object.");
  const { seconds } = body;
  if (!isWholeNumber(seconds) || seconds < MUTE_SECONDS.min || seconds > MUTE_SECONDS.max) {
    return fail(
      c,
      422,
      `seconds must be a whole number from ${MUTE_SECONDS.min} (1 minute) to ${MUTE_SECONDS.max} (28 days).`,
    );
  }
  const target = await userNamed(c, body.username);
  if (!target.ok) return target.response;
  return answer(c, await room.mute(c.var.identity, target.identity, seconds), (mute) => ({ mute }), 201);
});

moderationApiRoutes.delete("/api/rooms/:id/mutes/:username", async (c) => {
  const room = await roomOf(c);
  if (!room) return fail(c, 404, NO_SUCH_ROOM);
  const target = await userNamed(c, c.req.param("username"));
  if (!target.ok) return target.response;
  return answerEmpty(c, await room.unmute(c.var.identity, target.identity));
});

moderationApiRoutes.post("/api/rooms/:id/bans", async (c) => {
  const room = await roomOf(c);
  if (!room) return fail(c, 404, NO_SUCH_ROOM);
  const body = await jsonBody(c);
  if (!body) return fail(c, 400, "The body must be a JSON object.");
  const deleteRecentPosts = "delete_recent_posts" in body ? body.delete_recent_posts : false;
  if (typeof deleteRecentPosts !== "boolean") return fail(c, 422, "delete_recent_posts must be true or false.");
  const target = await userNamed(c, body.username);
  if (!target.ok) return target.response;
  return answer(c, await room.ban(c.var.identity, target.identity, deleteRecentPosts), (ban) => ({ ban }), 201);
});

moderationApiRoutes.delete("/api/rooms/:id/bans/:username", async (c) => {
  const room = await roomOf(c);
  if (!room) return fail(c, 404, NO_SUCH_ROOM);
  const target = await userNamed(c, c.req.param("username"));
  if (!target.ok) return target.response;
  return answerEmpty(c, await room.unban(c.var.identity, target.identity));
});

/** Newest first; `before=ID` pages back from an entry, `limit` (1–200, 50 by default) entries at a time. */
moderationApiRoutes.get("/api/rooms/:id/moderation-log", async (c) => {
  const room = await roomOf(c);
  if (!room) return fail(c, 404, NO_SUCH_ROOM);
  const before = c.req.query("before");
  const limit = c.req.query("limit");
  if (before !== undefined && !isCount(before, Number.MAX_SAFE_INTEGER)) {
    return fail(c, 400, "before must be a positive whole number (an entry's id).");
  }
  if (limit !== undefined && !isCount(limit, LOG_PAGE.max)) {
    return fail(c, 400, `limit must be a whole number from 1 to ${LOG_PAGE.max}.`);
  }
  const query = { before: before === undefined ? undefined : Number(before), limit: Number(limit ?? LOG_PAGE.default) };
  return answer(c, await room.moderationLog(c.var.identity, query), (entries) => ({ entries }));
});

/**
 * The modes a `PATCH /api/rooms/<id>` body sets (`slow_mode_seconds`, `read_only`), none of them when it
 * names neither, or the 422 saying what is wrong.
 */
export function modesFrom(
  body: Record<string, unknown>,
): { ok: true; modes: Partial<RoomModes> } | { ok: false; error: string } {
  const modes: Partial<RoomModes> = {};
  if ("slow_mode_seconds" in body) {
    const seconds = body.slow_mode_seconds;
    if (!isWholeNumber(seconds) || seconds < 0 || seconds > SLOW_MODE_MAX_SECONDS) {
      return {
        ok: false,
        error: `slow_mode_seconds must be a whole number from 0 (off) to ${SLOW_MODE_MAX_SECONDS} (6 hours).`,
      };
    }
    modes.slowModeSeconds = seconds;
  }
  if ("read_only" in body) {
    if (typeof body.read_only !== "boolean") return { ok: false, error: "read_only must be true or false." };
    modes.readOnly = body.read_only;
  }
  return { ok: true, modes };
}

function isWholeNumber(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value);
}

/** A query parameter that is a whole number from 1 to `max`, written plainly (no sign, no leading zero). */
function isCount(raw: string, max: number): boolean {
  return /^[1-9][0-9]{0,15}$/.test(raw) && Number(raw) <= max;
}
