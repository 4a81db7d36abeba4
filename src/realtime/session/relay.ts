/**
 * The socket layer of a socket session (Phoenix.Socket's role for a socket not bound to one room), for
 * both its transports: it reads just enough of each client frame to route it, forwards the client's own
 * text to the topic's room unchanged, and answers itself only what Phoenix.Socket answers before any
 * channel is involved (phoenix/socket-replies.ts), plus Phoenix's limit of 100 topics per socket and a
 * post past the user's allowance across rooms (post-gate.ts).
 */
import { RoomErrorReason, RoomEvent } from "../../shared/room-contract";
import { isRoomId, roomTopic } from "../../shared/rooms";
import type { SocketGrant } from "../access/admission";
import { error, type Message, ok, PhoenixEvent, SocketErrorReason } from "../phoenix/protocol";
import { readFrame } from "../phoenix/serializer";
import {
  answerHeartbeat,
  answerMalformed,
  answerUnmatchedTopic,
  type FrameSink,
  replyTo,
} from "../phoenix/socket-replies";
import { CloseCode } from "../phoenix/transport";
import type { RatePolicy } from "../room/rate-limit";
import { PostGate } from "./post-gate";
import { type RoomEndpoint, Upstream } from "./upstream";

/** Phoenix's `max_channels_per_transport` default. */
export const MAX_CHANNELS = 100;

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
  /** The client's end, for the answers the relay gives itself. */
  readonly #client: FrameSink = { send: (frame) => this.host.deliver(frame) };
  readonly #posts: PostGate;

  constructor(
    private readonly grant: SocketGrant,
    /** The user's allowance across rooms (USER_POSTS_*), which this socket's posts alone may not pass. */
    postPolicy: RatePolicy,
    /** The room of an id, if it has one (see Upstream). */
    private readonly roomEndpoint: (room: string) => Promise<RoomEndpoint | undefined>,
    private readonly host: RelayHost,
  ) {
    this.#posts = new PostGate(postPolicy);
  }

  receive(raw: string | ArrayBuffer): Verdict {
    if (this.#ended) return HANDLED;
    const decoded = readFrame(raw);
    switch (decoded.kind) {
      case "close":
        return { ok: false, code: decoded.code, reason: decoded.reason };
      case "invalid":
        answerMalformed(this.#client, decoded);
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
    if (answerHeartbeat(this.#client, message)) return HANDLED;
    const { topic, event } = message;
    const upstream = this.#upstreams.get(topic);
    if (upstream) {
      if (event === RoomEvent.newPost) {
        const admitted = this.#posts.admit(topic, message.ref);
        if (!admitted.ok) {
          replyTo(this.#client, message, error(RoomErrorReason.rateLimited, { retry_after_ms: admitted.retryAfterMs }));
          return HANDLED;
        }
      }
      upstream.forward(message, raw);
      return HANDLED;
    }
    if (event === PhoenixEvent.join) return this.#join(message, raw);
    // A leave of a topic not joined: ok, as the room answers it.
    if (event === PhoenixEvent.leave) replyTo(this.#client, message, ok());
    else answerUnmatchedTopic(this.#client, message);
    return HANDLED;
  }

  #join(message: Message, raw: string | ArrayBuffer): Verdict {
    const { topic } = message;
    const room = topic.startsWith(ROOM_TOPIC_PREFIX) ? topic.slice(ROOM_TOPIC_PREFIX.length) : undefined;
    if (!isRoomId(room)) {
      answerUnmatchedTopic(this.#client, message);
      return HANDLED;
    }
    if (message.joinRef === null && message.ref === null) {
      return { ok: false, code: CloseCode.invalidPayload, reason: "phx_join must carry a join_ref or ref" };
    }
    if (this.#upstreams.size >= MAX_CHANNELS) {
      replyTo(this.#client, message, error(SocketErrorReason.tooManyChannels));
      return HANDLED;
    }
    const upstream = new Upstream(topic, room, this.grant, () => this.roomEndpoint(room), {
      fromRoom: (frame) => this.host.deliver(frame),
      sessionEnded: (reason) => this.host.sessionEnded(reason),
      replied: (ref, refusal) => this.#posts.answered(topic, ref, refusal),
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
    this.#posts.forget(upstream.topic);
    // Once ended, the host is letting go of everything anyway.
    if (this.#upstreams.size === 0 && !this.#ended) this.host.relayingChanged(false);
  }
}
