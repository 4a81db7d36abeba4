/**
 * What a room holds of moderation, in its own storage so that it holds on every socket and survives
 * hibernation, eviction and restarts: its mutes, its bans, its modes (slow mode, read-only), each poster's
 * last post while slow mode is on, and the moderation log. And the one decision every post, edit and typing
 * goes through: {@link speechRefusal}. Who may moderate whom is in moderation-actions.ts.
 */
import type { Identity } from "../access/identity";
import { type Membership, RANK, type Role } from "./membership";

export interface Mute {
  user: Identity;
  /** Milliseconds since the epoch. */
  until: number;
  by: Identity;
  at: number;
}

export interface Ban {
  user: Identity;
  /** Their role when they were banned (null: not a member), which the rank rules still hold them to. */
  role: Role | null;
  by: Identity;
  at: number;
  deleteRecentPosts: boolean;
}

export interface RoomModes {
  /** Seconds between two posts of one member; 0 is off. */
  slowModeSeconds: number;
  /** Only the owner and moderators post. */
  readOnly: boolean;
}

export type ModerationAction = "mute" | "unmute" | "ban" | "unban" | "slow_mode" | "read_only";

/** What else an action said: a mute's seconds and until, a ban's delete_recent_posts, a mode's value. */
export type LogDetails = Record<string, string | number | boolean>;

export interface LogEntry {
  id: number;
  /** Milliseconds since the epoch. */
  at: number;
  action: ModerationAction;
  actor: Identity;
  target: Identity | null;
  details: LogDetails;
}

/**
 * What a post, an edit or a typing sign is. Slow mode counts posts only. `read` (moving one's read
 * position) needs only access to the room: a muted member, or anyone in a read-only room, may mark read.
 */
export type Speech = "post" | "edit" | "typing" | "read";

/** Why the room refuses a member's post, edit or typing now: the reason and fields of the error reply. */
export type SpeechRefusal =
  | { reason: "banned" }
  | { reason: "no such room" }
  | { reason: "muted"; until: string }
  | { reason: "read_only" }
  | { reason: "slow_mode"; retry_after_ms: number };

/** The log keeps this many newest entries. */
export const LOG_KEEP = 5_000;

const MODES_KEY = "moderationModes";
/** Users whose ban D1 may not show yet (a mirror that failed), retried by the alarm. */
const BANS_UNMIRRORED_KEY = "bansUnmirrored";
const NO_MODES: RoomModes = { slowModeSeconds: 0, readOnly: false };

interface MuteRow extends Record<string, SqlStorageValue> {
  user_id: number;
  username: string;
  until: number;
  by_id: number;
  by_username: string;
  at: number;
}

interface BanRow extends Record<string, SqlStorageValue> {
  user_id: number;
  username: string;
  role: string | null;
  by_id: number;
  by_username: string;
  at: number;
  delete_recent_posts: number;
}

interface LogRow extends Record<string, SqlStorageValue> {
  id: number;
  at: number;
  action: string;
  actor_id: number;
  actor_username: string;
  target_id: number | null;
  target_username: string | null;
  details: string;
}

export class Moderation {
  #modes: RoomModes | undefined;
  #mutes: Map<number, Mute> | undefined;
  #bans: Map<number, Ban> | undefined;
  #tables = false;

  constructor(
    private readonly storage: DurableObjectStorage,
    /** Whether the room exists: a room nobody created holds nothing, and reading it must make no storage. */
    private readonly established: () => boolean,
    /** Told of each entry of the log as it is written (for the room's change stream). */
    private readonly recorded: (entry: LogEntry) => void = () => {},
  ) {}

  get modes(): RoomModes {
    this.#modes ??= this.established() ? (this.storage.kv.get<RoomModes>(MODES_KEY) ?? NO_MODES) : NO_MODES;
    return this.#modes;
  }

  setModes(modes: RoomModes): void {
    this.storage.kv.put(MODES_KEY, modes);
    // Off: nobody's last post matters any more, and a later slow mode starts everyone afresh.
    if (modes.slowModeSeconds === 0 && this.modes.slowModeSeconds !== 0) this.#sql().exec("DELETE FROM last_posts");
    this.#modes = modes;
  }

  /** `userId`'s mute if it still runs at `now`; an expired one is forgotten. */
  muteOf(userId: number, now = Date.now()): Mute | undefined {
    const mute = this.#loadedMutes().get(userId);
    if (!mute || mute.until > now) return mute;
    this.unmute(userId);
    return undefined;
  }

  /** The mutes that still run, soonest to end first. */
  mutes(now = Date.now()): Mute[] {
    return [...this.#loadedMutes().keys()]
      .flatMap((userId) => this.muteOf(userId, now) ?? [])
      .sort((a, b) => a.until - b.until);
  }

  mute(mute: Mute): void {
    this.#sql().exec(
      `INSERT INTO moderation_mutes (user_id, username, until, by_id, by_username, at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (user_id) DO UPDATE SET username = excluded.username, until = excluded.until,
         by_id = excluded.by_id, by_username = excluded.by_username, at = excluded.at`,
      mute.user.id,
      mute.user.username,
      mute.until,
      mute.by.id,
      mute.by.username,
      mute.at,
    );
    this.#loadedMutes().set(mute.user.id, mute);
  }

  /** False when `userId` was not muted. */
  unmute(userId: number): boolean {
    if (!this.#loadedMutes().delete(userId)) return false;
    this.#sql().exec("DELETE FROM moderation_mutes WHERE user_id = ?", userId);
    return true;
  }

  banOf(userId: number): Ban | undefined {
    return this.#loadedBans().get(userId);
  }

  isBanned(userId: number): boolean {
    return this.#loadedBans().has(userId);
  }

  /** Everyone banned, most recent first. */
  bans(): Ban[] {
    return [...this.#loadedBans().values()].sort((a, b) => b.at - a.at);
  }

  ban(ban: Ban): void {
    this.#sql().exec(
      `INSERT INTO moderation_bans (user_id, username, role, by_id, by_username, at, delete_recent_posts)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ban.user.id,
      ban.user.username,
      ban.role,
      ban.by.id,
      ban.by.username,
      ban.at,
      ban.deleteRecentPosts ? 1 : 0,
    );
    this.#loadedBans().set(ban.user.id, ban);
    this.#markUnmirrored(ban.user.id);
  }

  /** False when `userId` was not banned. */
  unban(userId: number): boolean {
    if (!this.#loadedBans().delete(userId)) return false;
    this.#sql().exec("DELETE FROM moderation_bans WHERE user_id = ?", userId);
    this.#markUnmirrored(userId);
    return true;
  }

  /** Users whose ban (or unban) D1 has not been told of yet. */
  get unmirroredBans(): number[] {
    return this.established() ? (this.storage.kv.get<number[]>(BANS_UNMIRRORED_KEY) ?? []) : [];
  }

  /** D1 now says what the room says of these users' bans. */
  bansMirrored(userIds: readonly number[]): void {
    const done = new Set(userIds);
    const left = this.unmirroredBans.filter((userId) => !done.has(userId));
    if (left.length === 0) this.storage.kv.delete(BANS_UNMIRRORED_KEY);
    else this.storage.kv.put(BANS_UNMIRRORED_KEY, left);
  }

  /** When `userId` last posted here while slow mode was on (milliseconds), if they did. */
  lastPostAt(userId: number): number | undefined {
    if (this.modes.slowModeSeconds === 0) return undefined;
    return this.#sql().exec<{ at: number }>("SELECT at FROM last_posts WHERE user_id = ?", userId).toArray()[0]?.at;
  }

  /** A post of `userId` was stored at `at`: the next one waits for slow mode (written only while it is on). */
  posted(userId: number, at: number): void {
    if (this.modes.slowModeSeconds === 0) return;
    this.#sql().exec(
      "INSERT INTO last_posts (user_id, at) VALUES (?, ?) ON CONFLICT (user_id) DO UPDATE SET at = excluded.at",
      userId,
      at,
    );
  }

  /** Adds an entry to the log and answers it; the oldest beyond {@link LOG_KEEP} are let go. */
  record(entry: Omit<LogEntry, "id">): LogEntry {
    const sql = this.#sql();
    const { id } = sql
      .exec<{ id: number }>(
        `INSERT INTO moderation_log (at, action, actor_id, actor_username, target_id, target_username, details)
         VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
        entry.at,
        entry.action,
        entry.actor.id,
        entry.actor.username,
        entry.target?.id ?? null,
        entry.target?.username ?? null,
        JSON.stringify(entry.details),
      )
      .one();
    sql.exec("DELETE FROM moderation_log WHERE id <= ?", id - LOG_KEEP);
    const written = { id, ...entry };
    this.recorded(written);
    return written;
  }

  /** The log, newest first: `limit` entries with an id below `before` (all, without it). */
  log(query: { before?: number | undefined; limit: number }): LogEntry[] {
    if (!this.established()) return [];
    return this.#sql()
      .exec<LogRow>(
        "SELECT * FROM moderation_log WHERE id < ? ORDER BY id DESC LIMIT ?",
        query.before ?? Number.MAX_SAFE_INTEGER,
        query.limit,
      )
      .toArray()
      .map((row) => ({
        id: row.id,
        at: row.at,
        action: row.action as ModerationAction,
        actor: { id: row.actor_id, username: row.actor_username },
        target:
          row.target_id === null ? null : { id: row.target_id, username: row.target_username ?? String(row.target_id) },
        details: JSON.parse(row.details) as LogDetails,
      }));
  }

  #markUnmirrored(userId: number): void {
    this.storage.kv.put(BANS_UNMIRRORED_KEY, [...new Set([...this.unmirroredBans, userId])]);
  }

  #loadedMutes(): Map<number, Mute> {
    if (this.#mutes) return this.#mutes;
    const mutes = new Map<number, Mute>();
    if (this.established()) {
      for (const row of this.#sql().exec<MuteRow>("SELECT * FROM moderation_mutes")) {
        mutes.set(row.user_id, {
          user: { id: row.user_id, username: row.username },
          until: row.until,
          by: { id: row.by_id, username: row.by_username },
          at: row.at,
        });
      }
    }
    this.#mutes = mutes;
    return mutes;
  }

  #loadedBans(): Map<number, Ban> {
    if (this.#bans) return this.#bans;
    const bans = new Map<number, Ban>();
    if (this.established()) {
      for (const row of this.#sql().exec<BanRow>("SELECT * FROM moderation_bans")) {
        bans.set(row.user_id, {
          user: { id: row.user_id, username: row.username },
          role: row.role as Role | null,
          by: { id: row.by_id, username: row.by_username },
          at: row.at,
          deleteRecentPosts: row.delete_recent_posts === 1,
        });
      }
    }
    this.#bans = bans;
    return bans;
  }

  /** The room's moderation tables, made on first use (only ever for a room that exists). */
  #sql(): SqlStorage {
    const sql = this.storage.sql;
    if (this.#tables) return sql;
    sql.exec(`CREATE TABLE IF NOT EXISTS moderation_mutes (
      user_id INTEGER PRIMARY KEY, username TEXT NOT NULL, until INTEGER NOT NULL,
      by_id INTEGER NOT NULL, by_username TEXT NOT NULL, at INTEGER NOT NULL
    )`);
    sql.exec(`CREATE TABLE IF NOT EXISTS moderation_bans (
      user_id INTEGER PRIMARY KEY, username TEXT NOT NULL, role TEXT, by_id INTEGER NOT NULL,
      by_username TEXT NOT NULL, at INTEGER NOT NULL, delete_recent_posts INTEGER NOT NULL
    )`);
    sql.exec(`CREATE TABLE IF NOT EXISTS moderation_log (
      id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, action TEXT NOT NULL,
      actor_id INTEGER NOT NULL, actor_username TEXT NOT NULL, target_id INTEGER, target_username TEXT,
      details TEXT NOT NULL
    )`);
    sql.exec("CREATE TABLE IF NOT EXISTS last_posts (user_id INTEGER PRIMARY KEY, at INTEGER NOT NULL)");
    this.#tables = true;
    return sql;
  }
}

/**
 * May `userId` post, edit or type here now? The one decision for all three (a muted member can do none of
 * them), taken at the moment of the act against the server's clock: undefined when they may, else why not.
 * In this order: banned; not in the room (a private room they are not in: as one that does not exist);
 * muted; read-only, and slow mode for posts (the owner and moderators are exempt from both). Marking read
 * (`read`) stops after the first two: it needs access, not the right to speak.
 */
export function speechRefusal(
  room: { readonly membership: Membership; readonly moderation: Moderation },
  speech: Speech,
  userId: number,
  now = Date.now(),
): SpeechRefusal | undefined {
  const { membership, moderation } = room;
  if (moderation.isBanned(userId)) return { reason: "banned" };
  const record = membership.record;
  const role = membership.roleOf(userId);
  if (!record || (record.kind !== "public" && role === undefined)) return { reason: "no such room" };
  if (speech === "read") return undefined;
  const mute = moderation.muteOf(userId, now);
  if (mute) return { reason: "muted", until: new Date(mute.until).toISOString() };
  if (isExempt(role)) return undefined;
  const { readOnly, slowModeSeconds } = moderation.modes;
  if (readOnly) return { reason: "read_only" };
  if (speech !== "post" || slowModeSeconds === 0) return undefined;
  const last = moderation.lastPostAt(userId);
  const next = last === undefined ? now : last + slowModeSeconds * 1000;
  return next > now ? { reason: "slow_mode", retry_after_ms: next - now } : undefined;
}

/** The owner and moderators: read-only and slow mode do not apply to them. */
export function isExempt(role: Role | undefined | null): boolean {
  return role !== undefined && role !== null && RANK[role] >= RANK.moderator;
}
