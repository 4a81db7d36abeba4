/**
 * The room's socket layer (Phoenix.Socket's role for a room-bound socket): routes `phx_join`, `phx_leave`
 * and the channel's own events for one connection, with Phoenix's rules (phoenix/socket-replies.ts for
 * the answers every socket gives). A socket is bound to one room, so the only room topic it joins is its
 * own; besides it, it may join its user's `user:ID` topic, which the room answers itself (user-topic.ts).
 */
import { RoomErrorReason, RoomEvent, SESSION_ENDED_CLOSE_CODE } from "../../shared/room-contract";
import { isUserTopic } from "../../shared/user-contract";
import { error, type Message, ok, PhoenixEvent, type Reply, sameRef } from "../phoenix/protocol";
import type { EncodedReply, InvalidFrame } from "../phoenix/serializer";
import { answerHeartbeat, answerMalformed, answerUnmatchedTopic, replyTo } from "../phoenix/socket-replies";
import { CloseCode } from "../phoenix/transport";
import { afterJoin, type ChannelResult, handleIn, join, joinedState, type RoomServices, terminate } from "./channel";
import type { Connection } from "./connection";
import type { RoomUserTopics } from "./user-topic";

/** What routing needs of the room besides the channel's verbs. */
export interface RoomRouting extends RoomServices {
  /** Closes the connection and forgets it. */
  drop(connection: Connection, code: number, reason: string): void;
}

const staleJoin = error(RoomErrorReason.staleJoin);

/**
 * Handles one decoded message from `connection`. Each socket's frames are handled in order, but no socket
 * waits for another's: heartbeats and leaves are answered at once, and a post's reply (which waits for D1)
 * does not hold up the member's next frame.
 */
export function handleMessage(
  connection: Connection,
  message: Message,
  room: RoomRouting,
  userTopics: RoomUserTopics,
): Promise<void> {
  if (answerHeartbeat(connection, message)) return Promise.resolve();
  return connection.serially(() =>
    route(connection, message, room, userTopics).catch((problem) => internalError(connection, message, room, problem)),
  );
}

/** A frame with a ref but fields of the wrong type. */
export function handleMalformed(connection: Connection, frame: InvalidFrame): void {
  answerMalformed(connection, frame);
}

/** The connection is going away (closed, dropped): its join ends without a `phx_close` to send. */
export function endChannelOnSocketEnd(connection: Connection, room: RoomServices): void {
  if (connection.joined) terminate(connection, room);
}

async function route(
  connection: Connection,
  message: Message,
  room: RoomRouting,
  userTopics: RoomUserTopics,
): Promise<void> {
  // Queued behind a join that was waiting while the socket went away (closed, revoked): nothing to do.
  if (connection.gone) return;
  const { topic, event } = message;
  if (isUserTopic(topic)) {
    if (event === PhoenixEvent.join && message.joinRef === null && message.ref === null)
      return dropRefless(connection, room);
    return userTopics.handle(connection, message);
  }
  if (event === PhoenixEvent.join) return routeJoin(connection, message, room);

  const current = connection.state.joinRef;
  if (event === PhoenixEvent.leave) {
    if (topic === room.topic && current !== null && (message.joinRef === null || sameRef(message.joinRef, current))) {
      answer(connection, message, ok());
      endChannel(connection, room);
      return;
    }
    // Not joined: Phoenix answers ok too. A leave that raced a close (an old join_ref): Phoenix sends
    // nothing, but an ok is as true and never leaves the client's leave waiting for its timeout.
    return answer(connection, message, ok());
  }

  if (topic !== room.topic || current === null) return answerUnmatchedTopic(connection, message);
  // A null join_ref is valid on pushes (Phoenix allows it); another join's is a message to a channel that is gone.
  if (message.joinRef !== null && !sameRef(message.joinRef, current)) return answer(connection, message, staleJoin);

  const result = handleIn(event, message.payload, connection, room);
  if (!(result instanceof Promise)) return settle(connection, message, result, room);
  // The reply comes when D1 has the post; meanwhile this socket's next frames go ahead.
  void result.then(
    (settled) => settle(connection, message, settled, room),
    (problem) => internalError(connection, message, room, problem),
  );
}

async function routeJoin(connection: Connection, message: Message, room: RoomRouting): Promise<void> {
  if (message.topic !== room.topic) return answerUnmatchedTopic(connection, message);
  const joinRef = message.joinRef ?? message.ref;
  if (joinRef === null) return dropRefless(connection, room);
  endChannel(connection, room);
  const plan = await join(message.payload, connection, room);
  if (!plan.ok) return connection.gone ? undefined : settle(connection, message, plan, room);
  if (connection.gone) return; // it closed while the join read its history
  let reply = plan.snapshot();
  if (reply.responseJson.length > LARGE_REPLY_CHARS) {
    // A join's reply can be megabytes. Other sockets' frames that arrived meanwhile go first, so a burst of
    // such joins holds up another member's heartbeat or post for one join at most, not for all of them.
    // (Small replies do not wait: a turn of the event loop per join is most of a small join's cost.)
    await otherSocketsFirst();
    if (connection.gone) return; // it closed while it waited its turn
    reply = plan.snapshot(); // encoded once per room state: the same string, unless a post landed meanwhile
  }
  // From here to the reply nothing awaits: the snapshot and the subscription happen at the same moment.
  connection.update(joinedState(joinRef, plan.mentionsOnly));
  answer(connection, message, reply);
  afterJoin(connection, room);
}

/** A join that carries neither a join_ref nor a ref can never be answered, nor its channel addressed: 1007. */
function dropRefless(connection: Connection, room: RoomRouting): void {
  room.drop(connection, CloseCode.invalidPayload, "phx_join must carry a join_ref or ref");
}

/** A join reply longer than this lets other sockets' frames go first (64 Ki characters: ~30 long posts). */
const LARGE_REPLY_CHARS = 65_536;

/** Resolves after the events already queued for the room (other sockets' frames) have been handled. */
function otherSocketsFirst(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** Sends the channel's reply, then ends the socket if its session is over (Phoenix's `disconnect`). */
function settle(connection: Connection, message: Message, result: ChannelResult, room: RoomRouting): void {
  answer(connection, message, result.reply);
  if (result.endSession) room.drop(connection, SESSION_ENDED_CLOSE_CODE, result.endSession);
}

/** The room ends this member's join (removed from a private room, or banned): a push saying why, then `phx_close`. */
export function endChannelFor(connection: Connection, room: RoomServices, reason: string): void {
  const joinRef = connection.state.joinRef;
  if (joinRef === null) return;
  connection.send(
    connection.serializer.push(joinRef, room.topic, RoomEvent.membershipEnded, JSON.stringify({ reason })),
  );
  endChannel(connection, room);
}

/** Ends the connection's current join, if any, telling that channel instance with `phx_close`. */
function endChannel(connection: Connection, room: RoomServices): void {
  const joinRef = connection.state.joinRef;
  if (joinRef === null) return;
  terminate(connection, room);
  connection.update({ joinRef: null, mentionsOnly: false, presence: null });
  connection.send(connection.serializer.close(joinRef, room.topic));
}

function internalError(connection: Connection, message: Message, room: RoomRouting, problem: unknown): void {
  // A bug in a handler answers this one message with an error; the room and other members go on.
  room.log(`Socket:handle ${message.event}`, problem);
  answer(connection, message, error(RoomErrorReason.internalError));
}

function answer(connection: Connection, message: Message, reply: Reply | EncodedReply): void {
  replyTo(connection, message, reply);
}
