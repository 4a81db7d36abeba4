/**
 * The socket layer (Phoenix.Socket's role): answers heartbeats, routes `phx_join` / `phx_leave` and the
 * channel's own events for one connection, and keeps Phoenix's rules exactly: replies echo the refs,
 * a second join closes the first with `phx_close`, a leave is answered ok then closed, and anything for a
 * topic this socket has not joined is answered "unmatched topic".
 *
 * A socket is bound to one room, so the only topic it can join is `room:ROOM` for that room.
 */

import { RoomErrorReason, SESSION_ENDED_CLOSE_CODE } from "../shared/room-channel";
import { roomTopic } from "../shared/rooms";
import type { Connection } from "./connection";
import { error, type Message, ok, PHOENIX_TOPIC, PhoenixEvent, type Reply } from "./protocol";
import { type ChannelContext, type ChannelResult, handleIn, join } from "./room-channel";
import { encodeClose, encodeReply } from "./serializer";
import { CloseCode } from "./transport";

export interface SocketContext extends ChannelContext {
  /** Runs room-wide work in order; see sequencer.ts. */
  serially(task: () => Promise<void>): Promise<void>;
  /** Closes the connection and forgets it. */
  drop(connection: Connection, code: number, reason: string): void;
}

const unmatchedTopic = error(RoomErrorReason.unmatchedTopic);

/** Handles one decoded message. Heartbeats are answered at once; everything else waits its turn. */
export function handleMessage(connection: Connection, message: Message, context: SocketContext): Promise<void> {
  if (message.topic === PHOENIX_TOPIC && message.event === PhoenixEvent.heartbeat) {
    replyTo(connection, message, ok());
    return Promise.resolve();
  }
  return context.serially(async () => {
    try {
      await route(connection, message, context);
    } catch (problem) {
      // A bug in a handler answers this one message with an error; the room and other members go on.
      context.log(`Socket:handle ${message.event}`, problem);
      replyTo(connection, message, error(RoomErrorReason.internalError));
    }
  });
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

async function route(connection: Connection, message: Message, context: SocketContext): Promise<void> {
  const ownTopic = roomTopic(connection.state.room);
  const { topic, event } = message;

  if (event === PhoenixEvent.join) {
    if (topic !== ownTopic) return replyTo(connection, message, unmatchedTopic, null);
    const joinRef = message.joinRef ?? message.ref;
    if (joinRef === null) {
      context.drop(connection, CloseCode.invalidPayload, "phx_join must carry a join_ref or ref");
      return;
    }
    endChannel(connection, topic);
    const result = await join(message.payload, connection.state, context);
    if (result.ok) connection.update({ joinRef, mentionsOnly: result.mentionsOnly });
    return answer(connection, message, result, context);
  }

  if (event === PhoenixEvent.leave) {
    const current = connection.state.joinRef;
    if (topic === ownTopic && current !== null && (message.joinRef ?? current) === current) {
      replyTo(connection, message, ok());
      endChannel(connection, topic);
      return;
    }
    // Not joined: Phoenix answers ok too. A leave that raced a close (an old join_ref): Phoenix sends
    // nothing, but an ok is as true and never leaves the client's leave waiting for its timeout.
    return replyTo(connection, message, ok());
  }

  if (topic !== ownTopic || !connection.joined) return replyTo(connection, message, unmatchedTopic, null);
  return answer(connection, message, await handleIn(event, message.payload, connection.state, context), context);
}

/** Sends the channel's reply, then ends the socket if its session is over (Phoenix's `disconnect`). */
function answer(connection: Connection, message: Message, result: ChannelResult, context: SocketContext): void {
  replyTo(connection, message, result.reply);
  if (result.endSession) context.drop(connection, SESSION_ENDED_CLOSE_CODE, result.endSession);
}

/** Closes the connection's current channel, if any, telling that channel instance with `phx_close`. */
function endChannel(connection: Connection, topic: string): void {
  const joinRef = connection.state.joinRef;
  if (joinRef === null) return;
  connection.update({ joinRef: null, mentionsOnly: false });
  connection.send(encodeClose(joinRef, topic));
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
