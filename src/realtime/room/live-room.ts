/**
 * A room while it is awake (`LiveRoom`): its members' connections and the parts that serve them (presence,
 * recent posts, the post log, rate limits, typing), offered to the room channel as verbs (RoomServices).
 * Built from `getWebSockets()` and each socket's attachment whenever the room wakes, so hibernation and
 * eviction lose nothing a member could notice.
 */
import type { RoomLimits } from "../../config";
import { createDatabase, type Database } from "../../db/client";
import { copyPosts, lastSeq, postsPage } from "../../db/posts";
import type { Post, PostsQuery } from "../../shared/post";
import {
  CATCH_UP_LIMIT,
  type PresenceDiff,
  type PresenceMeta,
  RoomEvent,
  SESSION_ENDED_CLOSE_CODE,
} from "../../shared/room-contract";
import { roomTopic } from "../../shared/rooms";
import { type Admission, TOKEN_REVOKED } from "../access/admission";
import { isRevoked, rememberRevocation } from "../access/remembered-revocations";
import { CloseCode, closeQuietly } from "../phoenix/transport";
import { releaseSlot } from "../user-sockets/client";
import { wakeBy } from "./alarms";
import { handleOut, presenceMeta, type RoomServices } from "./channel";
import { Connection } from "./connection";
import { fanOut } from "./fanout";
import { type Appended, type Confirmation, type PostDraft, PostLog } from "./post-log";
import { Presence } from "./presence";
import { PostRateLimits, type Take } from "./rate-limit";
import { RecentPosts } from "./recent-posts";
import { endChannelOnSocketEnd, type RoomRouting } from "./router";
import { TypingThrottle } from "./typing";

/** How many recent posts the room keeps in memory: enough for any join and most catch-ups. */
export const RECENT_CAPACITY = CATCH_UP_LIMIT;

export class LiveRoom implements RoomRouting, RoomServices {
  readonly topic: string;
  readonly #recent: RecentPosts;
  readonly #postLog: PostLog;
  readonly #rateLimits: PostRateLimits;
  readonly #typing = new TypingThrottle();
  readonly #presence: Presence;
  readonly #members = new Map<WebSocket, Connection>();
  readonly #db: Database;

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly env: Env,
    /** The room's name, as in its topic `room:NAME`. */
    readonly name: string,
    limits: RoomLimits,
    readonly log: (where: string, problem: unknown) => void,
  ) {
    this.topic = roomTopic(name);
    this.#db = createDatabase(env.DB);
    this.#presence = new Presence((diff) => this.#broadcastPresence(diff));
    this.#postLog = new PostLog(ctx.storage, {
      lastSeqInD1: () => lastSeq(this.#db, name),
      copy: (logged) => copyPosts(this.#db, name, logged),
      log,
      timeoutMs: limits.postStoreTimeoutMs,
    });
    this.#recent = new RecentPosts((limit) => this.#newestPosts(limit), RECENT_CAPACITY);
    this.#rateLimits = new PostRateLimits({ perSecond: limits.postsPerSecond, burst: limits.postsBurst });

    for (const ws of ctx.getWebSockets()) {
      const connection = Connection.restore(ws);
      if (connection) this.#members.set(ws, connection);
      else closeQuietly(ws, CloseCode.internalError, "lost connection state; reconnect");
    }
    // Whatever a previous instance logged but could not copy to D1 yet goes now.
    this.resumeCopying();
    const states = [...this.#members.values()].map(({ state }) => state);
    this.#rateLimits.restore(states.map(({ user, postBucket }) => ({ userId: user.id, bucket: postBucket })));
    this.#presence.rebuild(
      states.flatMap((state) =>
        state.joinRef !== null && state.presence
          ? [[String(state.user.id), presenceMeta(state.user.username, state.presence)] as const]
          : [],
      ),
    );
  }

  /** The room name a woken instance finds in its sockets' attachments, if it has any. */
  static nameOf(ctx: DurableObjectState): string | undefined {
    for (const ws of ctx.getWebSockets()) {
      const connection = Connection.restore(ws);
      if (connection) return connection.state.room;
    }
    return undefined;
  }

  // Sockets: what the Durable Object shell and the router work with.

  /** Accepts an admitted socket, unless its token generation was revoked while it was on its way. */
  admit(admission: Admission, accept: (attach: (server: WebSocket) => void) => Response): Response {
    if (isRevoked(this.ctx.storage, admission.user.id, admission.token.generation)) {
      // The socket endpoint gives the slot back: it did not become a socket here.
      return new Response(TOKEN_REVOKED, { status: 403 });
    }
    const response = accept((server) => this.#members.set(server, Connection.open(server, admission)));
    // Even a member who only listens is let go when their token expires (see `dropExpired`).
    wakeBy(this.ctx.storage, admission.token.expiresAt).catch((problem) => this.log("Room:admit alarm", problem));
    return response;
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
    endChannelOnSocketEnd(connection, this);
    const { user, slot } = connection.state;
    return slot ? releaseSlot(this.env, user.id, slot, `Room ${this.name}`) : Promise.resolve();
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

  /** Copies to D1 whatever the log holds that D1 does not (after a failure, or when the room wakes). */
  resumeCopying(): void {
    if (this.#postLog.uncopied) this.#postLog.resume();
  }

  // RoomServices: the verbs the room channel uses.

  recentReady(): Promise<void> {
    return this.#recent.ready();
  }

  recentPosts(limit: number): Post[] {
    return this.#recent.newest(limit);
  }

  recentAfter(id: number): Post[] | undefined {
    return this.#recent.after(id);
  }

  /**
   * A page of the room's posts, oldest first, from D1 and the log together: D1 has every post but maybe
   * not the last few milliseconds' (they are on their way), the log has those, so the union of each one's
   * best `limit` holds the true page.
   */
  async page(query: PostsQuery): Promise<Post[]> {
    const fromD1 = await postsPage(this.#db, this.name, query);
    // Read after D1 answers: anything logged meanwhile is then in one of the two.
    const merged = unionById(fromD1, this.#postLog.range(query));
    return query.after !== undefined ? merged.slice(0, query.limit) : merged.slice(-query.limit);
  }

  takePostToken(connection: Connection): Take {
    const taken = this.#rateLimits.take(connection.state.user.id);
    // Kept with the socket, so the limit survives an eviction.
    connection.update({ postBucket: taken.bucket });
    return taken;
  }

  postLogReady(): Promise<void> {
    return this.#postLog.ready();
  }

  storePost(draft: PostDraft): Appended {
    const appended = this.#postLog.append(draft);
    if (appended.kind === "stored") {
      // In id order: into memory, then out to every member, before anyone hears of a later post.
      this.#recent.append([appended.post]);
      this.broadcast(RoomEvent.newPost, appended.post);
    }
    return appended;
  }

  confirmed(post: Post): Promise<Confirmation> {
    return this.#postLog.confirmed(post);
  }

  presenceStateJson(): string {
    return this.#presence.stateJson();
  }

  trackPresence(key: string, meta: PresenceMeta): void {
    this.#presence.track(key, meta);
  }

  untrackPresence(key: string, meta: PresenceMeta): void {
    this.#presence.untrack(key, meta);
  }

  shouldRelayTyping(connection: Connection): boolean {
    return this.#typing.shouldRelay(connection.ws);
  }

  broadcast(event: string, payload: object): void {
    fanOut(this.#members.values(), this.topic, event, payload, handleOut);
  }

  /** The newest posts, for the memory of a woken room: from the log, and from D1 only if the log is short. */
  async #newestPosts(limit: number): Promise<Post[]> {
    const logged = this.#postLog.newest(limit);
    if (logged.length >= limit || this.#postLog.complete) return logged;
    const stored = await postsPage(this.#db, this.name, { limit });
    return unionById(stored, this.#postLog.newest(limit)).slice(-limit);
  }

  #broadcastPresence(diff: PresenceDiff): void {
    try {
      this.broadcast(RoomEvent.presenceDiff, diff);
    } catch (problem) {
      this.log("Room:presence_diff", problem);
    }
  }
}

/** Both lists in id order, each post once. */
function unionById(a: readonly Post[], b: readonly Post[]): Post[] {
  const byId = new Map<number, Post>();
  for (const post of [...a, ...b]) byId.set(post.id, post);
  return [...byId.values()].sort((x, y) => x.id - y.id);
}
