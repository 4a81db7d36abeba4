/**
 * Moderating a room: muting, banning, slow mode and read-only, and reading the moderation log, decided by
 * the room at the moment of the action with governance's rank rules (owners and moderators only; nobody
 * acts on an equal or higher role; a moderator acts on members, and on anyone in a public room who is not
 * a member). Each action is written to the room's storage and its log before it is answered, and takes
 * effect on every live socket at once.
 */
import type { Identity } from "../access/identity";
import { canSee, type GovernedRoom, notFound, type Outcome, type Refusal, withArticle } from "./governance";
import { RANK, type Role } from "./membership";
import {
  type Ban,
  isExempt,
  type LogDetails,
  type LogEntry,
  type Moderation,
  type Mute,
  type RoomModes,
} from "./moderation";

/** A ban whose deletions of recent posts D1 did not confirm in time: the ban itself stands. */
export const BAN_DELETIONS_PENDING =
  "The ban holds, but deleting their recent posts is not finished; try the ban again in a moment.";

/** How far back a ban with `delete_recent_posts` reaches. */
export const DELETE_RECENT_POSTS_MS = 24 * 60 * 60 * 1000;

/** What moderating needs of the live room besides governance's parts. */
export interface ModeratedRoom extends GovernedRoom {
  readonly moderation: Moderation;
  /** Tells `userId`'s joined channels (everyone's, without it) what now applies to them: the `moderation` push. */
  pushModeration(userId?: number): void;
  /**
   * Deletes the posts `userId` made here since `sinceMs`, as deleted by `by` (a ban's `delete_recent_posts`).
   * Post deletion itself belongs to the post path (delete_post); this is the one place a ban asks for it.
   */
  deleteRecentPostsBy(userId: number, sinceMs: number, by: Identity): Promise<void>;
  log(where: string, problem: unknown): void;
}

interface PersonView {
  id: number;
  username: string;
}

export interface MuteView {
  user: PersonView;
  until: string;
  by: PersonView;
  at: string;
}

export interface BanView {
  user: PersonView;
  by: PersonView;
  at: string;
  delete_recent_posts: boolean;
}

export interface LogEntryView {
  id: number;
  at: string;
  action: LogEntry["action"];
  actor: PersonView;
  target: PersonView | null;
  details: LogDetails;
}

/** What the room's details add for moderation: its modes to all, its mutes and bans to its moderators. */
export interface ModerationView {
  slow_mode_seconds: number;
  read_only: boolean;
  mutes?: MuteView[];
  bans?: BanView[];
}

export const NOT_A_MODERATOR = "Only the owner and moderators moderate this room.";

export async function mute(
  room: ModeratedRoom,
  actor: Identity,
  target: Identity,
  seconds: number,
): Promise<Outcome<MuteView>> {
  const refused = mayActOn(room, actor, target, "mute");
  if (refused) return refused;
  const at = Date.now();
  const muted: Mute = { user: target, until: at + seconds * 1000, by: actor, at };
  room.moderation.mute(muted);
  room.moderation.record({
    at,
    action: "mute",
    actor,
    target,
    details: { seconds, until: new Date(muted.until).toISOString() },
  });
  room.pushModeration(target.id);
  return { ok: true, value: muteView(muted) };
}

export function unmute(room: ModeratedRoom, actor: Identity, target: Identity): Outcome<null> {
  const refused = mayActOn(room, actor, target, "unmute");
  if (refused) return refused;
  if (!room.moderation.muteOf(target.id))
    return { ok: false, status: 404, error: `@${target.username} is not muted here.` };
  room.moderation.unmute(target.id);
  room.moderation.record({ at: Date.now(), action: "unmute", actor, target, details: {} });
  room.pushModeration(target.id);
  return { ok: true, value: null };
}

/**
 * Bans `target`: their membership ends (whatever the kind of room, so a banned moderator keeps no power),
 * their channels here end on every socket at once (`membership_ended {reason: "banned"}`, then
 * `phx_close`), and they cannot join, post or read here until unbanned. Banning someone banned changes nothing.
 */
export async function ban(
  room: ModeratedRoom,
  actor: Identity,
  target: Identity,
  deleteRecentPosts: boolean,
): Promise<Outcome<BanView>> {
  const refused = mayActOn(room, actor, target, "ban");
  if (refused) return refused;
  const existing = room.moderation.banOf(target.id);
  if (existing) return { ok: true, value: banView(existing) };
  const at = Date.now();
  const { membership, moderation } = room;
  const banned: Ban = { user: target, role: membership.roleOf(target.id) ?? null, by: actor, at, deleteRecentPosts };
  moderation.ban(banned);
  if (membership.member(target.id)) membership.remove(target.id);
  moderation.record({ at, action: "ban", actor, target, details: { delete_recent_posts: deleteRecentPosts } });
  // Before anything awaits: the ban holds from this moment on every socket.
  room.cutOff(target.id, "banned");
  await room.mirror();
  if (deleteRecentPosts) {
    try {
      await room.deleteRecentPostsBy(target.id, at - DELETE_RECENT_POSTS_MS, actor);
    } catch (problem) {
      // The ban holds; the deletions logged so far reach D1 with the room's next copy.
      room.log("Room:ban delete_recent_posts", problem);
      return { ok: false, status: 503, error: BAN_DELETIONS_PENDING };
    }
  }
  return { ok: true, value: banView(banned) };
}

/** Lifts a ban: they may join (a public room) or be added and invited again (a private room). */
export async function unban(room: ModeratedRoom, actor: Identity, target: Identity): Promise<Outcome<null>> {
  const refused = mayActOn(room, actor, target, "unban");
  if (refused) return refused;
  if (!room.moderation.unban(target.id)) {
    return { ok: false, status: 404, error: `@${target.username} is not banned here.` };
  }
  room.moderation.record({ at: Date.now(), action: "unban", actor, target, details: {} });
  await room.mirror();
  return { ok: true, value: null };
}

/** Slow mode and read-only: each change is a log entry, and every joined member is told at once. */
export function setModes(room: ModeratedRoom, actor: Identity, patch: Partial<RoomModes>): Outcome<ModerationView> {
  const refused = mayModerate(room, actor);
  if (refused) return refused;
  const { moderation } = room;
  const before = moderation.modes;
  const after = { ...before, ...patch };
  const at = Date.now();
  if (after.slowModeSeconds !== before.slowModeSeconds) {
    moderation.record({ at, action: "slow_mode", actor, target: null, details: { seconds: after.slowModeSeconds } });
  }
  if (after.readOnly !== before.readOnly) {
    moderation.record({ at, action: "read_only", actor, target: null, details: { on: after.readOnly } });
  }
  if (after.slowModeSeconds !== before.slowModeSeconds || after.readOnly !== before.readOnly) {
    moderation.setModes(after);
    room.pushModeration();
  }
  return { ok: true, value: moderationView(room, actor.id) };
}

export function moderationLog(
  room: ModeratedRoom,
  actor: Identity,
  query: { before?: number | undefined; limit: number },
): Outcome<LogEntryView[]> {
  const refused = mayModerate(room, actor, "Only the owner and moderators read the moderation log.");
  if (refused) return refused;
  return { ok: true, value: room.moderation.log(query).map(logEntryView) };
}

/** The room's modes, and to its owner and moderators the mutes and bans too. */
export function moderationView(room: ModeratedRoom, viewerId: number): ModerationView {
  const { moderation, membership } = room;
  const { slowModeSeconds, readOnly } = moderation.modes;
  const view: ModerationView = { slow_mode_seconds: slowModeSeconds, read_only: readOnly };
  if (isExempt(membership.roleOf(viewerId))) {
    view.mutes = moderation.mutes().map(muteView);
    view.bans = moderation.bans().map(banView);
  }
  return view;
}

/** Owners and moderators of a room that has them (a direct message has none). */
function mayModerate(room: ModeratedRoom, actor: Identity, message = NOT_A_MODERATOR): Refusal | undefined {
  const record = room.membership.record;
  if (!record || !canSee(room, actor.id)) return notFound();
  if (record.kind === "dm") return { ok: false, status: 403, error: "A direct message has no moderators." };
  if (!isExempt(room.membership.roleOf(actor.id))) return { ok: false, status: 403, error: message };
  return undefined;
}

/**
 * The rank rules: nobody acts on themselves or on an equal or higher role. Someone banned is held to the
 * role they had; in a private room only members can be muted or banned, in a public room anyone.
 */
function mayActOn(
  room: ModeratedRoom,
  actor: Identity,
  target: Identity,
  action: "mute" | "unmute" | "ban" | "unban",
): Refusal | undefined {
  const refused = mayModerate(room, actor);
  if (refused) return refused;
  if (target.id === actor.id) return { ok: false, status: 403, error: `You cannot ${action} yourself.` };
  const { membership, moderation } = room;
  const record = membership.record;
  const member = membership.member(target.id);
  const ban = moderation.banOf(target.id);
  if (!member && !ban && record?.kind !== "public" && (action === "mute" || action === "ban")) {
    return { ok: false, status: 404, error: "That person is not a member of this room." };
  }
  const actorRole = membership.roleOf(actor.id) as Role;
  const targetRole = member?.role ?? ban?.role ?? null;
  if (targetRole !== null && RANK[targetRole] >= RANK[actorRole]) {
    return {
      ok: false,
      status: 403,
      error: `${withArticle(actorRole, true)} cannot ${action} ${withArticle(targetRole)}.`,
    };
  }
  return undefined;
}

function person(identity: Identity): PersonView {
  return { id: identity.id, username: identity.username };
}

function muteView(muted: Mute): MuteView {
  return {
    user: person(muted.user),
    until: new Date(muted.until).toISOString(),
    by: person(muted.by),
    at: new Date(muted.at).toISOString(),
  };
}

function banView(banned: Ban): BanView {
  return {
    user: person(banned.user),
    by: person(banned.by),
    at: new Date(banned.at).toISOString(),
    delete_recent_posts: banned.deleteRecentPosts,
  };
}

function logEntryView(entry: LogEntry): LogEntryView {
  return {
    id: entry.id,
    at: new Date(entry.at).toISOString(),
    action: entry.action,
    actor: person(entry.actor),
    target: entry.target ? person(entry.target) : null,
    details: entry.details,
  };
}
