/**
 * Rooms in D1: the row each room gets when it is created (within the creator's daily allowance), and the
 * mirror of each room's members and roles that the lists read. The room itself decides; D1 follows it.
 */
import { and, desc, eq, inArray, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Database } from "./client";
import { roomMembers, rooms, users } from "./schema";

export type RoomKind = "public" | "private" | "dm";
export type Role = "owner" | "moderator" | "member";

export interface RoomRow {
  id: string;
  kind: RoomKind;
  title: string | null;
  ownerId: number | null;
  createdAt: Date | null;
  dmPair: string | null;
}

export interface NewRoom {
  id: string;
  kind: RoomKind;
  title: string | null;
  /** Who creates it: its owner, but for a direct message, which has none. */
  createdBy: number;
  ownerId: number | null;
  dmPair: string | null;
  createdAt: Date;
}

/**
 * Inserts the room's row if its creator has created fewer than `perDay` rooms in the 24 hours before
 * `createdAt`, in one statement (two creations racing each other cannot both slip under the cap). A direct
 * message does not count against the cap: its pair has at most one.
 */
export async function insertRoomWithinAllowance(
  db: Database,
  room: NewRoom,
  perDay: number,
): Promise<"created" | "taken" | "over allowance"> {
  const since = room.createdAt.getTime() - 24 * 60 * 60 * 1000;
  const at = room.createdAt.getTime();
  const inserted = await db.all<{ name: string }>(sql`
    INSERT INTO ${rooms} (name, kind, title, owner_id, created_by, created_at, dm_pair, post_count, last_post_at)
    SELECT ${room.id}, ${room.kind}, ${room.title}, ${room.ownerId}, ${room.createdBy}, ${at}, ${room.dmPair}, 0, ${at}
    WHERE ${room.kind} = 'dm'
       OR (SELECT count(*) FROM ${rooms} WHERE created_by = ${room.createdBy} AND kind != 'dm' AND created_at > ${since}) < ${perDay}
    ON CONFLICT DO NOTHING
    RETURNING name`);
  if (inserted.length > 0) return "created";
  // Not inserted: its id (or a direct message's pair) is taken, or the creator is over the allowance.
  if (room.kind === "dm" || (await roomRow(db, room.id))) return "taken";
  return "over allowance";
}

export async function roomRow(db: Database, id: string): Promise<RoomRow | undefined> {
  const [row] = await db
    .select({
      id: rooms.id,
      kind: rooms.kind,
      title: rooms.title,
      ownerId: rooms.ownerId,
      createdAt: rooms.createdAt,
      dmPair: rooms.dmPair,
    })
    .from(rooms)
    .where(eq(rooms.id, id));
  return row;
}

/** The direct message room of a pair, if it has one. */
export async function dmRoomOf(db: Database, pair: string): Promise<string | undefined> {
  const [row] = await db.select({ id: rooms.id }).from(rooms).where(eq(rooms.dmPair, pair));
  return row?.id;
}

/** The members D1 mirrors for a room: for adopting a room that has no record of its own yet. */
export function mirroredMembers(db: Database, room: string) {
  return db
    .select({
      userId: roomMembers.userId,
      username: users.username,
      role: roomMembers.role,
      addedAt: roomMembers.addedAt,
    })
    .from(roomMembers)
    .innerJoin(users, eq(users.id, roomMembers.userId))
    .where(eq(roomMembers.room, room));
}

export interface MirroredMember {
  userId: number;
  role: Role;
  addedAt: number;
}

/**
 * Makes D1 say what the room says of these users: each one's role, or (role null) not a member; and the
 * room's owner and title. One batch: the lists never show half a change.
 */
export async function mirrorRoom(
  db: Database,
  room: string,
  state: {
    ownerId: number | null;
    title: string | null;
    members: Array<{ userId: number; member: MirroredMember | null }>;
  },
): Promise<void> {
  const removed = state.members.filter(({ member }) => member === null).map(({ userId }) => userId);
  const present = state.members.flatMap(({ member }) => (member ? [member] : []));
  const statements: [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]] = [
    db.update(rooms).set({ ownerId: state.ownerId, title: state.title }).where(eq(rooms.id, room)),
    ...present.map((member) =>
      db
        .insert(roomMembers)
        .values({ room, userId: member.userId, role: member.role, addedAt: new Date(member.addedAt) })
        .onConflictDoUpdate({ target: [roomMembers.room, roomMembers.userId], set: { role: member.role } }),
    ),
  ];
  if (removed.length > 0) {
    statements.push(
      db.delete(roomMembers).where(and(eq(roomMembers.room, room), inArray(roomMembers.userId, removed))),
    );
  }
  await db.batch(statements);
}

export interface ListedRoom {
  id: string;
  kind: RoomKind;
  title: string | null;
  /** The viewer's role; null where they are not a member (a public room they have not joined). */
  role: Role | null;
  postCount: number;
  lastPostAt: Date;
  /** A direct message's other person. */
  partner: { id: number; username: string } | null;
}

/**
 * The viewer's rooms (every one of them), then the busiest public rooms up to `publicLimit`, busiest first;
 * never a private room the viewer is not in. Two reads, so busy public rooms never push one of the
 * viewer's own rooms off the list.
 */
export async function roomsFor(db: Database, userId: number, publicLimit = 200): Promise<ListedRoom[]> {
  const columns = {
    id: rooms.id,
    kind: rooms.kind,
    title: rooms.title,
    postCount: rooms.postCount,
    lastPostAt: rooms.lastPostAt,
    dmPair: rooms.dmPair,
  };
  const [mine, busiest] = await Promise.all([
    db
      .select({ ...columns, role: roomMembers.role })
      .from(roomMembers)
      .innerJoin(rooms, eq(rooms.id, roomMembers.room))
      .where(eq(roomMembers.userId, userId)),
    db.select(columns).from(rooms).where(eq(rooms.kind, "public")).orderBy(desc(rooms.lastPostAt)).limit(publicLimit),
  ]);
  const mineIds = new Set(mine.map((room) => room.id));
  const rows = [...mine, ...busiest.filter((room) => !mineIds.has(room.id)).map((room) => ({ ...room, role: null }))];
  rows.sort((a, b) => b.lastPostAt.getTime() - a.lastPostAt.getTime());
  const partnerIds = rows.flatMap(({ dmPair }) => (dmPair ? [partnerOf(dmPair, userId)] : []));
  const partners = new Map<number, { id: number; username: string }>();
  // D1 takes at most 100 parameters a statement.
  for (let start = 0; start < partnerIds.length; start += 90) {
    const batch = partnerIds.slice(start, start + 90);
    const found = await db
      .select({ id: users.id, username: users.username })
      .from(users)
      .where(inArray(users.id, batch));
    for (const user of found) partners.set(user.id, user);
  }
  return rows.map(({ dmPair, ...row }) => ({
    ...row,
    role: row.role ?? null,
    partner: dmPair ? (partners.get(partnerOf(dmPair, userId)) ?? null) : null,
  }));
}

/** `smaller:larger`: the key of a pair's direct message, whoever asks. */
export function dmPairOf(a: number, b: number): string {
  return a < b ? `${a}:${b}` : `${b}:${a}`;
}

function partnerOf(pair: string, userId: number): number {
  const [a, b] = pair.split(":").map(Number);
  return a === userId ? (b ?? 0) : (a ?? 0);
}
