/**
 * Queries on posts and a room's other changes, always returning the public {@link Post} and
 * {@link Change} shapes, where a post's `id` is its number in its room (`seq`), and every post is as it is
 * now (edited text, or a tombstone). Rooms write here through {@link copyLogged}; everything else only reads.
 */
import { and, desc, eq, gt, gte, inArray, isNull, lt, type SQL, sql } from "drizzle-orm";
import type { DeletedBy, Post, PostsQuery } from "../shared/post";
import type { Change } from "../shared/room-contract";
import { batch } from "./batch";
import type { Database } from "./client";
import { mentionStatements } from "./mentions";
import { type ReadPosition, readPositionStatements } from "./read-states";
import { changes, posts, rooms, users } from "./schema";

const postColumns = {
  seq: posts.seq,
  message: posts.message,
  insertedAt: posts.insertedAt,
  userId: users.id,
  username: users.username,
  editedAt: posts.editedAt,
  deletedAt: posts.deletedAt,
  deletedBy: posts.deletedBy,
};

type PostSelection = {
  seq: number;
  message: string;
  insertedAt: Date;
  userId: number;
  username: string;
  editedAt: Date | null;
  deletedAt: Date | null;
  deletedBy: DeletedBy | null;
};

/** What a post is made of, times in milliseconds, as D1 and the room's log both keep it. */
export interface PostFields {
  seq: number;
  message: string;
  insertedAt: number;
  userId: number;
  username: string;
  editedAt: number | null;
  deletedAt: number | null;
  deletedBy: DeletedBy | null;
}

/** The public shape: the optional fields only when set, so a plain post is exactly what it always was. */
export function postOf(fields: PostFields): Post {
  const post: Post = {
    id: fields.seq,
    message: fields.message,
    inserted_at: new Date(fields.insertedAt).toISOString(),
    user: { id: fields.userId, username: fields.username },
  };
  if (fields.editedAt !== null) post.edited_at = new Date(fields.editedAt).toISOString();
  if (fields.deletedAt !== null) post.deleted_at = new Date(fields.deletedAt).toISOString();
  if (fields.deletedBy !== null) post.deleted_by = fields.deletedBy;
  return post;
}

function toPost(row: PostSelection): Post {
  return postOf({
    ...row,
    insertedAt: row.insertedAt.getTime(),
    editedAt: row.editedAt?.getTime() ?? null,
    deletedAt: row.deletedAt?.getTime() ?? null,
  });
}

function selectPosts(db: Database, where: SQL | undefined) {
  return db.select(postColumns).from(posts).innerJoin(users, eq(posts.userId, users.id)).where(where);
}

/** A page of a room's posts, oldest first, as {@link PostsQuery} describes it. */
export async function postsPage(db: Database, room: string, { after, before, limit }: PostsQuery): Promise<Post[]> {
  if (after !== undefined) {
    const rows = await selectPosts(db, and(eq(posts.room, room), gt(posts.seq, after)))
      .orderBy(posts.seq)
      .limit(limit);
    return rows.map(toPost);
  }
  const where = before === undefined ? eq(posts.room, room) : and(eq(posts.room, room), lt(posts.seq, before));
  const rows = await selectPosts(db, where).orderBy(desc(posts.seq)).limit(limit);
  return rows.reverse().map(toPost);
}

/** The numbers of the posts `userId` made in `room` since `sinceMs` that are not deleted (a ban's clean-up). */
export async function postSeqsBy(db: Database, room: string, userId: number, sinceMs: number): Promise<number[]> {
  const rows = await db
    .select({ seq: posts.seq })
    .from(posts)
    .where(
      and(
        eq(posts.room, room),
        eq(posts.userId, userId),
        gte(posts.insertedAt, new Date(sinceMs)),
        isNull(posts.deletedAt),
      ),
    );
  return rows.map((row) => row.seq);
}

/** The highest number a room has given a post or another change in D1 (0 for a room without any). */
export async function lastSeq(db: Database, room: string): Promise<number> {
  const [row] = await db.all<{ seq: number | null }>(sql`
    SELECT max(seq) AS seq FROM (
      SELECT max(${posts.seq}) AS seq FROM ${posts} WHERE ${posts.room} = ${room}
      UNION ALL SELECT max(${changes.seq}) FROM ${changes} WHERE ${changes.room} = ${room}
    )`);
  return row?.seq ?? 0;
}

/** A post as a room's log holds it, on its way to D1. */
export interface LoggedPost {
  post: Post;
  clientId: string | null;
}

/** A change other than a new post, as a room's log holds it, on its way to D1. */
export interface LoggedChange {
  seq: number;
  type: string;
  /** The post it changed, for a post's change. */
  postSeq: number | null;
  /** Milliseconds since the epoch. */
  at: number;
  /** For a post's change: the post as it is after it (D1's row is set to this). */
  post: Post | null;
  /** For a change of another kind: what it says (its JSON in `changes.data`). */
  data: Record<string, unknown> | null;
}

/** One entry of a room's log: a new post, or another change. */
export type Logged = LoggedPost | { change: LoggedChange };

/** What D1 holds for a logged post once the copy is done. */
export type CopyOutcome =
  /** Stored under its number (now, or by an earlier attempt whose answer was lost). */
  | { kind: "copied" }
  /** Its `client_id` had been used in this room before: D1 keeps that original, and this one is dropped. */
  | { kind: "duplicate"; original: Post }
  /** Its author no longer exists: dropped. */
  | { kind: "gone" };

/**
 * Copies a batch of a room's log into D1 in one round trip: its posts in one statement, whatever their
 * number (they travel as one JSON parameter and `json_each` turns them back into rows: D1 allows 100
 * parameters per statement, and one statement per post would cost a statement's overhead per post), and,
 * only when the batch holds other changes, one statement for those and one that sets each changed post to
 * what it now is, in the same batch. Each post row takes its author from `users`, so a post by a deleted
 * user cannot block the copy; one already there (a retried copy) or whose `client_id` the author already
 * used in this room is left alone. What became of each post is read back only for the posts that were not
 * inserted; another change is always copied. The room's read positions that moved since its last copy
 * (`positions`) go in the same batch (src/db/read-states.ts).
 */
export async function copyLogged(
  db: Database,
  room: string,
  logged: readonly Logged[],
  positions: readonly ReadPosition[] = [],
): Promise<CopyOutcome[]> {
  const loggedPosts = logged.filter((entry): entry is LoggedPost => "post" in entry);
  const loggedChanges = logged.flatMap((entry) => ("change" in entry ? [entry.change] : []));
  const insertPosts = loggedPosts.length > 0 ? insertPostsStatement(room, loggedPosts) : undefined;
  // Whom the posts mention goes in with them, in the same batch (src/db/mentions.ts).
  const statements = [
    ...(insertPosts ? [insertPosts] : []),
    ...mentionStatements(
      room,
      loggedPosts.map(({ post }) => ({ seq: post.id, message: post.message })),
    ),
    ...(loggedChanges.length > 0 ? changeStatementsFor(room, loggedChanges) : []),
    ...readPositionStatements(room, positions),
  ];
  let inserted: Array<{ seq: number }> = [];
  if (statements.length === 1 && insertPosts) inserted = await db.all<{ seq: number }>(insertPosts);
  else if (statements.length > 0) {
    const results = await batch(db, statements);
    if (insertPosts) inserted = (results[0]?.results ?? []) as Array<{ seq: number }>;
  }
  const outcomes = await postOutcomes(db, room, loggedPosts, inserted);
  let next = 0;
  return logged.map((entry) => ("post" in entry ? (outcomes[next++] as CopyOutcome) : { kind: "copied" }));
}

/** Copies posts alone (the log of a room that has only ever had posts, and tests). */
export function copyPosts(db: Database, room: string, logged: readonly LoggedPost[]): Promise<CopyOutcome[]> {
  return copyLogged(db, room, logged);
}

function insertPostsStatement(room: string, logged: readonly LoggedPost[]): SQL {
  // A post edited or deleted before its copy is copied as it now is; the fields absent from a plain post
  // read as NULL.
  const rows = JSON.stringify(
    logged.map(({ post, clientId }) => ({
      seq: post.id,
      uid: post.user.id,
      message: post.message,
      at: Date.parse(post.inserted_at),
      cid: clientId,
      edited: post.edited_at === undefined ? undefined : Date.parse(post.edited_at),
      deleted: post.deleted_at === undefined ? undefined : Date.parse(post.deleted_at),
      by: post.deleted_by,
    })),
  );
  return sql`
    INSERT INTO ${posts} (room, seq, user_id, message, inserted_at, client_id, edited_at, deleted_at, deleted_by)
    SELECT ${room}, p.value ->> '$.seq', u.id, p.value ->> '$.message', p.value ->> '$.at', p.value ->> '$.cid',
      p.value ->> '$.edited', p.value ->> '$.deleted', p.value ->> '$.by'
    FROM json_each(${rows}) AS p JOIN ${users} AS u ON u.id = p.value ->> '$.uid'
    WHERE true ORDER BY p.key
    ON CONFLICT DO NOTHING
    RETURNING seq`;
}

/**
 * The statements of a batch's other changes: their rows in `changes` (never a post's text), and each
 * changed post set to what its last change in the batch made it (later changes come in later batches).
 */
function changeStatementsFor(room: string, logged: readonly LoggedChange[]): SQL[] {
  const rows = JSON.stringify(
    logged.map((change) => ({
      seq: change.seq,
      type: change.type,
      post: change.postSeq,
      data: change.data === null ? undefined : JSON.stringify(change.data),
      at: change.at,
    })),
  );
  const insert = sql`
    INSERT INTO ${changes} (room, seq, type, post_seq, data, at)
    SELECT ${room}, c.value ->> '$.seq', c.value ->> '$.type', c.value ->> '$.post', c.value ->> '$.data',
      c.value ->> '$.at'
    FROM json_each(${rows}) AS c WHERE true ORDER BY c.key
    ON CONFLICT DO NOTHING`;
  const latest = new Map<number, Post>();
  for (const change of logged) if (change.post) latest.set(change.post.id, change.post);
  if (latest.size === 0) return [insert];
  const states = JSON.stringify(
    [...latest.values()].map((post) => ({
      seq: post.id,
      message: post.message,
      edited: post.edited_at === undefined ? undefined : Date.parse(post.edited_at),
      deleted: post.deleted_at === undefined ? undefined : Date.parse(post.deleted_at),
      by: post.deleted_by,
    })),
  );
  const update = sql`
    UPDATE ${posts} SET message = s.value ->> '$.message', edited_at = s.value ->> '$.edited',
      deleted_at = s.value ->> '$.deleted', deleted_by = s.value ->> '$.by'
    FROM json_each(${states}) AS s
    WHERE ${posts.room} = ${room} AND ${posts.seq} = s.value ->> '$.seq'`;
  // Changing a post's text dropped its mentions (a trigger): the new text's go in after it.
  const mentioned = mentionStatements(
    room,
    [...latest.values()].map((post) => ({ seq: post.id, message: post.message })),
  );
  return [insert, update, ...mentioned];
}

/** What became of each logged post: inserted now, there already, or why not. */
async function postOutcomes(
  db: Database,
  room: string,
  logged: readonly LoggedPost[],
  inserted: ReadonlyArray<{ seq: number }>,
): Promise<CopyOutcome[]> {
  const insertedSeqs = new Set(inserted.map((row) => row.seq));
  const missing = logged.filter((entry) => !insertedSeqs.has(entry.post.id));
  if (missing.length === 0) return logged.map(() => ({ kind: "copied" }));

  const present = await db
    .select({ seq: posts.seq })
    .from(posts)
    .where(
      and(
        eq(posts.room, room),
        inArray(
          posts.seq,
          missing.map((entry) => entry.post.id),
        ),
      ),
    );
  const presentSeqs = new Set([...insertedSeqs, ...present.map((row) => row.seq)]);
  return Promise.all(
    logged.map(async (entry): Promise<CopyOutcome> => {
      if (presentSeqs.has(entry.post.id)) return { kind: "copied" };
      if (entry.clientId === null) return { kind: "gone" };
      const [original] = await selectPosts(
        db,
        and(eq(posts.room, room), eq(posts.userId, entry.post.user.id), eq(posts.clientId, entry.clientId)),
      );
      return original ? { kind: "duplicate", original: toPost(original) } : { kind: "gone" };
    }),
  );
}

/** A page of a room's changes: the oldest `limit` with a seq above `after`. */
export interface ChangesQuery {
  after: number;
  limit: number;
}

interface ChangeRow {
  seq: number;
  type: string;
  data: string | null;
  post_seq: number | null;
  message: string | null;
  inserted_at: number | null;
  user_id: number | null;
  username: string | null;
  edited_at: number | null;
  deleted_at: number | null;
  deleted_by: DeletedBy | null;
}

/**
 * A page of a room's changes in D1, oldest first: its posts' creations (type `post`, from `posts`) and its
 * other changes (from `changes`) in one sequence, each post's change with the post as D1 has it now. A
 * post's change whose post D1 does not have (its author's account was deleted) comes without `post`.
 */
export async function changesPage(db: Database, room: string, { after, limit }: ChangesQuery): Promise<Change[]> {
  const rows = await db.all<ChangeRow>(sql`
    SELECT c.seq, c.type, c.data, c.post_seq, p.message, p.inserted_at, u.id AS user_id, u.username,
      p.edited_at, p.deleted_at, p.deleted_by
    FROM (
      SELECT * FROM (SELECT seq, 'post' AS type, NULL AS data, seq AS post_seq FROM ${posts}
        WHERE ${posts.room} = ${room} AND ${posts.seq} > ${after} ORDER BY seq LIMIT ${limit})
      UNION ALL
      SELECT * FROM (SELECT seq, type, data, post_seq FROM ${changes}
        WHERE ${changes.room} = ${room} AND ${changes.seq} > ${after} ORDER BY seq LIMIT ${limit})
      ORDER BY seq LIMIT ${limit}
    ) AS c
    LEFT JOIN ${posts} AS p ON p.room = ${room} AND p.seq = c.post_seq
    LEFT JOIN ${users} AS u ON u.id = p.user_id
    ORDER BY c.seq`);
  return rows.map((row) => {
    const change: Change =
      row.data === null ? { seq: row.seq, type: row.type } : { ...parseData(row.data), seq: row.seq, type: row.type };
    if (row.post_seq !== null && row.message !== null && row.user_id !== null) {
      change.post = postOf({
        seq: row.post_seq,
        message: row.message,
        insertedAt: row.inserted_at ?? 0,
        userId: row.user_id,
        username: row.username ?? "",
        editedAt: row.edited_at,
        deletedAt: row.deleted_at,
        deletedBy: row.deleted_by,
      });
    }
    return change;
  });
}

function parseData(data: string): Record<string, unknown> {
  const parsed: unknown = JSON.parse(data);
  return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)
    ? (parsed as Record<string, unknown>)
    : { data: parsed };
}

export interface RoomSummary {
  room: string;
  postCount: number;
  lastPostAt: Date;
}

/** Public rooms with the most recent activity first, for the home page (never a private room). */
export async function activeRooms(db: Database, limit = 20): Promise<RoomSummary[]> {
  const rows = await db
    .select()
    .from(rooms)
    .where(eq(rooms.kind, "public"))
    .orderBy(desc(rooms.lastPostAt))
    .limit(limit);
  return rows.map((row) => ({ room: row.id, postCount: row.postCount, lastPostAt: row.lastPostAt }));
}
