/**
 * A room while it is awake (`LiveRoom`): its members' connections and the parts that serve them (presence,
 * recent posts, the post log, rate limits, typing), offered to the room channel as verbs (RoomServices).
 * Built from `getWebSockets()` and each socket's attachment whenever the room wakes, so hibernation and
 * eviction lose nothing a member could notice.
 */
import type { RoomLimits } from "../../config";
import { batch } from "../../db/batch";
import { createDatabase, type Database } from "../../db/client";
import { type ChangesQuery, changesPage, copyLogged, lastSeq, postSeqsBy, postsPage } from "../../db/posts";
import { type ReadPosition, readPositionStatements, roomReadPositions } from "../../db/read-states";
import { mirrorBans } from "../../db/room-bans";
import { insertRoomWithinAllowance, mirroredMembers, mirrorRoom, roomRow } from "../../db/rooms";
import { indexNewPosts } from "../../db/search-index";
import type { Post, PostsQuery } from "../../shared/post";
import {
  CATCH_UP_LIMIT,
  type Change,
  type ModerationState,
  type PresenceDiff,
  type PresenceMeta,
  RoomEvent,
  SESSION_ENDED_CLOSE_CODE,
} from "../../shared/room-contract";
import { isPrivateRoomId, isRoomName, roomTopic } from "../../shared/rooms";
import { type Admission, TOKEN_REVOKED } from "../access/admission";
import type { Identity } from "../access/identity";
import { isRevoked, rememberRevocation } from "../access/remembered-revocations";
import type { EncodedReply } from "../phoenix/serializer";
import { CloseCode, closeQuietly } from "../phoenix/transport";
import { wakeBy } from "../shell/alarms";
import { leasePosts, readStatesChanged, releaseSlot } from "../user-sockets/client";
import { AllowanceSlices, type AllowanceTake } from "./allowance-slices";
import { announcement, handleOut, type PostChangeDraft, presenceMeta, type RoomServices } from "./channel";
import { Connection, type ConnectionState } from "./connection";
import { fanOut } from "./fanout";
import { checkTitle, type GovernedRoom, NO_SUCH_ROOM, type Outcome, type RoomView, viewOf } from "./governance";
import { Invites } from "./invites";
import { JoinReplies } from "./join-replies";
import { type Member, Membership, type Role, type RoomRecord } from "./membership";
import { isExempt, Moderation, type Speech, type SpeechRefusal, speechRefusal } from "./moderation";
import type { ModeratedRoom } from "./moderation-actions";
import { decideDelete } from "./post-changes";
import {
  type Appended,
  type ChangeAppended,
  type ChangeDraft,
  type Confirmation,
  type PostDraft,
  PostLog,
} from "./post-log";
import { Presence } from "./presence";
import { RateLimits, type Take } from "./rate-limit";
import { ReadPositions } from "./read-positions";
import { ReadStateNotices } from "./read-state-notices";
import { RecentPosts } from "./recent-posts";
import { endChannelFor, endChannelOnSocketEnd, type RoomRouting } from "./router";
import { SearchIndexing } from "./search-indexing";
import { TypingThrottle } from "./typing";
import { WriteTurns } from "./write-turns";

/** How many recent posts the room keeps in memory: enough for any join and most catch-ups. */
export const RECENT_CAPACITY = CATCH_UP_LIMIT;

/** How soon a mirror to D1 that failed is tried again (by the alarm). */
const MIRROR_RETRY_MS = 5_000;

/** What a room needs to be created: by its first joiner (a public room), or through the API. */
export interface RoomCreation {
  kind: RoomRecord["kind"];
  title: string | null;
  dmPair: string | null;
  /** The owner; for a direct message, the one who opened it. */
  creator: Identity;
  /** A direct message's other person. */
  partner?: Identity;
}

export class LiveRoom implements RoomRouting, RoomServices, GovernedRoom, ModeratedRoom {
  readonly topic: string;
  readonly membership: Membership;
  readonly invites: Invites;
  readonly moderation: Moderation;
  readonly #recent: RecentPosts;
  /** New posts wait here for the room's next turn, so those that arrive together share a commit. */
  readonly #writeTurns: WriteTurns;
  readonly #joinReplies: JoinReplies;
  readonly #readPositions: ReadPositions;
  readonly #notices: ReadStateNotices;
  /**
   * Members added since the last mirror to D1, to be given a read position by it; `founding`: one of a new
   * room's first members, who start at its beginning (0) without the room asking D1 its last seq.
   */
  readonly #newMembers = new Map<number, { user: Identity; founding: boolean }>();
  #postLogInstance: PostLog | undefined;
  readonly #postLogOptions: ConstructorParameters<typeof PostLog>[1];
  readonly #searchIndexing: SearchIndexing;
  #establishing: Promise<Outcome<RoomView>> | undefined;
  readonly #rateLimits: RateLimits;
  readonly #allowance: AllowanceSlices;
  readonly #joinLimits: RateLimits;
  readonly #typing = new TypingThrottle();
  readonly #presence: Presence;
  readonly #members = new Map<WebSocket, Connection>();
  readonly #db: Database;
  readonly #roomsPerUserPerDay: number;
  readonly editWindowMs: number;

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly env: Env,
    /** The room's name, as in its topic `room:NAME`. */
    readonly name: string,
    limits: RoomLimits,
    readonly log: (where: string, problem: unknown) => void,
  ) {
    this.topic = roomTopic(name);
    this.#writeTurns = new WriteTurns(log);
    this.#db = createDatabase(env.DB);
    this.membership = new Membership(ctx.storage, (change) => {
      this.#streamChange("member", { ...change });
      if (change.action === "added") this.#newMembers.set(change.user.id, { user: change.user, founding: false });
    });
    this.invites = new Invites(ctx.storage);
    this.moderation = new Moderation(
      ctx.storage,
      () => this.membership.record !== undefined,
      // What every member may know of it: the action, whom and its details, not who acted (the log's, for
      // the room's moderators).
      ({ action, target, details }) => this.#streamChange("moderation", { action, target, ...details }),
    );
    this.#roomsPerUserPerDay = limits.roomsPerUserPerDay;
    this.editWindowMs = limits.editWindowMs;
    this.#presence = new Presence((diff) => this.#broadcastPresence(diff));
    this.#readPositions = new ReadPositions(ctx.storage, {
      readStored: () => roomReadPositions(this.#db, name),
      changed: () => {
        if (this.membership.record) this.#postLog.positionsChanged();
      },
      log,
      defer: (write) => this.#writeTurns.later(write),
    });
    this.#notices = new ReadStateNotices(this.#readPositions, {
      mayRead: (userId) => this.mayPost(userId),
      send: (userIds) => readStatesChanged(env, name, userIds, `Room ${name}`),
    });
    this.#postLogOptions = {
      lastSeqInD1: () => lastSeq(this.#db, name),
      copy: (logged, positions) => copyLogged(this.#db, name, logged, positions),
      positions: this.#readPositions,
      committed: (logged, positions) => this.#notices.committed(logged, positions),
      copied: (seq) => this.#searchIndexing.copied(seq),
      log,
      timeoutMs: limits.postStoreTimeoutMs,
    };
    this.#searchIndexing = new SearchIndexing(ctx.storage, { index: () => indexNewPosts(this.#db), log });
    this.#recent = new RecentPosts(
      (limit) => this.#newestPosts(limit),
      RECENT_CAPACITY,
      (limit) => this.#postLog.recentChanges(limit),
    );
    this.#joinReplies = new JoinReplies(this.#recent);
    this.#rateLimits = new RateLimits({ perSecond: limits.postsPerSecond, burst: limits.postsBurst });
    this.#allowance = new AllowanceSlices((userId) => leasePosts(env, userId), log);
    this.#joinLimits = new RateLimits({ perSecond: limits.joinsPerMinute / 60, burst: limits.joinsBurst });

    for (const ws of ctx.getWebSockets()) {
      const connection = Connection.restore(ws);
      if (connection) this.#members.set(ws, connection);
      else closeQuietly(ws, CloseCode.internalError, "lost connection state; reconnect");
    }
    // Whatever a previous instance logged but could not copy to D1 yet goes now.
    this.resumeCopying();
    const states = [...this.#members.values()].map(({ state }) => state);
    this.#rateLimits.restore(states.map(({ user, postBucket }) => ({ userId: user.id, bucket: postBucket })));
    this.#joinLimits.restore(states.map(({ user, joinBucket }) => ({ userId: user.id, bucket: joinBucket })));
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
    // A private room is only ever created with its members, so a non-member is refused before a socket;
    // someone it banned gets one, whose join is refused `banned`, so that they learn why on every way in.
    const { id } = admission.user;
    if (isPrivateRoomId(this.name) && !this.membership.roleOf(id) && !this.moderation.isBanned(id)) {
      return new Response(NO_SUCH_ROOM, { status: 404 });
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

  /**
   * Copies to D1 whatever the log holds that D1 does not, and indexes for search what D1 has but the index
   * does not (after a failure, or when the room wakes).
   */
  resumeCopying(): void {
    if (!this.membership.record) return;
    if (this.#postLog.copyPending) this.#postLog.resume();
    this.#searchIndexing.resume(this.#postLog.copiedThrough);
  }

  // The room itself: created once, by its first joiner or through the API; then governed (governance.ts).

  /**
   * Whether `user` may join the channel now: a public room is created by its first joiner (within their
   * allowance); a private room only lets its members in.
   */
  async admitToChannel(user: Identity): Promise<"ok" | "no such room" | "room limit" | "unavailable" | "banned"> {
    if (!this.membership.record) {
      if (!isRoomName(this.name)) return "no such room";
      const created = await this.establish({ kind: "public", title: null, dmPair: null, creator: user });
      if (!created.ok && !this.membership.record) return created.status === 429 ? "room limit" : "unavailable";
    }
    if (this.moderation.isBanned(user.id)) return "banned";
    return this.mayPost(user.id) ? "ok" : "no such room";
  }

  /** Whether `userId` may read (and post, moderation allowing): anyone unbanned in a public room, members in the others. */
  mayPost(userId: number): boolean {
    const record = this.membership.record;
    return (
      record !== undefined &&
      (record.kind === "public" || this.membership.roleOf(userId) !== undefined) &&
      !this.moderation.isBanned(userId)
    );
  }

  isBanned(userId: number): boolean {
    return this.moderation.isBanned(userId);
  }

  /** Whether the room exists, adopting it from D1 if it is from before rooms had owners. Creates nothing. */
  async exists(): Promise<boolean> {
    if (this.membership.record) return true;
    if (!isRoomName(this.name)) return false;
    await this.#adopt();
    return this.membership.record !== undefined;
  }

  /**
   * Creates the room (once: concurrent attempts share the first one's outcome), after D1 took its row within
   * the creator's allowance; a public room from before rooms had owners is adopted from D1 instead.
   */
  async establish(creation: RoomCreation): Promise<Outcome<RoomView>> {
    const first = this.#establishing;
    if (first) {
      // Someone else is creating it: whoever that is owns it; this creation finds it taken.
      await first.catch(() => undefined);
      if (this.membership.record) return { ok: false, status: 409, error: this.#takenMessage() };
      return this.establish(creation);
    }
    const mine = this.#establish(creation).finally(() => {
      this.#establishing = undefined;
    });
    this.#establishing = mine;
    return mine;
  }

  async #establish({ kind, title: rawTitle, dmPair, creator, partner }: RoomCreation): Promise<Outcome<RoomView>> {
    if (this.membership.record) return { ok: false, status: 409, error: this.#takenMessage() };
    const checked = kind === "dm" ? { ok: true as const, value: null } : checkTitle(rawTitle, kind === "private");
    if (!checked.ok) return { ok: false, status: 422, error: `title ${checked.error}` };
    const title = checked.value;
    if (kind === "public") {
      await this.#adopt();
      if (this.membership.record) return { ok: false, status: 409, error: this.#takenMessage() };
    }
    const createdAt = new Date();
    const ownerId = kind === "dm" ? null : creator.id;
    const inserted = await insertRoomWithinAllowance(
      this.#db,
      { id: this.name, kind, title, createdBy: creator.id, ownerId, dmPair, createdAt },
      this.#roomsPerUserPerDay,
    );
    if (inserted === "over allowance") {
      return {
        ok: false,
        status: 429,
        error: `You have created ${this.#roomsPerUserPerDay} rooms in the last 24 hours; try again tomorrow.`,
      };
    }
    if (inserted === "taken") return { ok: false, status: 409, error: this.#takenMessage() };
    const at = createdAt.getTime();
    const first: Member = {
      userId: creator.id,
      username: creator.username,
      role: ownerId ? "owner" : "member",
      addedAt: at,
    };
    const members = partner
      ? [first, { userId: partner.id, username: partner.username, role: "member" as const, addedAt: at }]
      : [first];
    const pairNames = partner ? { [creator.id]: creator.username, [partner.id]: partner.username } : null;
    this.membership.establish({ id: this.name, kind, title, ownerId, createdAt: at, dmPair, pairNames }, members);
    // A new room: D1 has no positions of it to take over; its first members start at its beginning.
    this.#readPositions.startedEmpty();
    for (const { userId, username } of members) {
      this.#newMembers.set(userId, { user: { id: userId, username }, founding: true });
    }
    await this.mirror();
    return { ok: true, value: viewOf(this, creator.id) as RoomView };
  }

  /** A room D1 knows but this object has no record of: one from before rooms had owners. */
  async #adopt(): Promise<void> {
    const row = await roomRow(this.#db, this.name);
    if (!row || this.membership.record) return;
    const members = await mirroredMembers(this.#db, this.name);
    if (this.membership.record) return;
    this.membership.establish(
      {
        id: row.id,
        kind: row.kind,
        title: row.title,
        ownerId: row.ownerId,
        createdAt: row.createdAt?.getTime() ?? Date.now(),
        dmPair: row.dmPair,
        pairNames: null,
      },
      members.map((member) => ({ ...member, addedAt: member.addedAt.getTime() })),
    );
    // Establishing marks every member for D1, which already has them.
    this.membership.mirrored(members.map(({ userId }) => userId));
  }

  #takenMessage(): string {
    return isRoomName(this.name) ? `The name #${this.name} is taken: open the room, or pick another name.` : "taken";
  }

  /** Ends a removed or banned member's channels here on every socket they hold: a push saying why, then `phx_close`. */
  cutOff(userId: number, reason: string): void {
    for (const connection of this.#members.values()) {
      if (connection.state.user.id === userId && connection.joined) endChannelFor(connection, this, reason);
    }
  }

  /** Makes D1's lists (and its bans) say what the room says; a failure is retried by the alarm. */
  async mirror(): Promise<void> {
    const record = this.membership.record;
    const pending = this.membership.unmirrored;
    const recordChanged = this.membership.recordUnmirrored;
    const bans = this.moderation.unmirroredBans;
    if (!record || (pending.length === 0 && !recordChanged && bans.length === 0)) return;
    try {
      if (pending.length > 0 || recordChanged) {
        const placed = await this.#placeNewMembers();
        await mirrorRoom(this.#db, this.name, {
          ownerId: record.ownerId,
          title: record.title,
          members: pending.map((userId) => {
            const member = this.membership.member(userId);
            return {
              userId,
              member: member ? { userId, role: member.role, addedAt: member.addedAt } : null,
            };
          }),
        });
        this.membership.mirrored(pending, recordChanged);
        // With the membership, so the lists show a new member's counts (0) as soon as they are in.
        if (placed.length > 0) {
          await batch(this.#db, readPositionStatements(this.name, placed));
          this.#readPositions.copied(placed);
        }
        // Who may read the room, as D1 counts it, changed for them.
        this.#notices.accessChanged(pending);
      }
      if (bans.length > 0) {
        await mirrorBans(
          this.#db,
          this.name,
          bans.map((userId) => {
            const ban = this.moderation.banOf(userId);
            return { userId, ban: ban ? { bannedAt: ban.at, bannedBy: ban.by.id } : null };
          }),
        );
        this.moderation.bansMirrored(bans);
        this.#notices.accessChanged(bans);
      }
    } catch (problem) {
      this.log("Room:mirror to D1", problem);
      await wakeBy(this.ctx.storage, Date.now() + MIRROR_RETRY_MS);
    }
  }

  // Moderation (moderation.ts, moderation-actions.ts).

  /** Whether `userId` may post, edit or type here now, and if not, why (moderation.ts's one decision). */
  speechRefusal(userId: number, speech: Speech): SpeechRefusal | undefined {
    return speechRefusal(this, speech, userId);
  }

  /** The `moderation` push's payload for `userId` when anything applies to them (nothing is pushed otherwise). */
  moderationStateJson(userId: number): string | undefined {
    const state = this.#moderationState(userId);
    return state.muted_until !== null || state.read_only || state.slow_mode_seconds > 0
      ? JSON.stringify(state)
      : undefined;
  }

  pushModeration(userId?: number): void {
    const encoded = new Map<number, string>();
    for (const connection of this.#members.values()) {
      const { joinRef, user } = connection.state;
      if (joinRef === null || (userId !== undefined && user.id !== userId)) continue;
      let payload = encoded.get(user.id);
      if (payload === undefined) {
        payload = JSON.stringify(this.#moderationState(user.id));
        encoded.set(user.id, payload);
      }
      connection.send(connection.serializer.push(joinRef, this.topic, RoomEvent.moderation, payload));
    }
  }

  /**
   * A ban's `delete_recent_posts`: each post `userId` made here since `sinceMs` (the log's, and D1's for
   * older ones) is deleted as by a moderator, one change per post, as `delete_post` would; resolves once
   * D1 has them all. Each is decided on the post as it is when its change is logged.
   */
  async deleteRecentPostsBy(userId: number, sinceMs: number, by: Identity): Promise<void> {
    await this.postLogReady();
    const fromD1 = await postSeqsBy(this.#db, this.name, userId, sinceMs);
    const ids = [...new Set([...fromD1, ...this.#postLog.postIdsBy(userId, sinceMs)])].sort((a, b) => a - b);
    let last: number | undefined;
    for (const id of ids) {
      const read = this.knownPost(id) ?? (await this.readPost(id));
      const post = this.knownPost(id) ?? read;
      const decision = decideDelete(post, by.id, this.membership.roleOf(by.id), new Date());
      if (!decision.ok || !post) continue; // deleted meanwhile
      const appended = this.storePostChange({ type: "delete", post: decision.post, previous: post });
      if (appended.kind === "stored") last = appended.change.seq;
    }
    if (last !== undefined && !(await this.copied(last))) throw new Error("the deletions did not reach D1 in time");
  }

  #moderationState(userId: number): ModerationState {
    const mute = this.moderation.muteOf(userId);
    const { slowModeSeconds, readOnly } = this.moderation.modes;
    return {
      muted_until: mute ? new Date(mute.until).toISOString() : null,
      read_only: readOnly,
      slow_mode_seconds: slowModeSeconds,
      exempt: isExempt(this.membership.roleOf(userId)),
    };
  }

  // RoomServices: the verbs the room channel uses.

  recentReady(): Promise<void> {
    return this.#recent.ready();
  }

  joinReply(lastSeenId: number | null): EncodedReply | undefined {
    return this.#joinReplies.reply(lastSeenId);
  }

  olderJoinReply(lastSeenId: number): Promise<EncodedReply> {
    return this.#joinReplies.older(lastSeenId, () => this.page({ after: lastSeenId, limit: CATCH_UP_LIMIT }));
  }

  /**
   * A page of the room's posts, oldest first, each as it is now, from D1 and the log together: D1 has
   * every post but maybe not the last few milliseconds' (they are on their way), the log has those, so the
   * union of each one's best `limit` holds the true page; an edit or deletion D1 does not have yet is in the
   * log too, and wins.
   */
  async page(query: PostsQuery): Promise<Post[]> {
    // A room nobody created has no posts, and reading it must not make storage for it.
    if (!this.membership.record && !(await this.exists())) return [];
    const fromD1 = await postsPage(this.#db, this.name, query);
    // Read after D1 answers: anything logged meanwhile is then in one of the two.
    const merged = unionById(this.#postLog.overlay(fromD1), this.#postLog.range(query));
    return query.after !== undefined ? merged.slice(0, query.limit) : merged.slice(-query.limit);
  }

  /**
   * A page of the room's changes, oldest first: the oldest `limit` with a seq above `after`, from D1 and
   * the log together as {@link page} does, every post as it is now; `has_more` when more follow.
   */
  async changes({ after, limit }: ChangesQuery): Promise<{ changes: Change[]; has_more: boolean }> {
    if (!this.membership.record && !(await this.exists())) return { changes: [], has_more: false };
    const fromD1 = await changesPage(this.#db, this.name, { after, limit: limit + 1 });
    const bySeq = new Map<number, Change>();
    for (const change of [...fromD1, ...this.#postLog.changesAfter(after, limit + 1)]) bySeq.set(change.seq, change);
    const merged = [...bySeq.values()].sort((a, b) => a.seq - b.seq).slice(0, limit + 1);
    const changes = merged.slice(0, limit).flatMap((change): Change[] => {
      if (!("post" in change) && !isPostChangeType(change.type)) return [change];
      const id = change.post?.id;
      const post = (id === undefined ? undefined : this.knownPost(id)) ?? change.post;
      // A change of a post D1 never kept (its author's account is gone) has nothing to show.
      return post ? [{ ...change, post }] : [];
    });
    return { changes, has_more: merged.length > limit };
  }

  takeAllowance(connection: Connection): AllowanceTake | Promise<AllowanceTake> {
    return this.#allowance.take(connection.state.user.id);
  }

  giveBackAllowance(connection: Connection): void {
    this.#allowance.giveBack(connection.state.user.id);
  }

  takeJoinToken(connection: Connection): Take {
    const taken = this.#joinLimits.take(connection.state.user.id);
    // Kept with the socket once half spent, so the limit survives an eviction while the user has a socket here.
    if (this.#joinLimits.worthKeeping(taken.bucket)) connection.update({ joinBucket: taken.bucket });
    return taken;
  }

  takePostToken(connection: Connection): Take {
    const taken = this.#rateLimits.take(connection.state.user.id);
    // Kept with the socket once half spent, so the limit survives an eviction.
    if (this.#rateLimits.worthKeeping(taken.bucket)) connection.update({ postBucket: taken.bucket });
    return taken;
  }

  postLogReady(): Promise<void> {
    return this.#postLog.ready();
  }

  roleOf(userId: number): Role | undefined {
    return this.membership.roleOf(userId);
  }

  knownPost(id: number): Post | undefined {
    return this.#recent.get(id) ?? this.#postLog.current(id);
  }

  async readPost(id: number): Promise<Post | undefined> {
    const known = this.knownPost(id);
    if (known || id > (this.#postLog.lastSeq ?? Number.MAX_SAFE_INTEGER)) return known;
    const [stored] = await postsPage(this.#db, this.name, { after: id - 1, limit: 1 });
    // Changed while D1 answered: the log has it as it is now.
    return this.knownPost(id) ?? (stored?.id === id ? stored : undefined);
  }

  priorChange(userId: number, key: string): number | undefined {
    return this.#postLog.claimed(userId, key);
  }

  storePostChange({ type, post, previous, idempotency }: PostChangeDraft): ChangeAppended {
    const at = new Date((type === "delete" ? post.deleted_at : post.edited_at) ?? Date.now());
    const event = type === "delete" ? RoomEvent.postDeleted : RoomEvent.postUpdated;
    const appended = this.appendChange({ type, post, at, ...(idempotency ? { idempotency } : {}) }, (seq) => ({
      event,
      payload: announcement(post, seq),
      previous,
    }));
    // Whom the text mentioned before counts too, once D1 has the edit.
    if (appended.kind === "stored" && type === "edit") this.#notices.edited(appended.change.seq, previous);
    return appended;
  }

  // Read positions (read-positions.ts): the room decides them; D1 counts from them.

  readPositionsReady(): Promise<void> {
    return this.#readPositions.ready();
  }

  readPosition(user: Identity): number {
    return this.#readPositions.arrive(user, this.#lastSeq());
  }

  lastSeq(): number | undefined {
    const logged = this.#postLog.lastSeq;
    return logged === undefined ? undefined : Math.max(logged, this.#recent.lastSeq);
  }

  markRead(user: Identity, upToId: number): number {
    return this.#readPositions.markRead(user, upToId);
  }

  markUnread(user: Identity, fromId: number): number {
    return this.#readPositions.markUnread(user, fromId);
  }

  /** The room's last seq as far as it knows without asking D1: its log's, or its memory's. */
  #lastSeq(): number {
    return Math.max(this.#recent.lastSeq, this.#postLog.lastSeq ?? 0);
  }

  /**
   * Gives the members added since the last mirror a read position at the room's last seq, and answers the
   * positions to write with the membership. In a room they could not read before (private, a direct
   * message) one kept from an earlier membership moves up to it; in a public room they may have been
   * reading all along, so theirs stands.
   */
  async #placeNewMembers(): Promise<ReadPosition[]> {
    if (this.#newMembers.size === 0) return [];
    // The room's last seq, exactly: from its log, which asks D1 once if it has never held anything. Not for
    // a new room's first members: it has said nothing yet.
    if ([...this.#newMembers.values()].some(({ founding }) => !founding)) {
      await Promise.all([this.postLogReady(), this.#readPositions.ready()]);
    }
    const placed: ReadPosition[] = [];
    for (const [userId, { user, founding }] of this.#newMembers) {
      this.#newMembers.delete(userId);
      if (!this.membership.member(userId)) continue; // removed again meanwhile
      const last = founding ? 0 : this.#lastSeq();
      if (this.membership.record?.kind === "public") this.#readPositions.arrive(user, last);
      else this.#readPositions.admitted(user, last);
      const position = this.#readPositions.positionOf(userId);
      if (position) placed.push(position);
    }
    return placed;
  }

  /**
   * Logs a change of the room other than a new post and tells every member: numbered next in the room's one
   * sequence, durable in the room's log before anyone hears of it, applied to the room's memory (so joins
   * and catch-ups carry it: `changes` in join replies, `GET /rooms/:room/changes`), copied to D1 with the
   * posts. `announce` says what to broadcast, given the change's seq (`previous`: the post before, for the
   * mention filter); an idempotency key already used answers the earlier change's seq and logs nothing.
   * Call after {@link postLogReady}. A moderation action or a membership change is one call:
   * `appendChange({ type: "mute", data: { user_id, until }, at: new Date() }, (seq) => ({ event: "muted",
   * payload: { user_id, until, seq } }))`.
   */
  appendChange(
    draft: ChangeDraft,
    announce?: (seq: number) => { event: string; payload: object; previous?: Post },
  ): ChangeAppended {
    // Numbered after the posts that came before it and wait for their turn.
    this.#writeTurns.flush();
    const appended = this.#postLog.appendChange(draft);
    if (appended.kind === "stored") {
      // In seq order: into memory, then out to every member, before anyone hears of a later change.
      this.#recent.applyChange(appended.change);
      const told = announce?.(appended.change.seq);
      if (told) this.broadcast(told.event, told.payload, told.previous);
    }
    return appended;
  }

  /**
   * A membership change or a moderation action, numbered in the room's change stream (once the log knows
   * its next number): a join's catch-up and `GET /rooms/:room/changes` carry it; nothing is broadcast for it
   * (`moderation` and `membership_ended` tell whom it concerns).
   */
  #streamChange(type: "member" | "moderation", data: Record<string, unknown>): void {
    const at = new Date();
    void this.postLogReady().then(
      () => this.appendChange({ type, data, at }),
      (problem) => this.log(`Room:change stream (${type})`, problem),
    );
  }

  copied(seq: number): Promise<boolean> {
    return this.#postLog.copied(seq);
  }

  inWriteTurn<T>(write: () => T): Promise<T> {
    return this.#writeTurns.run(write);
  }

  storePost(draft: PostDraft): Appended {
    const appended = this.#postLog.append(draft);
    if (appended.kind === "stored") {
      // Slow mode's clock for the poster (written only while slow mode is on, and only for those it binds).
      if (!isExempt(this.membership.roleOf(draft.user.id))) {
        this.moderation.posted(draft.user.id, draft.insertedAt.getTime());
      }
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

  broadcast(event: string, payload: object, previous?: Post): void {
    const out = previous ? (e: string, p: object, m: ConnectionState) => handleOut(e, p, m, previous) : handleOut;
    fanOut(this.#members.values(), this.topic, event, payload, out);
  }

  /** The post log, made on first use: only a room that exists has one. */
  get #postLog(): PostLog {
    this.#postLogInstance ??= new PostLog(this.ctx.storage, this.#postLogOptions);
    return this.#postLogInstance;
  }

  /** The newest posts, for the memory of a woken room: from the log, and from D1 only if the log is short. */
  async #newestPosts(limit: number): Promise<Post[]> {
    const logged = this.#postLog.newest(limit);
    if (logged.length >= limit || this.#postLog.complete) return logged;
    const stored = await postsPage(this.#db, this.name, { limit });
    return unionById(this.#postLog.overlay(stored), this.#postLog.newest(limit)).slice(-limit);
  }

  #broadcastPresence(diff: PresenceDiff): void {
    try {
      this.broadcast(RoomEvent.presenceDiff, diff);
    } catch (problem) {
      this.log("Room:presence_diff", problem);
    }
  }
}

function isPostChangeType(type: string): boolean {
  return type === "post" || type === "edit" || type === "delete";
}

/** Both lists in id order, each post once (the later list's version when both have it). */
function unionById(a: readonly Post[], b: readonly Post[]): Post[] {
  const byId = new Map<number, Post>();
  for (const post of [...a, ...b]) byId.set(post.id, post);
  return [...byId.values()].sort((x, y) => x.id - y.id);
}
