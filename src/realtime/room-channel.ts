/**
 * The room channel (a Phoenix.Channel): `join/3`, `handle_in/3` and `handle_out/3` for topic `room:ROOM`.
 *
 * Plain functions over a {@link ChannelContext}; they never touch the WebSocket. The socket layer
 * (socket.ts) routes frames here and acts on what they return, and the Durable Object (room.ts) provides
 * the context.
 */
import type { Database } from "../db/client";
import { insertPost, postsAfter, recentPosts } from "../db/posts";
import { currentTokenGeneration } from "../db/users";
import { mentions } from "../shared/mentions";
import { checkMessage, type Post } from "../shared/post";
import { CATCH_UP_LIMIT, type JoinResponse, RoomErrorReason, RoomEvent } from "../shared/room-channel";
import type { ConnectionState } from "./connection";
import { error, ok, type Payload, type Reply } from "./protocol";

export interface ChannelContext {
  room: string;
  db: Database;
  /** Sends `event` to every joined member whose {@link handleOut} accepts it. */
  broadcast(event: string, payload: object): void;
  log(where: string, problem: unknown): void;
}

/** Why a member's socket must end: its token no longer holds. */
export type SessionEnd = "token revoked" | "token expired";

export interface ChannelResult {
  reply: Reply;
  /** Set when the socket must be closed after the reply (Phoenix would `disconnect` it). */
  endSession?: SessionEnd;
}

export type JoinResult = (ChannelResult & { ok: false }) | { ok: true; reply: Reply; mentionsOnly: boolean };

export async function join(params: Payload, member: ConnectionState, context: ChannelContext): Promise<JoinResult> {
  const errors: Record<string, string> = {};
  const mentionsOnly = params.mentions_only ?? false;
  if (typeof mentionsOnly !== "boolean") errors.mentions_only = "must be true or false";
  const lastSeenId = params.last_seen_id;
  if (lastSeenId !== undefined && lastSeenId !== null && !isPostId(lastSeenId)) {
    errors.last_seen_id = "must be a non-negative integer";
  }
  if (Object.keys(errors).length > 0) return { ok: false, reply: error(RoomErrorReason.invalid, { errors }) };

  let posts: Post[];
  try {
    const ended = await sessionEnded(member, context.db);
    if (ended) return { ok: false, ...endSession(ended) };
    posts = isPostId(lastSeenId)
      ? await postsAfter(context.db, context.room, lastSeenId, CATCH_UP_LIMIT)
      : await recentPosts(context.db, context.room);
  } catch (problem) {
    context.log("RoomChannel:join", problem);
    return { ok: false, reply: error(RoomErrorReason.unavailable) };
  }
  return { ok: true, reply: ok({ posts } satisfies JoinResponse), mentionsOnly: mentionsOnly === true };
}

export async function handleIn(
  event: string,
  payload: Payload,
  member: ConnectionState,
  context: ChannelContext,
): Promise<ChannelResult> {
  if (event !== RoomEvent.newPost) return { reply: error(RoomErrorReason.unknownEvent, { event }) };

  const checked = checkMessage(payload.message);
  if (!checked.ok) return { reply: error(RoomErrorReason.invalid, { errors: { message: checked.error } }) };
  if (isExpired(member)) return endSession("token expired");

  let post: Post | undefined;
  try {
    post = await insertPost(context.db, {
      room: context.room,
      user: member.user,
      tokenGeneration: member.token.generation,
      message: checked.message,
      insertedAt: new Date(),
    });
  } catch (problem) {
    context.log("RoomChannel:handle_in new_post", problem);
    return { reply: error(RoomErrorReason.unavailable) };
  }
  if (!post) return endSession("token revoked");
  // Only a stored post is broadcast: whatever a member saw is in D1.
  context.broadcast(RoomEvent.newPost, post);
  return { reply: ok(post) };
}

/**
 * Phoenix's intercept + handle_out: decides, per member, whether a broadcast reaches them. A member who
 * joined with `mentions_only` gets only the posts that mention them.
 */
export function handleOut(event: string, payload: object, member: ConnectionState): boolean {
  if (event !== RoomEvent.newPost || !member.mentionsOnly) return true;
  return mentions((payload as Post).message, member.user.username);
}

/** A token is checked at the upgrade; a long-lived socket is checked again on every join and post. */
async function sessionEnded(member: ConnectionState, db: Database): Promise<SessionEnd | undefined> {
  if (isExpired(member)) return "token expired";
  const generation = await currentTokenGeneration(db, member.user.id);
  return generation === member.token.generation ? undefined : "token revoked";
}

function isExpired(member: ConnectionState): boolean {
  return Date.now() >= member.token.expiresAt;
}

function endSession(reason: SessionEnd): ChannelResult {
  return { reply: error(RoomErrorReason.unauthorized, { detail: reason }), endSession: reason };
}

function isPostId(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}
