/**
 * The room channel (a Phoenix.Channel for topic `room:ROOM`): `join`, `after_join`, `handle_in`,
 * `handle_out` and `terminate`.
 *
 * Plain functions over the verbs the live room offers ({@link RoomServices}); they never touch a WebSocket
 * directly. The router (router.ts) routes frames here and sends what these return.
 */
import { mentions } from "../../shared/mentions";
import { checkClientId, checkMessage, checkPostId, type Post, type PostsQuery } from "../../shared/post";
import {
  type PostDeleted,
  type PostUpdated,
  type PresenceMeta,
  type ReadPositionReply,
  RoomErrorReason,
  RoomEvent,
  type TypingPayload,
} from "../../shared/room-contract";
import type { Identity } from "../access/identity";
import { error, isBinary, ok, type Payload, type Ref, type Reply } from "../phoenix/protocol";
import type { EncodedReply } from "../phoenix/serializer";
import type { AllowanceTake } from "./allowance-slices";
import type { Connection, ConnectionState, PresenceEntry } from "./connection";
import type { Delivery } from "./fanout";
import { missedMore, withLastRead } from "./join-replies";
import type { Role } from "./membership";
import type { Speech, SpeechRefusal } from "./moderation";
import { type Decision, decideDelete, decideEdit } from "./post-changes";
import type { Appended, ChangeAppended, Confirmation, PostDraft } from "./post-log";
import type { Take } from "./rate-limit";

/** What the room offers its channel: verbs, so the channel never reaches into the room's parts. */
export interface RoomServices {
  readonly topic: string;
  /** Whether `user` may join now: creates a public room for its first joiner; private rooms: members only. */
  admitToChannel(user: Identity): Promise<"ok" | "no such room" | "room limit" | "unavailable" | "banned">;
  /** Whether `userId` may read (and post): anyone unbanned in a public room, members in the others. */
  mayPost(userId: number): boolean;
  /** Whether `userId` may post, edit or type now (bans, membership, mutes, read-only, slow mode), and why not. */
  speechRefusal(userId: number, speech: Speech): SpeechRefusal | undefined;
  /** The `moderation` push a joiner gets when anything applies to them (a mute, read-only, slow mode). */
  moderationStateJson(userId: number): string | undefined;
  /** Resolves once the newest posts are in memory: the first join after the room wakes reads them. */
  recentReady(): Promise<void>;
  /** Resolves once the room holds every read position (a room from before it kept them takes D1's, once). */
  readPositionsReady(): Promise<void>;
  /** `user`'s read position, made at the room's last seq if they have none (their first join). */
  readPosition(user: Identity): number;
  /** The room's last seq (every post and change up to it is logged); undefined until {@link postLogReady}. */
  lastSeq(): number | undefined;
  /** `mark_read`: moves `user`'s read position forward to `upToId` (never back); answers the position. */
  markRead(user: Identity, upToId: number): number;
  /** `mark_unread`: sets `user`'s read position to just before `fromId`; answers it. */
  markUnread(user: Identity, fromId: number): number;
  /**
   * A join's `ok` reply from memory (the newest posts, or every change after `lastSeenSeq`), encoded once
   * per room state; undefined when memory does not reach back that far.
   */
  joinReply(lastSeenSeq: number | null): EncodedReply | undefined;
  /**
   * A join's `ok` reply from further back than memory holds: the oldest posts after `lastSeenSeq` from D1
   * and the log, with `has_more`; read and encoded once for every join that asks the same.
   */
  olderJoinReply(lastSeenSeq: number): Promise<EncodedReply>;
  /** A page of history from D1 and the log (a retried post's original, once the log has let it go). */
  page(query: PostsQuery): Promise<Post[]>;
  /**
   * Takes a post from the poster's allowance across all rooms: at once from the room's slice, or after a
   * lease from their UserSockets when the slice is spent.
   */
  takeAllowance(connection: Connection): AllowanceTake | Promise<AllowanceTake>;
  /** Gives back a post taken from the allowance for a post the room then refused. */
  giveBackAllowance(connection: Connection): void;
  /** Spends a token from the joiner's bucket (all their sockets and ways into the room share it). */
  takeJoinToken(connection: Connection): Take;
  /** Spends a token from the poster's bucket (all their sockets in the room share it). */
  takePostToken(connection: Connection): Take;
  /** Resolves once the post log can number posts. */
  postLogReady(): Promise<void>;
  /**
   * Runs `write` in the room's next write turn, with the other posts that arrived meanwhile (their rows
   * share one commit: write-turns.ts); synchronously there, so a check in it still holds at the store.
   */
  inWriteTurn<T>(write: () => T): Promise<T>;
  /** Logs a post; a new one goes to every member at once, a repeated `client_id` finds the original's number. */
  storePost(draft: PostDraft): Appended;
  /** Resolves once D1 has the post, or it is clear it will not be confirmed. */
  confirmed(post: Post): Promise<Confirmation>;
  /** How long after posting its author may edit a post (0: no limit). */
  readonly editWindowMs: number;
  /** `userId`'s role in the room, if they are a member. */
  roleOf(userId: number): Role | undefined;
  /** The post numbered `id` as it is now, when the room's memory or log has it (no D1 read). */
  knownPost(id: number): Post | undefined;
  /** The post numbered `id` as it is now, from memory, the log or D1; undefined if the room never had it. */
  readPost(id: number): Promise<Post | undefined>;
  /** The seq of the change `userId` made before with this idempotency key, if any. */
  priorChange(userId: number, key: string): number | undefined;
  /**
   * Logs a post's edit or deletion (`post`: what it makes of the post; `previous`: the post before it)
   * and tells every member at once: `post_updated` or `post_deleted`.
   */
  storePostChange(change: PostChangeDraft): ChangeAppended;
  /** Resolves true once D1 has every change up to `seq`, false when it did not within the poster's wait. */
  copied(seq: number): Promise<boolean>;
  /** Everyone present: every join the room has accepted and not seen leave, published or not. */
  presenceStateJson(): string;
  trackPresence(key: string, meta: PresenceMeta): void;
  untrackPresence(key: string, meta: PresenceMeta): void;
  /** Whether this member's typing goes out now: at most once per interval. */
  shouldRelayTyping(connection: Connection): boolean;
  /** Sends an event to every joined member, each as {@link handleOut} decides. */
  broadcast(event: string, payload: object): void;
  log(where: string, problem: unknown): void;
}

/** An edit or a deletion of a post, as the channel decided it. */
export interface PostChangeDraft {
  type: "edit" | "delete";
  post: Post;
  previous: Post;
  /** The editor's `client_id` for this post, when given. */
  idempotency?: { userId: number; key: string };
}

/** Why a member's socket must end: its token no longer holds. */
export type SessionEnd = "token revoked" | "token expired";

export interface ChannelResult {
  reply: Reply;
  /** Set when the socket must be closed after the reply (Phoenix would `disconnect` it). */
  endSession?: SessionEnd;
}

/**
 * A join that may go ahead carries a `snapshot` to take at the very moment the member is subscribed, so
 * no post can fall between the history in the reply and the first broadcast the member receives; it
 * carries the member's read position as it is then (made on their first join).
 */
export type JoinPlan =
  | ({ ok: false } & ChannelResult)
  | { ok: true; mentionsOnly: boolean; snapshot: () => EncodedReply };

export async function join(
  params: Payload | ArrayBuffer,
  connection: Connection,
  services: RoomServices,
): Promise<JoinPlan> {
  const member = connection.state;
  if (isBinary(params)) return { ok: false, reply: invalid({ params: "must be a JSON object, not binary" }) };
  const errors: Record<string, string> = {};
  const rawMentionsOnly = params.mentions_only ?? false;
  if (typeof rawMentionsOnly !== "boolean") errors.mentions_only = "must be true or false";
  const rawLastSeenSeq = params.last_seen_seq ?? null;
  if (rawLastSeenSeq !== null && !isSeq(rawLastSeenSeq)) errors.last_seen_seq = "must be a non-negative integer";
  const rawLastSeenId = params.last_seen_id ?? null;
  if (rawLastSeenId !== null && !isSeq(rawLastSeenId)) errors.last_seen_id = "must be a non-negative integer";
  if (Object.keys(errors).length > 0) return { ok: false, reply: invalid(errors) };
  const mentionsOnly = rawMentionsOnly === true;
  // A post's id is the seq of its creation, so an older client's `last_seen_id` is a `last_seen_seq` too.
  const seen = isSeq(rawLastSeenSeq) ? rawLastSeenSeq : rawLastSeenId;
  const lastSeenId = isSeq(seen) ? seen : null;
  // Revocation reaches the room as it happens (user-sockets/), so only expiry is left to check here.
  if (isExpired(member)) return { ok: false, ...endSession("token expired") };
  // Before anything that costs the room (creating it, reading history, a reply of up to 500 posts, presence
  // for everyone): past the allowance a join is a cheap refusal, however it came (socket, session, LongPoll).
  const allowed = services.takeJoinToken(connection);
  if (!allowed.ok) {
    return { ok: false, reply: error(RoomErrorReason.rateLimited, { retry_after_ms: allowed.retryAfterMs }) };
  }

  try {
    const access = await services.admitToChannel(member.user);
    if (access !== "ok") return { ok: false, reply: refusedJoin(access) };
    await Promise.all([services.recentReady(), services.readPositionsReady()]);
    // The shared reply, with this member's read position spliced in (not encoded with the posts).
    const own = (shared: EncodedReply) => withLastRead(shared, services.readPosition(member.user));
    if (services.joinReply(lastSeenId) !== undefined) {
      // Memory may have moved past `lastSeenId` by subscription time; then the client pages over HTTP.
      return {
        ok: true,
        mentionsOnly,
        snapshot: () => own(services.joinReply(lastSeenId) ?? missedMore(lastSeenId ?? 0)),
      };
    }
    // Memory does not reach back that far, so more posts were missed than a reply holds: the oldest of
    // them, and the client pages on from there (live posts arrive meanwhile, deduplicated by id).
    const oldest = await services.olderJoinReply(lastSeenId ?? 0);
    return { ok: true, mentionsOnly, snapshot: () => own(oldest) };
  } catch (problem) {
    services.log("RoomChannel:join", problem);
    return { ok: false, reply: error(RoomErrorReason.unavailable) };
  }
}

function refusedJoin(access: "no such room" | "room limit" | "unavailable" | "banned"): Reply {
  switch (access) {
    case "no such room":
      return error(RoomErrorReason.noSuchRoom);
    case "banned":
      return error(RoomErrorReason.banned);
    case "room limit":
      return error(RoomErrorReason.roomLimit, {
        detail: "Joining would create this room, and you have created as many rooms as you may today.",
      });
    case "unavailable":
      return error(RoomErrorReason.unavailable);
  }
}

/**
 * What an accepted join records on its socket, in one attachment write: the join, its filter, and its
 * entry in presence (which {@link afterJoin} then announces).
 */
export function joinedState(joinRef: Ref, mentionsOnly: boolean): Partial<ConnectionState> {
  const presence: PresenceEntry = { phxRef: newPresenceRef(), onlineAt: new Date().toISOString() };
  return { joinRef, mentionsOnly, presence };
}

/**
 * Phoenix's `after_join`: tracks the joiner, then tells it who is here, itself and every join accepted before
 * it included (as Phoenix's tracker lists a local track at once); everyone else hears of it in the next diff.
 */
export function afterJoin(connection: Connection, services: RoomServices): void {
  const { joinRef, user, presence } = connection.state;
  if (joinRef === null || presence === null) return;
  services.trackPresence(String(user.id), presenceMeta(user.username, presence));
  const state = services.presenceStateJson();
  connection.send(connection.serializer.push(joinRef, services.topic, RoomEvent.presenceState, state));
  const moderation = services.moderationStateJson(user.id);
  if (moderation !== undefined)
    connection.send(connection.serializer.push(joinRef, services.topic, RoomEvent.moderation, moderation));
}

/** Phoenix's `terminate`: the join is over (leave, rejoin, close). */
export function terminate(connection: Connection, services: RoomServices): void {
  const { presence, user } = connection.state;
  if (presence) services.untrackPresence(String(user.id), presenceMeta(user.username, presence));
}

export function presenceMeta(username: string, entry: PresenceEntry): PresenceMeta {
  return { username, online_at: entry.onlineAt, phx_ref: entry.phxRef };
}

/**
 * Phoenix's `handle_in`. A post's reply waits for D1 (group commit), so it comes back as a promise; the
 * socket does not wait for it before handling the member's next frame.
 */
export function handleIn(
  event: string,
  payload: Payload | ArrayBuffer,
  connection: Connection,
  services: RoomServices,
): ChannelResult | Promise<ChannelResult> {
  switch (event) {
    case RoomEvent.newPost:
      return newPost(payload, connection, services);
    case RoomEvent.editPost:
      return editPost(payload, connection, services);
    case RoomEvent.deletePost:
      return deletePost(payload, connection, services);
    case RoomEvent.typing:
      return typing(connection, services);
    case RoomEvent.markRead:
      return moveReadPosition(payload, connection, services, "up_to_id", (user, id) => services.markRead(user, id));
    case RoomEvent.markUnread:
      return moveReadPosition(payload, connection, services, "from_id", (user, id) => services.markUnread(user, id));
    default:
      return { reply: error(RoomErrorReason.unknownEvent, { event }) };
  }
}

function newPost(
  payload: Payload | ArrayBuffer,
  connection: Connection,
  services: RoomServices,
): ChannelResult | Promise<ChannelResult> {
  if (isBinary(payload)) return { reply: invalid({ message: "must be text, not binary" }) };
  const message = checkMessage(payload.message);
  const clientId = checkClientId(payload.client_id);
  if (!message.ok || !clientId.ok) {
    const errors: Record<string, string> = {};
    if (!message.ok) errors.message = message.error;
    if (!clientId.ok) errors.client_id = clientId.error;
    return { reply: invalid(errors) };
  }
  const member = connection.state;
  if (isExpired(member)) return endSession("token expired");
  // Decided by the room now, not at the join: membership can end between the two, a mute can begin.
  const refused = services.speechRefusal(member.user.id, "post");
  if (refused) return { reply: speechRefused(refused) };
  // The allowance across rooms first: the room's own bucket then decides at once, with nothing in between.
  const allowance = services.takeAllowance(connection);
  if (allowance instanceof Promise)
    return storeAndConfirm(connection, message.value, clientId.value, services, allowance);
  return (
    refusal(allowance, connection, services) ?? storeAndConfirm(connection, message.value, clientId.value, services)
  );
}

/** The answer to a post the limits refuse: the allowance across rooms, then the room's own bucket. */
function refusal(allowance: AllowanceTake, connection: Connection, services: RoomServices): ChannelResult | undefined {
  if (!allowance.ok) {
    return "unavailable" in allowance
      ? { reply: error(RoomErrorReason.unavailable) }
      : { reply: error(RoomErrorReason.rateLimited, { retry_after_ms: allowance.retryAfterMs }) };
  }
  const allowed = services.takePostToken(connection);
  if (allowed.ok) return undefined;
  services.giveBackAllowance(connection);
  return { reply: error(RoomErrorReason.rateLimited, { retry_after_ms: allowed.retryAfterMs }) };
}

/**
 * Stores the post in the room's log and broadcasts it at once (fan-out never waits for D1), then answers
 * the poster once D1 has it. A retried `client_id` is answered with the original and broadcast no more.
 */
async function storeAndConfirm(
  connection: Connection,
  message: string,
  clientId: string | null,
  services: RoomServices,
  /** The allowance across rooms, when the room had to ask for it: awaited here, so that every post's
   * answer takes the same steps once D1 has it, and posts copied together are answered in order. */
  allowance?: Promise<AllowanceTake>,
): Promise<ChannelResult> {
  if (allowance) {
    const refused = refusal(await allowance, connection, services);
    if (refused) return refused;
  }
  try {
    await services.postLogReady();
  } catch (problem) {
    services.log("RoomChannel:handle_in new_post", problem);
    return { reply: error(RoomErrorReason.unavailable) };
  }
  const decided = await services.inWriteTurn((): { appended: Appended } | { refused: ChannelResult } => {
    // Closed or revoked while the room got ready: the post must not be stored for a member who is gone.
    if (connection.gone) return { refused: { reply: error(RoomErrorReason.unavailable) } };
    const { user } = connection.state;
    // Asked again in the turn that stores it: a mute or a slow mode post may have come meanwhile.
    const refused = services.speechRefusal(user.id, "post");
    if (refused) {
      services.giveBackAllowance(connection);
      return { refused: { reply: speechRefused(refused) } };
    }
    return { appended: services.storePost({ user, message, clientId, insertedAt: new Date() }) };
  });
  if ("refused" in decided) return decided.refused;
  const { appended } = decided;
  if (appended.kind === "stored") return answerConfirmation(await services.confirmed(appended.post));
  // A retry: the original, from the log or, once the log has let it go, from D1 (which has it by then).
  let original = appended.post;
  try {
    original ??= (await services.page({ after: appended.seq - 1, limit: 1 }))[0];
  } catch (problem) {
    services.log("RoomChannel:handle_in new_post (retry)", problem);
  }
  if (original?.id !== appended.seq) return { reply: error(RoomErrorReason.unavailable) };
  return answerConfirmation(await services.confirmed(original));
}

function answerConfirmation(confirmation: Confirmation): ChannelResult {
  switch (confirmation.kind) {
    case "in D1":
      return { reply: ok(confirmation.post) };
    case "unavailable":
      return { reply: error(RoomErrorReason.unavailable) };
    case "gone":
      return endSession("token revoked");
  }
}

/** `edit_post {id, message, client_id?}`: checked like a new post, then decided by the room (post-changes.ts). */
function editPost(
  payload: Payload | ArrayBuffer,
  connection: Connection,
  services: RoomServices,
): ChannelResult | Promise<ChannelResult> {
  if (isBinary(payload)) return { reply: invalid({ message: "must be text, not binary" }) };
  const id = checkPostId(payload.id);
  const message = checkMessage(payload.message);
  const clientId = checkClientId(payload.client_id);
  if (!id.ok || !message.ok || !clientId.ok) {
    const errors: Record<string, string> = {};
    if (!id.ok) errors.id = id.error;
    if (!message.ok) errors.message = message.error;
    if (!clientId.ok) errors.client_id = clientId.error;
    return { reply: invalid(errors) };
  }
  const member = connection.state;
  if (isExpired(member)) return endSession("token expired");
  if (!services.mayPost(member.user.id)) return { reply: error(RoomErrorReason.noSuchRoom) };
  // A muted member cannot edit, nor anyone but a moderator in a read-only room (slow mode is for posts).
  const refused = services.speechRefusal(member.user.id, "edit");
  if (refused) return { reply: speechRefused(refused) };
  // An edit is broadcast like a post, so it spends from the same bucket: a post edited in a loop is a flood.
  const allowed = services.takePostToken(connection);
  if (!allowed.ok) return { reply: error(RoomErrorReason.rateLimited, { retry_after_ms: allowed.retryAfterMs }) };
  const key = clientId.value === null ? undefined : `edit:${id.value}:${clientId.value}`;
  return changePost(
    id.value,
    connection,
    services,
    key,
    (post, now) => decideEdit(post, member.user.id, message.value, now, services.editWindowMs),
    "edit",
  );
}

/** `delete_post {id}`: its author, or a moderator or the owner of the room (post-changes.ts). */
function deletePost(
  payload: Payload | ArrayBuffer,
  connection: Connection,
  services: RoomServices,
): ChannelResult | Promise<ChannelResult> {
  if (isBinary(payload)) return { reply: invalid({ id: "must be sent as JSON, not binary" }) };
  const id = checkPostId(payload.id);
  if (!id.ok) return { reply: invalid({ id: id.error }) };
  const member = connection.state;
  if (isExpired(member)) return endSession("token expired");
  if (!services.mayPost(member.user.id)) return { reply: error(RoomErrorReason.noSuchRoom) };
  // Not rate limited: an author can delete each post once, and a moderator clearing a flood must not wait.
  return changePost(id.value, connection, services, undefined, (post, now) =>
    decideDelete(post, member.user.id, services.roleOf(member.user.id), now),
  );
}

/**
 * Finds the post as it is now (reading D1 only for a post older than the room's memory and log), decides
 * the change on it at the moment it is logged, logs and broadcasts it, and answers once D1 has it. A
 * retried `client_id` is answered with the post as it now is under the first edit's seq.
 */
async function changePost(
  id: number,
  connection: Connection,
  services: RoomServices,
  key: string | undefined,
  decide: (post: Post | undefined, now: Date) => Decision,
  /** Asked of moderation again right before logging (an edit): a mute that landed meanwhile holds. */
  speech?: Speech,
): Promise<ChannelResult> {
  let read: Post | undefined;
  try {
    await services.postLogReady();
    read = services.knownPost(id) ?? (await services.readPost(id));
  } catch (problem) {
    services.log("RoomChannel:handle_in post change", problem);
    return { reply: error(RoomErrorReason.unavailable) };
  }
  if (connection.gone) return { reply: error(RoomErrorReason.unavailable) };
  // From here on nothing awaits until the change is logged: a change logged while D1 answered is in the
  // room's memory or log by now, and is what this one is decided on.
  const post = services.knownPost(id) ?? read;
  const { user } = connection.state;
  const prior = key === undefined ? undefined : services.priorChange(user.id, key);
  if (prior !== undefined) {
    if (!post) return { reply: error(RoomErrorReason.unavailable) };
    return answerChange(await services.copied(prior), { ...post, seq: prior } satisfies PostUpdated);
  }
  const refused = speech === undefined ? undefined : services.speechRefusal(user.id, speech);
  if (refused) return { reply: speechRefused(refused) };
  const decision = decide(post, new Date());
  if (!decision.ok || !post) return { reply: error(decision.ok ? RoomErrorReason.notFound : decision.reason) };
  const type = decision.post.deleted_at === undefined ? "edit" : "delete";
  const idempotency = key === undefined ? undefined : { userId: user.id, key };
  const appended = services.storePostChange({
    type,
    post: decision.post,
    previous: post,
    ...(idempotency ? { idempotency } : {}),
  });
  const seq = appended.kind === "stored" ? appended.change.seq : appended.seq;
  return answerChange(await services.copied(seq), announcement(decision.post, seq));
}

function answerChange(copied: boolean, answer: object): ChannelResult {
  return { reply: copied ? ok(answer) : error(RoomErrorReason.unavailable) };
}

/** How a post's change is told: the whole updated post, or what says it was deleted; with its seq. */
export function announcement(post: Post, seq: number): PostUpdated | PostDeleted {
  if (post.deleted_at === undefined || post.deleted_by === undefined) return { ...post, seq };
  return { id: post.id, deleted_by: post.deleted_by, deleted_at: post.deleted_at, seq };
}

function typing(connection: Connection, services: RoomServices): ChannelResult {
  const member = connection.state;
  if (isExpired(member)) return endSession("token expired");
  const refused = services.speechRefusal(member.user.id, "typing");
  if (refused) return { reply: speechRefused(refused) };
  if (services.shouldRelayTyping(connection)) {
    services.broadcast(RoomEvent.typing, { user: member.user } satisfies TypingPayload);
  }
  return { reply: ok() };
}

/**
 * `mark_read {up_to_id}` (0 to the room's last seq) and `mark_unread {from_id}` (1 to it): the room moves
 * the member's read position and answers `{last_read_id}` at once (D1 gets it with the room's next copy).
 * Access is all it needs: a banned or removed member is refused as for a post, a muted one is not.
 */
function moveReadPosition(
  payload: Payload | ArrayBuffer,
  connection: Connection,
  services: RoomServices,
  field: "up_to_id" | "from_id",
  move: (user: Identity, id: number) => number,
): ChannelResult | Promise<ChannelResult> {
  if (isBinary(payload)) return { reply: invalid({ [field]: "must be sent as JSON, not binary" }) };
  const least = field === "up_to_id" ? 0 : 1;
  const id = payload[field];
  if (typeof id !== "number" || !Number.isSafeInteger(id) || id < least) {
    return {
      reply: invalid({ [field]: least === 0 ? "must be a non-negative integer" : "must be a positive integer" }),
    };
  }
  const member = connection.state;
  if (isExpired(member)) return endSession("token expired");
  const decide = (): ChannelResult => {
    const refused = services.speechRefusal(member.user.id, "read");
    if (refused) return { reply: speechRefused(refused) };
    const last = services.lastSeq() ?? 0;
    if (id > last) return { reply: invalid({ [field]: `must be at most ${last}, the room's last seq` }) };
    return { reply: ok({ last_read_id: move(member.user, id) } satisfies ReadPositionReply) };
  };
  if (services.lastSeq() !== undefined) return decide();
  // A room that has just woken with an empty log asks D1 its last seq once.
  return services.postLogReady().then(decide, (problem) => {
    services.log("RoomChannel:handle_in read position", problem);
    return { reply: error(RoomErrorReason.unavailable) };
  });
}

/**
 * Phoenix's intercept + `handle_out`: how each member receives an event. A member who joined with
 * `mentions_only` gets only the posts that mention them, as a push from their own channel, and only the
 * edits whose text mentions them before (`previous`) or after; typing goes to everyone but the typist's
 * own sockets; everything else (deletions included) to everyone.
 */
export function handleOut(
  event: string,
  payload: object,
  member: Readonly<ConnectionState>,
  previous?: Post,
): Delivery {
  switch (event) {
    case RoomEvent.newPost:
      if (!member.mentionsOnly) return "broadcast";
      return mentions((payload as Post).message, member.user.username) ? "push" : "skip";
    case RoomEvent.postUpdated: {
      if (!member.mentionsOnly) return "broadcast";
      const name = member.user.username;
      const mentioned = mentions((payload as Post).message, name) || (!!previous && mentions(previous.message, name));
      return mentioned ? "push" : "skip";
    }
    case RoomEvent.typing:
      return (payload as TypingPayload).user.id === member.user.id ? "skip" : "broadcast";
    default:
      return "broadcast";
  }
}

function isExpired(member: Readonly<ConnectionState>): boolean {
  return Date.now() >= member.token.expiresAt;
}

function endSession(reason: SessionEnd): ChannelResult {
  return { reply: error(RoomErrorReason.unauthorized, { detail: reason }), endSession: reason };
}

/** A post, edit or typing the room refuses now: `banned`, `no such room`, `muted`, `read_only`, `slow_mode`. */
export function speechRefused({ reason, ...details }: SpeechRefusal): Reply {
  return error(reason, details);
}

function invalid(errors: Record<string, string>): Reply {
  return error(RoomErrorReason.invalid, { errors });
}

function isSeq(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/** What this isolate's presence refs begin with: 48 random bits, made on first use (not at startup). */
let presenceRefPrefix: string | undefined;
let presenceRefCount = 0;

/**
 * Like Phoenix's refs (`make_ref()`, unique per node): unique enough to tell metas apart, even across an
 * eviction (another isolate has another prefix), and short, since every member is sent each one. A count
 * after a random prefix costs nothing per join; random bytes for every join were a measurable part of one.
 */
function newPresenceRef(): string {
  presenceRefPrefix ??= btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(6))))
    .replace(/\+/g, "-")
    .replace(/\//g, "_");
  presenceRefCount += 1;
  return `${presenceRefPrefix}${presenceRefCount.toString(36)}`;
}
