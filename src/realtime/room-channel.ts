/**
 * The room channel (a Phoenix.Channel): `join/3`, `handle_in/3` and `handle_out/3` for topic `room:ROOM`.
 *
 * Plain functions over a {@link ChannelContext}; they never touch the WebSocket. The socket layer
 * (socket.ts) routes frames here and sends what they return, and the Durable Object (room.ts) provides
 * the context.
 */
import type { Database } from "../db/client";
import { insertPost, postsAfter, recentPosts } from "../db/posts";
import { mentions } from "../shared/mentions";
import { checkMessage, type Post } from "../shared/post";
import { CATCH_UP_LIMIT, type JoinResponse, RoomErrorReason, RoomEvent } from "../shared/room-channel";
import type { ConnectionState, Member } from "./connection";
import { error, ok, type Payload, type Reply } from "./protocol";

export interface ChannelContext {
  room: string;
  db: Database;
  /** Sends `event` to every joined member whose {@link handleOut} accepts it. */
  broadcast(event: string, payload: object): void;
  log(where: string, problem: unknown): void;
}

export type JoinResult = { ok: true; reply: Reply; mentionsOnly: boolean } | { ok: false; reply: Reply };

export async function join(params: Payload, context: ChannelContext): Promise<JoinResult> {
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
  member: Member,
  context: ChannelContext,
): Promise<Reply> {
  if (event !== RoomEvent.newPost) return error(RoomErrorReason.unknownEvent, { event });

  const checked = checkMessage(payload.message);
  if (!checked.ok) return error(RoomErrorReason.invalid, { errors: { message: checked.error } });

  let post: Post;
  try {
    post = await insertPost(context.db, {
      room: context.room,
      user: member,
      message: checked.message,
      insertedAt: new Date(),
    });
  } catch (problem) {
    context.log("RoomChannel:handle_in new_post", problem);
    return error(RoomErrorReason.unavailable);
  }
  // Only a stored post is broadcast: whatever a member saw is in D1.
  context.broadcast(RoomEvent.newPost, post);
  return ok(post);
}

/**
 * Phoenix's intercept + handle_out: decides, per member, whether a broadcast reaches them. A member who
 * joined with `mentions_only` gets only the posts that mention them.
 */
export function handleOut(event: string, payload: object, member: ConnectionState): boolean {
  if (event !== RoomEvent.newPost || !member.mentionsOnly) return true;
  return mentions((payload as Post).message, member.user.username);
}

function isPostId(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}
