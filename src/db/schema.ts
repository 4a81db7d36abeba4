/**
 * The D1 schema, as drizzle tables. `npm run db:generate` turns changes here into SQL migrations in
 * migrations/, which wrangler applies (`npm run dev` locally, `npm run deploy` remotely).
 */
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/** A not-null millisecond timestamp that defaults to the time of insert. */
const timestampMs = (name: string) =>
  integer(name, { mode: "timestamp_ms" }).notNull().default(sql`(cast(unixepoch('subsec') * 1000 as integer))`);

export const users = sqliteTable(
  "users",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    /** Shown as typed; unique regardless of case (see the index below). */
    username: text("username").notNull(),
    /** Stored lower-cased, so lookups and uniqueness ignore case. */
    email: text("email").notNull(),
    passwordHash: text("password_hash").notNull(),
    /** Trackable. (Lockable lives in login_failures, keyed by email, so unknown emails lock too.) */
    signInCount: integer("sign_in_count").notNull().default(0),
    lastSignInAt: integer("last_sign_in_at", { mode: "timestamp_ms" }),
    /**
     * Bumped to revoke every session cookie and socket token issued before: both carry the generation
     * they were issued under and stop verifying once it moves on.
     */
    tokenGeneration: integer("token_generation").notNull().default(0),
    /**
     * The generation UserSockets has been told of: below `tokenGeneration` only while telling it failed,
     * which the maintenance cron (src/maintenance.ts) retries until it succeeds.
     */
    socketsRevokedThrough: integer("sockets_revoked_through").notNull().default(0),
    /**
     * The highest `posts.id` in D1 when the user last opened their mentions page: the top bar counts the
     * mentions of posts copied to D1 after it (src/db/mentions.ts). A D1 id, not a time, so a post that
     * reaches D1 late (a retried copy) still counts as new.
     */
    mentionsSeenThrough: integer("mentions_seen_through").notNull().default(0),
    createdAt: timestampMs("created_at"),
    updatedAt: timestampMs("updated_at"),
  },
  (table) => [
    uniqueIndex("users_username_lower_unique").on(sql`lower(${table.username})`),
    uniqueIndex("users_email_unique").on(table.email),
  ],
);

export const posts = sqliteTable(
  "posts",
  {
    /** D1's own row id. Clients never see it: a post's id in the protocol is its `seq`. */
    id: integer("id").primaryKey({ autoIncrement: true }),
    room: text("room").notNull(),
    /**
     * The post's number in its room, given by the room (its only writer, and its sequencer): ascending in
     * the order the room stored its posts, so "posts after N" (catch-up) is exact. This is `Post.id`.
     */
    seq: integer("seq").notNull(),
    userId: integer("user_id")
      .notNull()
      .references(() => users.id),
    message: text("message").notNull(),
    insertedAt: timestampMs("inserted_at"),
    /** The sender's idempotency key (`client_id`), when given: a retried push finds its original. */
    clientId: text("client_id"),
    /** When its author last edited it (`message` is then the edited text). */
    editedAt: integer("edited_at", { mode: "timestamp_ms" }),
    /** Set once deleted: `message` is then "" (the text is gone), and the row stays as the tombstone. */
    deletedAt: integer("deleted_at", { mode: "timestamp_ms" }),
    deletedBy: text("deleted_by", { enum: ["author", "moderator"] }),
  },
  (table) => [
    uniqueIndex("posts_room_seq_unique").on(table.room, table.seq),
    // A retry goes to the room it was meant for, where the room's own log enforces this first; D1 keeps
    // the same rule as the last word. NULLs are distinct, so posts without a client_id never clash.
    uniqueIndex("posts_room_user_client_id_unique").on(table.room, table.userId, table.clientId),
  ],
);

/**
 * A room's changes other than new posts (a post's creation is its row in `posts`, numbered by the same
 * sequence): edits and deletions, later other kinds. Copied from the room's log by the same group commit as
 * posts, for `GET /rooms/:room/changes` beyond what the room's log keeps. Never holds a post's text: a
 * post's change is read with the post as it is now, so a deleted text is nowhere.
 */
export const changes = sqliteTable(
  "changes",
  {
    room: text("room").notNull(),
    /** Its number in the room's one sequence, shared with posts' ids. */
    seq: integer("seq").notNull(),
    /** `edit`, `delete`, or a later kind. */
    type: text("type").notNull(),
    /** The post it changed (its `seq`), for a post's change. */
    postSeq: integer("post_seq"),
    /** What else a change of a later kind says, as JSON. */
    data: text("data"),
    at: integer("at", { mode: "timestamp_ms" }).notNull(),
  },
  (table) => [primaryKey({ columns: [table.room, table.seq] })],
);

/**
 * Every room: what it is, who owns it, and its post count for the lists. The room itself (its Durable
 * Object) is the authority on its members and roles; this row and `room_members` mirror it for listing.
 * Rows for rooms with posts from before rooms had owners were made by the migration `rooms_owned`.
 */
export const rooms = sqliteTable(
  "rooms",
  {
    /** The room's id: a public room's name, or a private room's identifier (`~…`). The column is `name`. */
    id: text("name").primaryKey(),
    kind: text("kind", { enum: ["public", "private", "dm"] })
      .notNull()
      .default("public"),
    /** A private room's title (a public room is known by its name; a direct message by its pair). */
    title: text("title"),
    ownerId: integer("owner_id").references(() => users.id),
    createdBy: integer("created_by").references(() => users.id),
    createdAt: integer("created_at", { mode: "timestamp_ms" }),
    /** A direct message's pair, "smaller id:larger id": one room per pair. */
    dmPair: text("dm_pair"),
    /** Kept by a trigger on `posts` (migration `rooms_stats`): reading the lists never scans the posts. */
    postCount: integer("post_count").notNull(),
    lastPostAt: integer("last_post_at", { mode: "timestamp_ms" }).notNull(),
  },
  (table) => [
    uniqueIndex("rooms_dm_pair_unique").on(table.dmPair),
    index("rooms_created_by").on(table.createdBy, table.createdAt),
  ],
);

/** Who is in which room with which role: mirrored from each room, which decides. */
export const roomMembers = sqliteTable(
  "room_members",
  {
    room: text("room").notNull(),
    userId: integer("user_id")
      .notNull()
      .references(() => users.id),
    role: text("role", { enum: ["owner", "moderator", "member"] }).notNull(),
    addedAt: integer("added_at", { mode: "timestamp_ms" }).notNull(),
  },
  (table) => [primaryKey({ columns: [table.room, table.userId] }), index("room_members_user").on(table.userId)],
);

/**
 * Who is banned from which room: mirrored from each room, which decides (its ban also ends the membership),
 * so that what reads D1 (search, mentions) can leave out the rooms a user is banned from.
 */
export const roomBans = sqliteTable(
  "room_bans",
  {
    room: text("room").notNull(),
    userId: integer("user_id")
      .notNull()
      .references(() => users.id),
    bannedAt: integer("banned_at", { mode: "timestamp_ms" }).notNull(),
    bannedBy: integer("banned_by")
      .notNull()
      .references(() => users.id),
  },
  (table) => [primaryKey({ columns: [table.room, table.userId] }), index("room_bans_user").on(table.userId)],
);

/**
 * Who each post mentions (`@username`, by the rule of src/shared/mentions.ts), one row per person
 * mentioned, never the author: written with the post by the room's copy to D1 (src/db/mentions.ts), gone
 * when the post's text changes (a trigger; the edit writes the new text's mentions) or the post is deleted.
 * `room` and `at` (the post's `inserted_at`) are the post's, copied so the mentions page pages by index.
 */
export const postMentions = sqliteTable(
  "post_mentions",
  {
    userId: integer("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    postId: integer("post_id")
      .notNull()
      .references(() => posts.id, { onDelete: "cascade" }),
    room: text("room").notNull(),
    at: integer("at", { mode: "timestamp_ms" }).notNull(),
  },
  (table) => [
    primaryKey({ columns: [table.userId, table.postId] }),
    index("post_mentions_user_at").on(table.userId, table.at, table.postId),
    // A person's unread mentions in one room (src/db/read-states.ts).
    index("post_mentions_user_room").on(table.userId, table.room, table.postId),
  ],
);

/**
 * Where each person has read each room up to (`last_read_id`, a post's id: its `seq`), mirrored from the
 * room, which decides (src/realtime/room/read-positions.ts) and copies it here with its posts. Unread and
 * mention counts are the room's posts after it (src/db/read-states.ts). A room writes a member's row when
 * they join it, at the room's newest post, so what was said before they came is not news.
 */
export const readPositions = sqliteTable(
  "read_positions",
  {
    room: text("room").notNull(),
    userId: integer("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    lastReadId: integer("last_read_id").notNull(),
    updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
  },
  (table) => [primaryKey({ columns: [table.room, table.userId] }), index("read_positions_user").on(table.userId)],
);

/**
 * Lockable, per email address whether or not an account has it, so a lockout never tells which emails
 * exist: failed logins in a row, and until when the address is locked once they reach the limit. A row is
 * deleted by a successful login; a lock that has expired starts a fresh count.
 */
export const loginFailures = sqliteTable("login_failures", {
  /** Normalised like users.email: trimmed and lower-cased. */
  email: text("email").primaryKey(),
  failures: integer("failures").notNull(),
  lockedUntil: integer("locked_until", { mode: "timestamp_ms" }),
  updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
});

/**
 * Abuse limits: attempts per client address and action ("register", "login") in a fixed window that
 * starts at the address's first attempt after the previous window ended.
 */
export const ipAttempts = sqliteTable(
  "ip_attempts",
  {
    action: text("action", { enum: ["register", "login"] }).notNull(),
    /** A client address as ipKey() writes it: IPv4, an IPv6 /64, or "unknown". */
    ip: text("ip").notNull(),
    windowStartedAt: integer("window_started_at", { mode: "timestamp_ms" }).notNull(),
    attempts: integer("attempts").notNull(),
  },
  (table) => [primaryKey({ columns: [table.action, table.ip] })],
);

export type UserRow = typeof users.$inferSelect;
