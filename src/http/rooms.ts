/**
 * The worker's side of the room verbs that the JSON API and the pages share: finding a person by name,
 * opening a pair's direct message, accepting an invite. Each still lets the room decide. And what both
 * list beside each room: the asker's unread and mention counts.
 */
import type { Database } from "../db/client";
import { type RoomCounts, readStates } from "../db/read-states";
import { dmPairOf, dmRoomOf } from "../db/rooms";
import { findUserByUsername } from "../db/users";
import type { Identity } from "../realtime/access/identity";
import {
  INVALID_INVITE,
  knownRoom,
  mintPrivateRoomId,
  type Outcome,
  type RoomView,
  roomStub,
} from "../realtime/room/client";
import { isRoomId } from "../shared/rooms";

/**
 * `userId`'s unread and mention counts in each of `roomIds` they have a read position in and may read, in
 * one query (the lists show every room's at once); a room missing from the answer has none.
 */
export async function roomCounts(
  db: Database,
  userId: number,
  roomIds: readonly string[],
): Promise<Map<string, RoomCounts>> {
  const states = await readStates(db, { userIds: [userId], rooms: [...new Set(roomIds)] });
  return new Map(states.map(({ room, unread, mentions }) => [room, { unread, mentions }]));
}

/** Invites live from a minute to 30 days, and take 1 to 1,000 uses. */
export const INVITE_LIMITS = { minSeconds: 60, maxSeconds: 30 * 24 * 3600, maxUses: 1_000 };

/** Someone by username (case-insensitive; a leading @ is fine), or the 422 naming who is not there. */
export async function personNamed(db: Database, typed: unknown): Promise<Outcome<Identity>> {
  const username = typeof typed === "string" ? typed.trim().replace(/^@/, "") : "";
  if (username === "") return { ok: false, status: 422, error: "username must name a person." };
  const user = await findUserByUsername(db, username);
  if (!user) return { ok: false, status: 422, error: `There is nobody called @${username}.` };
  return { ok: true, value: { id: user.id, username: user.username } };
}

/** The pair's one direct message: the same room every time, from either side; one room when both open it at once. */
export async function openDirectMessage(
  env: Env,
  db: Database,
  me: Identity,
  partner: Identity,
): Promise<Outcome<RoomView>> {
  if (partner.id === me.id) return { ok: false, status: 422, error: "You cannot send a direct message to yourself." };
  const pair = dmPairOf(me.id, partner.id);
  const existing = await dmRoomOf(db, pair);
  if (existing) return roomStub(env, existing).openDirect(me);
  const id = await mintPrivateRoomId(env);
  const created = await roomStub(env, id).create({ kind: "dm", title: null, dmPair: pair, creator: me, partner });
  if (created.ok || created.status !== 409) return created;
  // Both opened it at once: the other one's room is the pair's.
  const winner = await dmRoomOf(db, pair);
  return winner ? roomStub(env, winner).openDirect(me) : created;
}

/** `ROOM.SECRET`: the room an invite is for, and its secret; one answer for every token that is not good. */
export async function acceptInvite(env: Env, user: Identity, token: string): Promise<Outcome<RoomView>> {
  const dot = token.lastIndexOf(".");
  const id = token.slice(0, dot);
  const secret = token.slice(dot + 1);
  const invalid = { ok: false, status: 404, error: INVALID_INVITE } as const;
  if (dot < 1 || !isRoomId(id) || !/^[A-Za-z0-9_-]{43}$/.test(secret)) return invalid;
  const room = await knownRoom(env, id);
  return room ? room.acceptInvite(user, secret) : invalid;
}
