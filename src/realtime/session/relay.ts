/**
 * The socket layer of a socket session (Phoenix.Socket's role for a socket that is not bound to one room),
 * shared by both transports that reach a session: the multiplexed WebSocket and LongPoll.
 *
 * It reads just enough of each client frame to route it (topic, event, refs) and forwards the client's
 * own text to the topic's room unchanged; the room answers exactly as it answers a room-bound socket, so
 * joins, history, presence, posts, limits and errors are the room's, not a copy of them. What it answers
 * itself is what Phoenix.Socket answers before any channel is involved:
 * - heartbeats (they never reach a room);
 * - `phx_join` of a topic that is not `room:NAME` with a valid name, and any other frame for a topic this
 *   session has not joined: "unmatched topic" (a leave of such a topic: ok, as the room does);
 * - a join beyond Phoenix's 100 topics per socket: "too many channels joined";
 * - a frame with a ref but fields of the wrong type: "malformed frame", as the room would.
 * A frame that cannot be decoded at all, or is over 64 KiB, ends the session (the WebSocket closes with
 * 1007 or 1009, as a room-bound socket does).
 */
import { RoomErrorReason } from "../../shared/room-contract";
import { isRoomName, roomTopic } from "../../shared/rooms";
import type { SocketGrant } from "../access/admission";
import { error, type Message, ok, PHOENIX_TOPIC, PhoenixEvent, type Reply } from "../phoenix/protocol";
import { encodeReply, readFrame } from "../phoenix/serializer";
import { CloseCode } from "../phoenix/transport";
import { type RoomEndpoint, Upstream } from "./upstream";

/** Phoenix's `max_channels_per_transport` default. */
export const MAX_CHANNELS = 100;

export const TOO_MANY_CHANNELS = "too many channels joined";

const ROOM_TOPIC_PREFIX = roomTopic("");

export interface RelayHost {
  /** A frame for the client, in the order the relay produced it. */
  deliver(frame: string | ArrayBuffer): void;
  /** A room ended the user's session (logout, password change, expired token). */
  sessionEnded(reason: string): void;
  /** The relay began holding room connections (true), or holds none any more (false). */
  relayingChanged(relaying: boolean): void;
  log(where: string, problem: unknown): void;
}

/** What became of a client frame: handled, or fatal to the session (with the WebSocket close code). */
export type Verdict = { ok: true } | { ok: false; code: number; reason: string };

const HANDLED: Verdict = { ok: true };

export class Relay {
  readonly #upstreams = new Map<string, Upstream>();
  #ended = false;

  constructor(
    private readonly grant: SocketGrant,
    private readonly roomEndpoint: (room: string) => RoomEndpoint,
    private readonly host: RelayHost,
  ) {}

  receive(raw: string | ArrayBuffer): Verdict {
    if (this.#ended) return HANDLED;
    const decoded = readFrame(raw);
    switch (decoded.kind) {
      case "close":
        return { ok: false, code: decoded.code, reason: decoded.reason };
      case "invalid":
        this.#reply(
          decoded.joinRef,
          decoded.ref,
          decoded.topic,
          error(RoomErrorReason.malformedFrame, { detail: decoded.detail }),
        );
        return HANDLED;
      case "message":
        return this.#route(decoded.message, raw);
    }
  }

  /** Leaves every room; later frames are ignored. */
  end(reason: string): void {
    this.#ended = true;
    // Each one forgets itself as it closes.
    for (const upstream of [...this.#upstreams.values()]) upstream.close(reason);
  }

  #route(message: Message, raw: string | ArrayBuffer): Verdict {
    const { topic, event } = message;
    if (topic === PHOENIX_TOPIC && event === PhoenixEvent.heartbeat) {
      this.#reply(message.joinRef, message.ref, topic, ok());
      return HANDLED;
    }
    const upstream = this.#upstreams.get(topic);
    if (upstream) {
      upstream.forward(message, raw);
      return HANDLED;
    }
    if (event === PhoenixEvent.join) return this.#join(message, raw);
    if (event === PhoenixEvent.leave) this.#reply(message.joinRef, message.ref, topic, ok());
    else this.#reply(null, message.ref, topic, error(RoomErrorReason.unmatchedTopic));
    return HANDLED;
  }

  #join(message: Message, raw: string | ArrayBuffer): Verdict {
    const { topic } = message;
    const room = topic.startsWith(ROOM_TOPIC_PREFIX) ? topic.slice(ROOM_TOPIC_PREFIX.length) : undefined;
    if (!isRoomName(room)) {
      this.#reply(null, message.ref, topic, error(RoomErrorReason.unmatchedTopic));
      return HANDLED;
    }
    if (message.joinRef === null && message.ref === null) {
      return { ok: false, code: CloseCode.invalidPayload, reason: "phx_join must carry a join_ref or ref" };
    }
    if (this.#upstreams.size >= MAX_CHANNELS) {
      this.#reply(message.joinRef, message.ref, topic, error(TOO_MANY_CHANNELS));
      return HANDLED;
    }
    const upstream = new Upstream(topic, room, this.grant, this.roomEndpoint(room), {
      fromRoom: (frame) => this.host.deliver(frame),
      sessionEnded: (reason) => this.host.sessionEnded(reason),
      gone: (gone) => this.#forget(gone),
      log: (where, problem) => this.host.log(where, problem),
    });
    this.#upstreams.set(topic, upstream);
    if (this.#upstreams.size === 1) this.host.relayingChanged(true);
    upstream.forward(message, raw);
    upstream.open();
    return HANDLED;
  }

  #forget(upstream: Upstream): void {
    if (this.#upstreams.get(upstream.topic) !== upstream) return;
    this.#upstreams.delete(upstream.topic);
    // Once ended, the host is letting go of everything anyway.
    if (this.#upstreams.size === 0 && !this.#ended) this.host.relayingChanged(false);
  }

  #reply(joinRef: string | null, ref: string | null, topic: string, reply: Reply): void {
    // A message without a ref asked for no reply (Phoenix's ref nil).
    if (ref === null) return;
    this.host.deliver(encodeReply(joinRef, ref, topic, reply));
  }
}
