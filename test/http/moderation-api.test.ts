/**
 * The rooms API's moderation (docs/rooms.md#moderation) through the real worker, Rooms and D1: mutes,
 * bans, slow mode and read-only, the moderation log; who may do each (the rank rules), every refusal, and
 * D1's mirror of the bans. Callers are apps with a socket token and logged-in browsers (cookie, JSON).
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { roomBans } from "../../src/db/schema";
import { roomStub } from "../../src/realtime/room/client";
import { type Answer, type ApiClient, addMembers, bearer, browser, createRoom, expectMirrored } from "../helpers/rooms";
import { db } from "../helpers/users";

const NO_SUCH_ROOM = "There is no such room.";
const NOT_A_MODERATOR = "Only the owner and moderators moderate this room.";
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

function error(answer: Answer): { status: number; error: unknown } {
  return { status: answer.status, error: answer.body?.error };
}

function person(client: ApiClient) {
  return { id: client.user.id, username: client.username };
}

/** A private room with an owner, a moderator and two members. */
async function staffedRoom(prefix: string) {
  const owner = await bearer(`${prefix}_owner`);
  const moderator = await browser(`${prefix}_mod`);
  const member = await bearer(`${prefix}_member`);
  const other = await bearer(`${prefix}_other`);
  const room = await createRoom(owner, { kind: "private", title: `${prefix} room` });
  await addMembers(owner, room.id, [[moderator, "moderator"], member, other]);
  return { owner, moderator, member, other, id: room.id };
}

async function bansInD1(room: string): Promise<number[]> {
  const rows = await db.select().from(roomBans).where(eq(roomBans.room, room));
  return rows.map((row) => row.userId).sort((a, b) => a - b);
}

describe("POST /api/rooms/:id/mutes and DELETE …/mutes/:username", () => {
  it("a moderator mutes a member for a time (cookie or token); the answer and the room's details show until when; unmuting ends it", async () => {
    const { owner, moderator, member, id } = await staffedRoom("mu");
    const before = Date.now();
    const muted = await moderator.post(`/api/rooms/${id}/mutes`, { username: `@${member.username}`, seconds: 3600 });
    expect(muted.status, muted.text).toBe(201);
    expect(muted.body).toEqual({
      mute: {
        user: person(member),
        until: expect.stringMatching(ISO_TIME),
        by: person(moderator),
        at: expect.stringMatching(ISO_TIME),
      },
    });
    const until = Date.parse(muted.body.mute.until);
    expect(until - before).toBeGreaterThanOrEqual(3_600_000);
    expect(until - Date.now()).toBeLessThanOrEqual(3_600_000);

    // Moderators see the mutes; members see only the modes.
    expect((await owner.get(`/api/rooms/${id}`)).body.moderation).toEqual({
      slow_mode_seconds: 0,
      read_only: false,
      mutes: [muted.body.mute],
      bans: [],
    });
    expect((await member.get(`/api/rooms/${id}`)).body.moderation).toEqual({ slow_mode_seconds: 0, read_only: false });

    // Muting again sets a new end.
    const again = await owner.post(`/api/rooms/${id}/mutes`, { username: member.username, seconds: 60 });
    expect(again.status).toBe(201);
    expect(Date.parse(again.body.mute.until)).toBeLessThan(until);

    expect((await moderator.delete(`/api/rooms/${id}/mutes/${member.username}`)).status).toBe(204);
    expect((await owner.get(`/api/rooms/${id}`)).body.moderation.mutes).toEqual([]);
    expect(error(await moderator.delete(`/api/rooms/${id}/mutes/${member.username}`))).toEqual({
      status: 404,
      error: `@${member.username} is not muted here.`,
    });
  });

  it("refuses a mute of 59 s, 28 days and a second, 0, a fraction, text or nothing with 422, muting nobody; takes 60 s and 28 days", async () => {
    const { owner, member, other, id } = await staffedRoom("mubad");
    for (const seconds of [59, 2_419_201, 0, 90.5, "3600", undefined]) {
      expect(
        error(await owner.post(`/api/rooms/${id}/mutes`, { username: member.username, seconds })),
        String(seconds),
      ).toEqual({
        status: 422,
        error: "seconds must be a whole number from 60 (1 minute) to 2419200 (28 days).",
      });
    }
    expect((await owner.get(`/api/rooms/${id}`)).body.moderation.mutes).toEqual([]);
    expect((await owner.post(`/api/rooms/${id}/mutes`, { username: member.username, seconds: 60 })).status).toBe(201);
    expect((await owner.post(`/api/rooms/${id}/mutes`, { username: other.username, seconds: 2_419_200 })).status).toBe(
      201,
    );
  });
});
describe("the rank rules", () => {
  it("nobody acts on an equal or higher role, or on themselves; members moderate nobody; a direct message has no moderators", async () => {
    const { owner, moderator, member, other, id } = await staffedRoom("rank");
    const second = await bearer("rank_mod2");
    await addMembers(owner, id, [[second, "moderator"]]);
    const mute = (actor: ApiClient, target: ApiClient) =>
      actor.post(`/api/rooms/${id}/mutes`, { username: target.username, seconds: 600 });
    const ban = (actor: ApiClient, target: ApiClient) =>
      actor.post(`/api/rooms/${id}/bans`, { username: target.username });

    expect(error(await mute(moderator, second))).toEqual({
      status: 403,
      error: "A moderator cannot mute a moderator.",
    });
    expect(error(await ban(moderator, owner))).toEqual({ status: 403, error: "A moderator cannot ban an owner." });
    expect(error(await ban(moderator, moderator))).toEqual({ status: 403, error: "You cannot ban yourself." });
    for (const [actor, target] of [
      [member, other],
      [member, owner],
    ] as const) {
      expect(error(await mute(actor, target))).toEqual({ status: 403, error: NOT_A_MODERATOR });
      expect(error(await ban(actor, target))).toEqual({ status: 403, error: NOT_A_MODERATOR });
      expect(error(await actor.patch(`/api/rooms/${id}`, { read_only: true }))).toEqual({
        status: 403,
        error: NOT_A_MODERATOR,
      });
    }
    // The owner acts on moderators; a moderator on members.
    expect((await mute(owner, second)).status).toBe(201);
    expect(error(await moderator.delete(`/api/rooms/${id}/mutes/${second.username}`))).toEqual({
      status: 403,
      error: "A moderator cannot unmute a moderator.",
    });
    expect((await mute(moderator, member)).status).toBe(201);
    // A banned moderator keeps the rank they had: only the owner lifts it.
    expect((await ban(owner, second)).status).toBe(201);
    expect(error(await moderator.delete(`/api/rooms/${id}/bans/${second.username}`))).toEqual({
      status: 403,
      error: "A moderator cannot unban a moderator.",
    });
    expect((await owner.delete(`/api/rooms/${id}/bans/${second.username}`)).status).toBe(204);

    // Someone not in a private room cannot be muted or banned there; to an outsider the room does not exist.
    const outsider = await bearer("rank_outsider");
    expect(error(await mute(owner, outsider))).toEqual({
      status: 404,
      error: "That person is not a member of this room.",
    });
    expect(error(await mute(outsider, member))).toEqual({ status: 404, error: NO_SUCH_ROOM });
    expect(error(await outsider.get(`/api/rooms/${id}/moderation-log`))).toEqual({ status: 404, error: NO_SUCH_ROOM });

    const dm = await owner.post("/api/dm", { username: member.username });
    expect(dm.status).toBe(200);
    expect(error(await owner.post(`/api/rooms/${dm.body.room.id}/bans`, { username: member.username }))).toEqual({
      status: 403,
      error: "A direct message has no moderators.",
    });
    expect(error(await owner.patch(`/api/rooms/${dm.body.room.id}`, { slow_mode_seconds: 10 }))).toEqual({
      status: 403,
      error: "A direct message has no moderators.",
    });
  });

  it("in a public room a moderator acts on anyone who is not a member, and a passer-by on nobody", async () => {
    const owner = await bearer("pubrank_owner");
    const moderator = await bearer("pubrank_mod");
    const passer = await bearer("pubrank_passer");
    await createRoom(owner, { kind: "public", name: "pubrank" });
    await addMembers(owner, "pubrank", [[moderator, "moderator"]]);
    expect((await moderator.post("/api/rooms/pubrank/mutes", { username: passer.username, seconds: 60 })).status).toBe(
      201,
    );
    expect((await moderator.post("/api/rooms/pubrank/bans", { username: passer.username })).status).toBe(201);
    expect(error(await passer.post("/api/rooms/pubrank/bans", { username: moderator.username }))).toEqual({
      status: 403,
      error: NOT_A_MODERATOR,
    });
  });
});

describe("POST /api/rooms/:id/bans and DELETE …/bans/:username", () => {
  it("bans a member: their membership ends, D1 mirrors it, and no invite, addition or join brings them back until unbanned", async () => {
    const { owner, moderator, member, id } = await staffedRoom("ban");
    const banned = await moderator.post(`/api/rooms/${id}/bans`, {
      username: member.username,
      delete_recent_posts: true,
    });
    expect(banned.status, banned.text).toBe(201);
    expect(banned.body).toEqual({
      ban: {
        user: person(member),
        by: person(moderator),
        at: expect.stringMatching(ISO_TIME),
        delete_recent_posts: true,
      },
    });
    await expectMirrored(owner, id, [
      [owner.username, "owner"],
      [moderator.username, "moderator"],
      [`ban_other`, "member"],
    ]);
    expect(await bansInD1(id)).toEqual([member.user.id]);
    // Banning again changes nothing.
    const again = await owner.post(`/api/rooms/${id}/bans`, { username: member.username });
    expect(again.body).toEqual(banned.body);
    expect((await owner.get(`/api/rooms/${id}`)).body.moderation.bans).toEqual([banned.body.ban]);

    expect(error(await owner.post(`/api/rooms/${id}/members`, { username: member.username }))).toEqual({
      status: 409,
      error: `@${member.username} is banned from this room: unban them first.`,
    });
    const invite = await owner.post(`/api/rooms/${id}/invites`, { expires_in_seconds: 3600, max_uses: 1 });
    const token = new URL(invite.body.invite.url).pathname.slice("/invites/".length);
    expect(error(await member.post(`/api/invites/${token}`))).toEqual({
      status: 403,
      error: "You are banned from this room.",
    });
    // The link was not used up by the refusal.
    expect((await owner.get(`/api/rooms/${id}/invites`)).body.invites[0].uses).toBe(0);

    expect((await moderator.delete(`/api/rooms/${id}/bans/${member.username}`)).status).toBe(204);
    expect(await bansInD1(id)).toEqual([]);
    expect(error(await moderator.delete(`/api/rooms/${id}/bans/${member.username}`))).toEqual({
      status: 404,
      error: `@${member.username} is not banned here.`,
    });
    expect((await member.post(`/api/invites/${token}`)).status).toBe(200);
  });

  it("bans from a public room: its page, history and join list refuse them (403)", async () => {
    const owner = await bearer("pubban_owner");
    const banned = await browser("pubban_member");
    await createRoom(owner, { kind: "public", name: "pubban" });
    expect((await banned.post("/api/rooms/pubban/join")).status).toBe(200);
    expect((await owner.post("/api/rooms/pubban/bans", { username: banned.username })).status).toBe(201);
    await expectMirrored(owner, "pubban", [[owner.username, "owner"]]);
    expect(error(await banned.post("/api/rooms/pubban/join"))).toEqual({
      status: 403,
      error: "You are banned from this room.",
    });
    if (banned.auth.kind !== "cookie") throw new Error("a browser");
    const page = await banned.auth.visitor.get("/rooms/pubban");
    expect(page.status).toBe(403);
    expect(page.html).toContain("You are banned from this room.");
    expect(error(await banned.get("/rooms/pubban/posts"))).toEqual({
      status: 403,
      error: "You are banned from this room.",
    });
  });

  it("refuses delete_recent_posts that is not true or false (422), banning nobody", async () => {
    const { owner, member, id } = await staffedRoom("banbad");
    for (const value of ["yes", 1, null]) {
      expect(
        error(await owner.post(`/api/rooms/${id}/bans`, { username: member.username, delete_recent_posts: value })),
      ).toEqual({
        status: 422,
        error: "delete_recent_posts must be true or false.",
      });
    }
    expect(error(await owner.post(`/api/rooms/${id}/bans`, { username: "ghost_of_nobody" }))).toEqual({
      status: 422,
      error: "There is nobody called @ghost_of_nobody.",
    });
    expect((await owner.get(`/api/rooms/${id}`)).body.moderation.bans).toEqual([]);
  });

  it("a ban D1 was not told of is mirrored by the room's alarm", async () => {
    const { owner, member, id } = await staffedRoom("banalarm");
    expect((await owner.post(`/api/rooms/${id}/bans`, { username: member.username })).status).toBe(201);
    // As if the copy to D1 had failed: D1 lacks the row, and the room still has it to send.
    await db.delete(roomBans).where(and(eq(roomBans.room, id), eq(roomBans.userId, member.user.id)));
    await runInDurableObject(roomStub(env, id), (_room, state) => {
      state.storage.kv.put("bansUnmirrored", [member.user.id]);
    });
    expect(await bansInD1(id)).toEqual([]);
    await runInDurableObject(roomStub(env, id), (_room, state) => state.storage.setAlarm(Date.now()));
    await runDurableObjectAlarm(roomStub(env, id));
    expect(await bansInD1(id)).toEqual([member.user.id]);
  });
});

describe("PATCH /api/rooms/:id: slow mode and read-only", () => {
  it("owners and moderators set them; everyone sees them in the room's details", async () => {
    const { owner, moderator, member, id } = await staffedRoom("modes");
    const set = await moderator.patch(`/api/rooms/${id}`, { slow_mode_seconds: 21_600, read_only: true });
    expect(set.status, set.text).toBe(200);
    expect(set.body.moderation).toEqual({ slow_mode_seconds: 21_600, read_only: true, mutes: [], bans: [] });
    expect(set.body.room).toMatchObject({ id, role: "moderator" });
    expect((await member.get(`/api/rooms/${id}`)).body.moderation).toEqual({
      slow_mode_seconds: 21_600,
      read_only: true,
    });
    // A title and a mode together: the owner's rename and the mode both apply.
    const both = await owner.patch(`/api/rooms/${id}`, { title: "Quiet now", slow_mode_seconds: 0 });
    expect(both.body.room.title).toBe("Quiet now");
    expect(both.body.moderation).toMatchObject({ slow_mode_seconds: 0, read_only: true });
    // A moderator's rename is refused, and then nothing applies.
    expect(error(await moderator.patch(`/api/rooms/${id}`, { title: "Mine", read_only: false }))).toEqual({
      status: 403,
      error: "Only the owner renames the room.",
    });
    expect((await member.get(`/api/rooms/${id}`)).body.moderation.read_only).toBe(true);
  });

  it("refuses a slow mode or read-only of the wrong kind, or a body that changes nothing, with 422, changing nothing", async () => {
    const { owner, id } = await staffedRoom("modesbad");
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ slow_mode_seconds: -1 }, "slow_mode_seconds must be a whole number from 0 (off) to 21600 (6 hours)."],
      [{ slow_mode_seconds: 21_601 }, "slow_mode_seconds must be a whole number from 0 (off) to 21600 (6 hours)."],
      [{ slow_mode_seconds: 1.5 }, "slow_mode_seconds must be a whole number from 0 (off) to 21600 (6 hours)."],
      [{ slow_mode_seconds: "10" }, "slow_mode_seconds must be a whole number from 0 (off) to 21600 (6 hours)."],
      [{ slow_mode_seconds: null }, "slow_mode_seconds must be a whole number from 0 (off) to 21600 (6 hours)."],
      [{ read_only: "yes" }, "read_only must be true or false."],
      [{ read_only: 1, title: "Fine title" }, "read_only must be true or false."],
      [{}, 'Send {"title": …}, {"slow_mode_seconds": …} or {"read_only": …} to change the room.'],
    ];
    for (const [body, message] of cases) {
      expect(error(await owner.patch(`/api/rooms/${id}`, body)), JSON.stringify(body)).toEqual({
        status: 422,
        error: message,
      });
    }
    const seen = (await owner.get(`/api/rooms/${id}`)).body;
    expect(seen.moderation).toMatchObject({ slow_mode_seconds: 0, read_only: false });
    expect(seen.room.title).not.toBe("Fine title");
  });
});

describe("GET /api/rooms/:id/moderation-log", () => {
  it("lists who did what to whom and when, newest first, with the details; pages back with before and limit", async () => {
    const { owner, moderator, member, other, id } = await staffedRoom("log");
    await moderator.post(`/api/rooms/${id}/mutes`, { username: member.username, seconds: 600 });
    await moderator.delete(`/api/rooms/${id}/mutes/${member.username}`);
    await owner.patch(`/api/rooms/${id}`, { slow_mode_seconds: 30, read_only: true });
    await owner.post(`/api/rooms/${id}/bans`, { username: other.username, delete_recent_posts: true });
    await owner.delete(`/api/rooms/${id}/bans/${other.username}`);

    const log = await moderator.get(`/api/rooms/${id}/moderation-log`);
    expect(log.status, log.text).toBe(200);
    const entries = log.body.entries as Array<Record<string, unknown>>;
    expect(entries.map(({ action, actor, target, details }) => ({ action, actor, target, details }))).toEqual([
      { action: "unban", actor: person(owner), target: person(other), details: {} },
      { action: "ban", actor: person(owner), target: person(other), details: { delete_recent_posts: true } },
      { action: "read_only", actor: person(owner), target: null, details: { on: true } },
      { action: "slow_mode", actor: person(owner), target: null, details: { seconds: 30 } },
      { action: "unmute", actor: person(moderator), target: person(member), details: {} },
      {
        action: "mute",
        actor: person(moderator),
        target: person(member),
        details: { seconds: 600, until: expect.stringMatching(ISO_TIME) },
      },
    ]);
    for (const entry of entries) expect(entry.at).toMatch(ISO_TIME);
    const ids = entries.map((entry) => entry.id as number);
    expect([...ids].sort((a, b) => b - a)).toEqual(ids);

    const page = await owner.get(`/api/rooms/${id}/moderation-log?before=${ids[1]}&limit=2`);
    expect(page.body.entries.map((entry: { id: number }) => entry.id)).toEqual(ids.slice(2, 4));
  });

  it("is read by the owner and moderators only: a member and a passer-by get 403, a malformed query 400", async () => {
    const { owner, member, id } = await staffedRoom("logread");
    expect(error(await member.get(`/api/rooms/${id}/moderation-log`))).toEqual({
      status: 403,
      error: "Only the owner and moderators read the moderation log.",
    });
    const passer = await bearer("logread_passer");
    await createRoom(owner, { kind: "public", name: "logread_pub" });
    expect(error(await passer.get("/api/rooms/logread_pub/moderation-log"))).toEqual({
      status: 403,
      error: "Only the owner and moderators read the moderation log.",
    });
    for (const query of ["before=0", "before=-1", "before=x", "limit=0", "limit=201", "limit=1.5"]) {
      const answered = await owner.get(`/api/rooms/${id}/moderation-log?${query}`);
      expect(answered.status, query).toBe(400);
      expect(answered.body.error, query).toBe(
        query.startsWith("before")
          ? "before must be a positive whole number (an entry's id)."
          : "limit must be a whole number from 1 to 200.",
      );
    }
  });
});
