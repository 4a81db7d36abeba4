/**
 * Everything one room holds while it is awake: its members' connections, presence, recent history, the
 * post log, rate limits and typing throttles, wired together as the {@link SocketContext} that the
 * socket layer and the room channel work with.
 *
 * It is built when the room wakes, from `getWebSockets()` and each socket's attachment (the
 * workers-chat-demo idiom), so hibernation and eviction lose nothing a member could notice: who is
 * here, who has joined with which join_ref and filter, who is present, and each poster's bucket. The
 * post log is in the room's own storage; the recent history is warmed from it on first use.
 */

import type { RoomLimits } from "../../config";
import { createDatabase, type Database } from "../../db/client";
import { copyPosts, lastSeq, postsAfter, postsBefore, recentPosts } from "../../db/posts";
import type { Post } from "../../shared/post";
import { CATCH_UP_LIMIT, type PresenceDiff, RoomEvent, SESSION_ENDED_CLOSE_CODE } from "../../shared/room-contract";
import { roomTopic } from "../../shared/rooms";
import type { Admission } from "../access/admission";
import { isRevoked, rememberRevocation } from "../access/remembered-revocations";
import { CloseCode, closeQuietly } from "../phoenix/transport";
import { releaseSlot } from "../user-sockets/user-sockets";
import { wakeBy } from "./alarms";
import { handleOut, presenceMeta } from "./channel";
import { Connection } from "./connection";
import { fanOut } from "./fanout";
import { PostLog } from "./post-log";
import { Presence } from "./presence";
import { PostRateLimits } from "./rate-limit";
import { RecentHistory } from "./recent-posts";
import { handleGone, type SocketContext } from "./router";
import { TypingThrottle } from "./typing";

/** How many recent posts the room keeps in memory: enough for any join and most catch-ups. */
export const HISTORY_CAPACITY = CATCH_UP_LIMIT;

export class RoomState implements SocketContext {
  readonly topic: string;
  readonly recent: RecentHistory;
  readonly postLog: PostLog;
  readonly rateLimits: PostRateLimits;
  readonly typing = new TypingThrottle();
  readonly presence: Presence;
  readonly #members = new Map<WebSocket, Connection>();
  readonly #db: Database;

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly env: Env,
    readonly room: string,
    limits: RoomLimits,
    readonly log: (where: string, problem: unknown) => void,
  ) {
    this.topic = roomTopic(room);
    this.#db = createDatabase(env.DB);
    this.presence = new Presence((diff) => this.#broadcastPresence(diff));
    this.postLog = new PostLog(ctx.storage, {
      lastSeqInD1: () => lastSeq(this.#db, room),
      copy: (logged) => copyPosts(this.#db, room, logged),
      log,
      timeoutMs: limits.postStoreTimeoutMs,
    });
    this.recent = new RecentHistory((limit) => this.#newestPosts(limit), HISTORY_CAPACITY);
    this.rateLimits = new PostRateLimits({ perSecond: limits.postsPerSecond, burst: limits.postsBurst });

    for (const ws of ctx.getWebSockets()) {
      const connection = Connection.restore(ws);
      if (connection) this.#members.set(ws, connection);
      else closeQuietly(ws, CloseCode.internalError, "lost connection state; reconnect");
    }
    // Whatever a previous instance logged but could not copy to D1 yet goes now.
    if (this.postLog.uncopied) this.postLog.resume();
    const members = [...this.#members.values()];
    this.rateLimits.restore(members);
    this.presence.rebuild(
      members.flatMap(({ state }) =>
        state.joinRef !== null && state.presence
          ? [[String(state.user.id), presenceMeta(state.user.username, state.presence)] as const]
          : [],
      ),
    );
  }

  /** The room name a woken instance finds in its sockets' attachments, if it has any. */
  static roomOf(ctx: DurableObjectState): string | undefined {
    for (const ws of ctx.getWebSockets()) {
      const connection = Connection.restore(ws);
      if (connection) return connection.state.room;
    }
    return undefined;
  }

  /** Accepts an admitted socket, unless its token generation was revoked while it was on its way. */
  admit(admission: Admission): Response {
    if (isRevoked(this.ctx.storage, admission.user.id, admission.token.generation)) {
      // The socket endpoint gives the slot back: it did not become a socket here.
      return new Response("Token revoked: reload the page to get a fresh one.", { status: 403 });
    }
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server);
    this.#members.set(server, Connection.open(server, admission));
    // Even a member who only listens is let go when their token expires (see `dropExpired`).
    wakeBy(this.ctx.storage, admission.token.expiresAt).catch((problem) => this.log("Room:admit alarm", problem));
    const headers = admission.phoenixSubprotocol ? { "Sec-WebSocket-Protocol": "phoenix" } : undefined;
    return new Response(null, { status: 101, webSocket: client, headers });
  }

  get(ws: WebSocket): Connection | undefined {
    return this.#members.get(ws);
  }

  /** Closes the connection and forgets it. */
  drop(connection: Connection, code: number, reason: string): void {
    void this.forget(connection);
    connection.close(code, reason);
  }

  /**
   * The connection has ended: its join ends, its presence leaves, its slot is given back (resolves once
   * it is, so a client that waits for the close can open a new socket in its place). Idempotent.
   */
  forget(connection: Connection): Promise<void> {
    if (!this.#members.delete(connection.ws)) return Promise.resolve();
    connection.markGone();
    handleGone(connection, this);
    const { user, slot } = connection.state;
    return slot ? releaseSlot(this.env, user.id, slot, `Room ${this.room}`) : Promise.resolve();
  }

  broadcast(event: string, payload: object): void {
    fanOut(this.#members.values(), this.topic, event, payload, handleOut);
  }

  /** A stored post, in id order: into the recent history, then out to the members. */
  announce(post: Post): void {
    this.recent.append([post]);
    this.broadcast(RoomEvent.newPost, post);
  }

  /**
   * A page of the room's history, oldest first, from D1 and the log together: D1 has every post but
   * maybe not the last few milliseconds' (they are on their way), the log has those, so the union of
   * each one's best `limit` holds the true page.
   */
  async page(query: HistoryQuery): Promise<Post[]> {
    const { before, after, limit } = query;
    const fromD1 = await (after !== undefined
      ? postsAfter(this.#db, this.room, after, limit)
      : before !== undefined
        ? postsBefore(this.#db, this.room, before, limit)
        : recentPosts(this.#db, this.room, limit));
    // Read after D1 answers: anything logged meanwhile is then in one of the two.
    const fromLog = this.postLog.range({ after, before, limit, newestFirst: after === undefined });
    const merged = unionById(fromD1, fromLog);
    return after !== undefined ? merged.slice(0, limit) : merged.slice(-limit);
  }

  /**
   * Closes the sockets whose token has expired (4001, as a post from them would), listeners included;
   * answers when the next remaining one expires, for the room's alarm.
   */
  dropExpired(now = Date.now()): number | undefined {
    let next: number | undefined;
    for (const connection of [...this.#members.values()]) {
      const { expiresAt } = connection.state.token;
      if (expiresAt <= now) this.drop(connection, SESSION_ENDED_CLOSE_CODE, "token expired");
      else if (next === undefined || expiresAt < next) next = expiresAt;
    }
    return next;
  }

  liveSlots(userId: number): string[] {
    const slots: string[] = [];
    for (const { state } of this.#members.values()) {
      if (state.user.id === userId && state.slot) slots.push(state.slot);
    }
    return slots;
  }

  /** Remembers the revocation (for sockets still on their way here) and closes the sockets it ends. */
  endUserSockets(userId: number, validFrom: number, code: number): void {
    rememberRevocation(this.ctx.storage, userId, validFrom);
    for (const connection of [...this.#members.values()]) {
      const { user, token } = connection.state;
      if (user.id === userId && token.generation < validFrom) this.drop(connection, code, "token revoked");
    }
  }

  /** The newest posts, for the memory of a woken room: from the log, and from D1 only if the log is short. */
  async #newestPosts(limit: number): Promise<Post[]> {
    const logged = this.postLog.newest(limit);
    if (logged.length >= limit || this.postLog.complete) return logged;
    const stored = await recentPosts(this.#db, this.room, limit);
    return unionById(stored, this.postLog.newest(limit)).slice(-limit);
  }

  #broadcastPresence(diff: PresenceDiff): void {
    try {
      this.broadcast(RoomEvent.presenceDiff, diff);
    } catch (problem) {
      this.log("Room:presence_diff", problem);
    }
  }
}

export interface HistoryQuery {
  before?: number;
  after?: number;
  limit: number;
}

/** Both lists in id order, each post once. */
function unionById(a: readonly Post[], b: readonly Post[]): Post[] {
  const byId = new Map<number, Post>();
  for (const post of [...a, ...b]) byId.set(post.id, post);
  return [...byId.values()].sort((x, y) => x.id - y.id);
}
