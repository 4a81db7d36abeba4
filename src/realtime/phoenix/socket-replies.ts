/**
 * The answers Phoenix.Socket gives before any channel is involved, written once for both sockets that
 * read client frames: a room's (room/router.ts) and a socket session's (session/relay.ts).
 */

import {
  error,
  type Message,
  ok,
  PHOENIX_TOPIC,
  PhoenixEvent,
  type Ref,
  type Reply,
  SocketErrorReason,
} from "./protocol";
import type { EncodedReply, InvalidFrame, Serializer } from "./serializer";

/** Where the answers go, in the serializer the client speaks: a room's connection, or a session's client. */
export interface FrameSink {
  readonly serializer: Serializer;
  send(frame: string): void;
}

/** What a reply is addressed to: a message's refs and topic. */
export type Addressee = Pick<Message, "joinRef" | "ref" | "topic">;

/** Answers `to` with `reply`; a message without a ref asked for no reply (Phoenix's ref nil). */
export function replyTo(sink: FrameSink, to: Addressee, reply: Reply | EncodedReply, joinRef: Ref = to.joinRef): void {
  if (to.ref === null) return;
  sink.send(sink.serializer.reply(joinRef, to.ref, to.topic, reply));
}

/** A heartbeat (`phoenix` topic) is answered ok at once, joined or not; true if `message` was one. */
export function answerHeartbeat(sink: FrameSink, message: Message): boolean {
  if (message.topic !== PHOENIX_TOPIC || message.event !== PhoenixEvent.heartbeat) return false;
  replyTo(sink, message, ok());
  return true;
}

/** A frame with a ref but fields of the wrong type: an error naming what is wrong; the socket stays open. */
export function answerMalformed(sink: FrameSink, frame: InvalidFrame): void {
  replyTo(sink, frame, error(SocketErrorReason.malformedFrame, { detail: frame.detail }));
}

/** A push for a topic this socket has not joined; the reply carries no join_ref, as Phoenix's does. */
export function answerUnmatchedTopic(sink: FrameSink, message: Addressee): void {
  replyTo(sink, message, error(SocketErrorReason.unmatchedTopic), null);
}
