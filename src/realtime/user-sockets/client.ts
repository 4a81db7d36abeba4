/**
 * How the worker and the objects holding sockets reach UserSockets: a slot for each socket, given back
 * when it ends, revocation of every socket a user has, leases from a user's post allowance, and the watches
 * of the `user:ID` topic (which socket gets a user's `read_state`). Callers never build its ids or stubs.
 */
import { logError } from "../../log";
import type { RoomReadState, UserJoinResponse } from "../../shared/user-contract";
import type { Lease } from "./allowance";

export type { Lease } from "./allowance";

/** Users served by one object: user ids 0–255 share one, 256–511 the next, and so on. */
export const USERS_PER_OBJECT = 256;

/**
 * Who holds a slot, named after its Durable Object class: `Room/NAME` (a room-bound socket) or
 * `SocketSession/ID` (a socket session, many rooms). Never spelled like a channel topic (`room:NAME`).
 */
export type SlotHolder = `Room/${string}` | `SocketSession/${string}`;

export function roomSlotHolder(room: string): SlotHolder {
  return `Room/${room}`;
}

export function sessionSlotHolder(sessionId: string): SlotHolder {
  return `SocketSession/${sessionId}`;
}

/** A holder as stored; `room:` and `session:` are how slots taken before the rename name them. */
export function readSlotHolder(holder: string): { kind: "room"; name: string } | { kind: "session"; id: string } {
  const match = /^(Room\/|room:)(.*)$/s.exec(holder) ?? /^(SocketSession\/|session:)(.*)$/s.exec(holder);
  if (!match) throw new Error(`unknown slot holder ${holder}`);
  const [, prefix = "", rest = ""] = match;
  return prefix === "Room/" || prefix === "room:" ? { kind: "room", name: rest } : { kind: "session", id: rest };
}

/** What a slot holder answers: the Room, and the SocketSession. */
export interface SocketHolder {
  /** The slots of `userId`'s sockets it still holds. */
  liveSlots(userId: number): Promise<string[]>;
  /** Closes `userId`'s sockets whose token generation is below `validFrom`, and refuses them from now on. */
  endUserSockets(userId: number, validFrom: number): Promise<void>;
  /**
   * Pushes each `read_state` to its user's sockets here that joined (or are joining) `user:ID`; answers the
   * watches (see {@link watchUserTopic}) of the sockets it pushed to, so UserSockets forgets the others.
   */
  pushReadStates(pushes: ReadStatePush[]): Promise<string[]>;
}

/** One user's state in one room, for their sockets on `user:ID`. */
export interface ReadStatePush {
  userId: number;
  state: RoomReadState;
}

/** A watch of `user:ID`: the join's counts, or why not. */
export type WatchAnswer =
  | ({ ok: true } & UserJoinResponse)
  | { ok: false; reason: "rate_limited"; retryAfterMs: number }
  /** The socket's slot is gone: the socket is ending. */
  | { ok: false; reason: "gone" };

export type OpenResult =
  | { ok: true; slot: string }
  | { ok: false; reason: "limit"; limit: number }
  | { ok: false; reason: "revoked" };

/** The object that serves `userId`. */
export function userSockets(env: Env, userId: number): ReturnType<Env["USER_SOCKETS"]["get"]> {
  return env.USER_SOCKETS.get(env.USER_SOCKETS.idFromName(`users:${Math.floor(userId / USERS_PER_OBJECT)}`));
}

/** A slot for a new socket of `userId` with a token of `generation`; refused at the cap or once revoked. */
export function openSlot(env: Env, userId: number, generation: number, holder: SlotHolder): Promise<OpenResult> {
  return userSockets(env, userId).open(userId, generation, holder);
}

/**
 * Gives one of `userId`'s slots back (the socket holding it ended, or never became one). Never rejects: a
 * slot that could not be given back is found by the next reconciliation at the cap, and the failure is
 * logged as coming from `where`.
 */
export function releaseSlot(env: Env, userId: number, slot: string, where: string): Promise<void> {
  return userSockets(env, userId)
    .close(slot)
    .catch((problem) => logError(`${where}: release slot`, problem));
}

/** Ends every socket of `userId` older than `validFrom`, everywhere; resolves once the holders have. */
export function revokeUserSockets(env: Env, userId: number, validFrom: number): Promise<{ ended: boolean }> {
  return userSockets(env, userId).revoke(userId, validFrom);
}

/** A few posts from `userId`'s allowance across all rooms, for a room's slice (room/allowance-slices.ts). */
export function leasePosts(env: Env, userId: number): Promise<Lease> {
  return userSockets(env, userId).leasePosts(userId);
}

/**
 * A socket holding `slot` joins `user:ID` (its own user's): from now on its holder is sent the user's
 * `read_state`s for it, until `unwatchUserTopic` with the same `watch` (a fresh id per join), or the slot's
 * release. Answers the user's counts in every room they may read, for the join reply; past the join
 * allowance (the room's, per user) `rate_limited`, and nothing is watched.
 */
export function watchUserTopic(env: Env, userId: number, slot: string, watch: string): Promise<WatchAnswer> {
  return userSockets(env, userId).watch(userId, slot, watch);
}

/**
 * The socket left `user:ID` (or its join failed): the watch `watch` ends, unless a later join replaced it.
 * Never rejects: a watch left behind is dropped at the next `read_state` its holder no longer takes.
 */
export function unwatchUserTopic(env: Env, userId: number, slot: string, watch: string, where: string): Promise<void> {
  return userSockets(env, userId)
    .unwatch(slot, watch)
    .catch((problem) => logError(`${where}: unwatch user topic`, problem));
}

/**
 * Tells the `UserSockets` of each of `userIds` that their read state in `room` (src/db/read-states.ts) may
 * have changed, once D1 has what changed it: each pushes `read_state` to the user's sockets watching their
 * `user:ID` topic, if any. One call per block of users. Never rejects: a lost notice costs a count that is
 * stale until the next one; the failure is logged as coming from `where`.
 */
export async function readStatesChanged(
  env: Env,
  room: string,
  userIds: readonly number[],
  where: string,
): Promise<void> {
  const blocks = new Map<number, number[]>();
  for (const userId of userIds) {
    const block = Math.floor(userId / USERS_PER_OBJECT);
    const users = blocks.get(block);
    if (users) users.push(userId);
    else blocks.set(block, [userId]);
  }
  await Promise.all(
    [...blocks.values()].map((users) =>
      userSockets(env, users[0] as number)
        .readStatesChanged(room, users)
        .catch((problem) => logError(`${where}: read states changed`, problem)),
    ),
  );
}
