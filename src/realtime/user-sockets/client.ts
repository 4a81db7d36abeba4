/**
 * How the worker and the objects holding sockets reach UserSockets: a slot for each socket, given back
 * when it ends, revocation of every socket a user has, leases from a user's post allowance, and the watches
 * of the `user:ID` topic (which socket gets a user's `read_state`). Callers never build its ids or stubs.
 */
import { logError } from "../../log";
import type { RoomReadState, UserJoinResponse } from "../../shared/user-contract";
import { TOKEN_REVOKED } from "../access/identity";
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

/** One socket's request for a slot: whose, with a token of which generation, for which holder. */
export interface SlotRequest {
  userId: number;
  generation: number;
  holder: SlotHolder;
}

/** A slot refused, as every way in answers it: 403 for a revoked token, 429 at the cap. */
export interface SlotRefusal {
  status: 403 | 429;
  message: string;
}

function refusalOf(result: Exclude<OpenResult, { ok: true }>): SlotRefusal {
  if (result.reason === "revoked") return { status: 403, message: TOKEN_REVOKED };
  return {
    status: 429,
    message: `Too many open sockets: at most ${result.limit} per user across all rooms. Close a tab or another app's connection, then try again.`,
  };
}

/**
 * Takes one of `userId`'s slots (`opening`: {@link openSlot}, or a room's {@link SlotBatches}), then hands
 * the socket over with it. Unless the holder took it (`taken`), the slot comes back here, the one place that
 * knows it was not taken: a refusal, a failure, a thrown error. `where` names the caller in the log if giving
 * the slot back fails.
 */
export async function withSlot<T>(
  env: Env,
  userId: number,
  opening: Promise<OpenResult>,
  where: string,
  handOver: (slot: string) => T | Promise<T>,
  taken: (result: T) => boolean,
): Promise<{ ok: true; result: T } | { ok: false; refusal: SlotRefusal }> {
  const opened = await opening;
  if (!opened.ok) return { ok: false, refusal: refusalOf(opened) };
  let result: T;
  try {
    result = await handOver(opened.slot);
  } catch (problem) {
    await releaseSlot(env, userId, opened.slot, where);
    throw problem;
  }
  if (!taken(result)) await releaseSlot(env, userId, opened.slot, where);
  return { ok: true, result };
}

type UserSocketsStub = ReturnType<Env["USER_SOCKETS"]["get"]>;

/** The name of the object that serves `userId`. */
function objectName(userId: number): string {
  return `users:${Math.floor(userId / USERS_PER_OBJECT)}`;
}

function stubNamed(env: Env, name: string): UserSocketsStub {
  return env.USER_SOCKETS.get(env.USER_SOCKETS.idFromName(name));
}

/** The object that serves `userId`. */
export function userSockets(env: Env, userId: number): UserSocketsStub {
  return stubNamed(env, objectName(userId));
}

/** A slot for a new socket of `userId` with a token of `generation`; refused at the cap or once revoked. */
export function openSlot(env: Env, userId: number, generation: number, holder: SlotHolder): Promise<OpenResult> {
  return userSockets(env, userId).open(userId, generation, holder);
}

interface Waiting {
  request: SlotRequest;
  resolve: (result: OpenResult) => void;
  reject: (problem: unknown) => void;
}

/**
 * Slots for one Durable Object's sockets (a room's), asked for as they arrive: the requests that arrive
 * while a call to a UserSockets object is out go together in its next call (`openMany`), so a burst of
 * connects costs a few calls and writes rather than one of each per socket, and a lone connect costs what
 * {@link openSlot} does. Each object keeps its own: a call's answer belongs to the object that made it.
 */
export class SlotBatches {
  readonly #waiting = new Map<string, Waiting[]>();
  readonly #calling = new Set<string>();

  constructor(private readonly env: Env) {}

  open(request: SlotRequest): Promise<OpenResult> {
    const name = objectName(request.userId);
    return new Promise((resolve, reject) => {
      const waiting = this.#waiting.get(name);
      if (waiting) waiting.push({ request, resolve, reject });
      else this.#waiting.set(name, [{ request, resolve, reject }]);
      if (!this.#calling.has(name)) void this.#call(name);
    });
  }

  /** Calls the object named `name` with whatever waits for it, again and again until nothing does. */
  async #call(name: string): Promise<void> {
    this.#calling.add(name);
    try {
      for (let batch = this.#waiting.get(name); batch !== undefined; batch = this.#waiting.get(name)) {
        this.#waiting.delete(name);
        try {
          const results = await stubNamed(this.env, name).openMany(batch.map(({ request }) => request));
          batch.forEach(({ resolve, reject }, i) => {
            const result = results[i];
            if (result) resolve(result);
            else reject(new Error(`UserSockets ${name} answered ${results.length} of ${batch.length} slot requests`));
          });
        } catch (problem) {
          for (const { reject } of batch) reject(problem);
        }
      }
    } finally {
      this.#calling.delete(name);
    }
  }
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
