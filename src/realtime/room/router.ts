/**
 * The socket layer (Phoenix.Socket's role): answers heartbeats, routes `phx_join` / `phx_leave` and the
 * channel's own events for one connection, and keeps Phoenix's rules exactly: replies echo the refs, a
 * second join closes the first with `phx_close`, a leave is answered ok then closed, a push for a topic
 * this socket has not joined is answered "unmatched topic", and a push carrying the join_ref of an earlier
 * join is discarded (answered "stale join_ref", so no client waits out a timeout).
 *
 * A socket is bound to one room, so the only topic it can join is `room:ROOM` for that room.
 *
 * Each socket's frames are handled in order, but no socket waits for another's: heartbeats and leaves
 * are answered at once, and a post's reply (which waits for D1) does not hold up the member's next frame.
 */
import { RoomErrorReason, SESSION_ENDED_CLOSE_CODE } from "../../shared/room-contract";
import { error, type Message, ok, PHOENIX_TOPIC, PhoenixEvent, type Reply } from "../phoenix/protocol";
import { encodeClose, encodeReply } from "../phoenix/serializer";
import { CloseCode } from "../phoenix/transport";
import { afterJoin, type ChannelResult, handleIn, join, type RoomServices, terminate } from "./channel";
import type { Connection } from "./connection";

export interface SocketContext extends RoomServices {
  /** Closes the connection and forgets it. */
  drop(connection: Connection, code: number, reason: string): void;
}

const unmatchedTopic = error(RoomErrorReason.unmatchedTopic);
const staleJoin = error(RoomErrorReason.staleJoin);

/** Handles one decoded message from `connection`. */
export function handleMessage(connection: Connection, message: Message, context: SocketContext): Promise<void> {
  if (message.topic === PHOENIX_TOPIC && message.event === PhoenixEvent.heartbeat) {
    replyTo(connection, message, ok());
    return Promise.resolve();
  }
  return connection.serially(() =>
    route(connection, message, context).catch((problem) => internalError(connection, message, context, problem)),
  );
}

/** A frame with a ref but fields of the wrong type. */
export function handleMalformed(
  connection: Connection,
  frame: { joinRef: string | null; ref: string; topic: string; detail: string },
): void {
  connection.send(
    encodeReply(frame.joinRef, frame.ref, frame.topic, error(RoomErrorReason.malformedFrame, { detail: frame.detail })),
  );
}

/** The connection is going away (closed, dropped): its join ends without a `phx_close` to send. */
export function handleGone(connection: Connection, context: SocketContext): void {
  if (connection.joined) terminate(connection, context);
}

async function route(connection: Connection, message: Message, context: SocketContext): Promise<void> {
  // Queued behind a join that was waiting while the socket went away (closed, revoked): nothing to do.
  if (connection.gone) return;
  const { topic, event } = message;
  if (event === PhoenixEvent.join) return routeJoin(connection, message, context);

  const current = connection.state.joinRef;
  if (event === PhoenixEvent.leave) {
    if (topic === context.topic && current !== null && (message.joinRef ?? current) === current) {
      replyTo(connection, message, ok());
      endChannel(connection, context);
      return;
    }
    // Not joined: Phoenix answers ok too. A leave that raced a close (an old join_ref): Phoenix sends
    // nothing, but an ok is as true and never leaves the client's leave waiting for its timeout.
    return replyTo(connection, message, ok());
  }

  if (topic !== context.topic || current === null) return replyTo(connection, message, unmatchedTopic, null);
  // A null join_ref is valid on pushes (Phoenix allows it); another join's is a message to a channel that is gone.
  if (message.joinRef !== null && message.joinRef !== current) return replyTo(connection, message, staleJoin);

  const result = handleIn(event, message.payload, connection, context);
  if (!(result instanceof Promise)) return answer(connection, message, result, context);
  // The reply comes when D1 has the post; meanwhile this socket's next frames go ahead.
  void result.then(
    (settled) => answer(connection, message, settled, context),
    (problem) => internalError(connection, message, context, problem),
  );
}

async function routeJoin(connection: Connection, message: Message, context: SocketContext): Promise<void> {
  if (message.topic !== context.topic) return replyTo(connection, message, unmatchedTopic, null);
  const joinRef = message.joinRef ?? message.ref;
  if (joinRef === null) {
    context.drop(connection, CloseCode.invalidPayload, "phx_join must carry a join_ref or ref");
    return;
  }
  endChannel(connection, context);
  const plan = await join(message.payload, connection.state, context);
  if (connection.gone) return; // it closed while the join read its history
  if (!plan.ok) return answer(connection, message, plan, context);
  // From here to the reply nothing awaits: the snapshot and the subscription happen at the same moment.
  const response = plan.snapshot();
  connection.update({ joinRef, mentionsOnly: plan.mentionsOnly });
  replyTo(connection, message, ok(response));
  afterJoin(connection, context);
}

/** Sends the channel's reply, then ends the socket if its session is over (Phoenix's `disconnect`). */
function answer(connection: Connection, message: Message, result: ChannelResult, context: SocketContext): void {
  replyTo(connection, message, result.reply);
  if (result.endSession) context.drop(connection, SESSION_ENDED_CLOSE_CODE, result.endSession);
}

/** Ends the connection's current join, if any, telling that channel instance with `phx_close`. */
function endChannel(connection: Connection, context: SocketContext): void {
  const joinRef = connection.state.joinRef;
  if (joinRef === null) return;
  terminate(connection, context);
  connection.update({ joinRef: null, mentionsOnly: false, presence: null });
  connection.send(encodeClose(joinRef, context.topic));
}

function internalError(connection: Connection, message: Message, context: SocketContext, problem: unknown): void {
  // A bug in a handler answers this one message with an error; the room and other members go on.
  context.log(`Socket:handle ${message.event}`, problem);
  replyTo(connection, message, error(RoomErrorReason.internalError));
}

function replyTo(
  connection: Connection,
  message: Message,
  reply: Reply,
  joinRef: string | null = message.joinRef,
): void {
  // A message without a ref asked for no reply (Phoenix's ref nil).
  if (message.ref === null) return;
  connection.send(encodeReply(joinRef, message.ref, message.topic, reply));
}
