/**
 * The socket layer of a socket session (Phoenix.Socket's role for a socket not bound to one room), for
 * both its transports: it reads just enough of each client frame to route it, forwards the client's own
 * text to the topic's room unchanged, and answers itself only what Phoenix.Socket answers before any
 * channel is involved (phoenix/socket-replies.ts), plus Phoenix's limit of 100 topics per socket and a
 * post past the user's allowance across rooms (post-gate.ts). Joins go on when the host allows (a LongPoll
 * session: one at a time, so catch-ups never pile up unpolled). The user's own topic, `user:ID`, has no room
 * behind it: its channel (user-sockets/user-topic.ts) is served here.
 */
import { RoomErrorReason, RoomEvent } from "../../shared/room-contract";
import { isRoomId, roomTopic } from "../../shared/rooms";
import { isUserTopic } from "../../shared/user-contract";
import type { SocketGrant } from "../access/admission";
import { error, type Message, ok, PhoenixEvent, SocketErrorReason } from "../phoenix/protocol";
import { readFrame, type Serializer } from "../phoenix/serializer";
import {
  answerHeartbeat,
  answerMalformed,
  answerUnmatchedTopic,
  type FrameSink,
  replyTo,
} from "../phoenix/socket-replies";
import { CloseCode } from "../phoenix/transport";
import { serializerOf } from "../phoenix/vsn";
import type { RatePolicy } from "../room/rate-limit";
import type { UserChannel } from "../user-sockets/user-topic";
import { PostGate } from "./post-gate";
import { type RoomEndpoint, Upstream } from "./upstream";

/** Phoenix's `max_channels_per_transport` default. */
export const MAX_CHANNELS = 100;

const ROOM_TOPIC_PREFIX = roomTopic("");

export interface RelayHost {
  /** A frame for the client, in the order the relay produced it; `joinReply` if a room answered a join. */
  deliver(frame: string | ArrayBuffer, joinReply?: boolean): void;
  /**
   * Whether a client's join may go to its room now, `joining` telling whether another join still waits for
   * its reply. A LongPoll session takes one join at a time, and none while a big join reply is unpolled; a
   * join held meanwhile waits in order, with whatever the client sends for its topic after it.
   */
  mayStartJoin(joining: boolean): boolean;
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
  /** Joins the host held back (see `mayStartJoin`), and the frames for their topics sent after them. */
  #held: Array<{ message: Message; raw: string | ArrayBuffer }> = [];
  #resuming = false;
  #ended = false;
  /** The serializer the client speaks; each room speaks it to this session too, so frames pass as they are. */
  readonly #serializer: Serializer;
  /** The client's end, for the answers the relay gives itself. */
  readonly #client: FrameSink;
  readonly #posts: PostGate;

  constructor(
    private readonly grant: SocketGrant,
    /** The user's allowance across rooms (USER_POSTS_*), which this socket's posts alone may not pass. */
    postPolicy: RatePolicy,
    /** The room of an id, if it has one (see Upstream). */
    private readonly roomEndpoint: (room: string) => Promise<RoomEndpoint | undefined>,
    private readonly host: RelayHost,
    /** The socket's `user:ID` channel; none for a socket without a slot (then no user topic is served). */
    private readonly userChannel?: UserChannel,
  ) {
    this.#posts = new PostGate(postPolicy);
    this.#serializer = serializerOf(grant.vsn);
    this.#client = { serializer: this.#serializer, send: (frame) => this.host.deliver(frame) };
  }

  receive(raw: string | ArrayBuffer): Verdict {
    if (this.#ended) return HANDLED;
    const decoded = readFrame(raw, this.#serializer);
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

  /** Starts the held joins the host now allows, in order, each followed by the frames for its topic. */
  resume(): void {
    if (this.#ended || this.#resuming || this.#held.length === 0 || !this.#mayJoin()) return;
    this.#resuming = true;
    const held = this.#held;
    this.#held = [];
    // Each was checked before it was held, so each is handled (a join beyond the gate is held again).
    for (const { message, raw } of held) this.#route(message, raw);
    this.#resuming = false;
  }

  /** Leaves every room; later frames are ignored. */
  end(reason: string): void {
    this.#ended = true;
    this.#held = [];
    // Each one forgets itself as it closes.
    for (const upstream of [...this.#upstreams.values()]) upstream.close(reason);
  }

  #route(message: Message, raw: string | ArrayBuffer): Verdict {
    if (answerHeartbeat(this.#client, message)) return HANDLED;
    const { topic, event } = message;
    if (isUserTopic(topic)) return this.#userTopic(message);
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
    if (this.#held.some((item) => item.message.topic === topic)) {
      // After its topic's join, which is held: it waits behind it.
      this.#held.push({ message, raw });
      return HANDLED;
    }
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
    if (this.#held.length > 0 || !this.#mayJoin()) {
      this.#held.push({ message, raw });
      return HANDLED;
    }
    if (this.#channels >= MAX_CHANNELS) {
      replyTo(this.#client, message, error(SocketErrorReason.tooManyChannels));
      return HANDLED;
    }
    const upstream = new Upstream(topic, room, this.grant, () => this.roomEndpoint(room), {
      fromRoom: (frame, joinReply) => this.host.deliver(frame, joinReply),
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

  /** A frame for a `user:` topic: its channel answers it here; no room is involved. */
  #userTopic(message: Message): Verdict {
    const channel = this.userChannel;
    if (message.event === PhoenixEvent.join) {
      if (message.joinRef === null && message.ref === null) {
        return { ok: false, code: CloseCode.invalidPayload, reason: "phx_join must carry a join_ref or ref" };
      }
      if (channel && !channel.occupied && this.#channels >= MAX_CHANNELS) {
        replyTo(this.#client, message, error(SocketErrorReason.tooManyChannels));
        return HANDLED;
      }
    }
    if (channel) void channel.handle(message);
    else if (message.event === PhoenixEvent.leave) replyTo(this.#client, message, ok());
    else answerUnmatchedTopic(this.#client, message);
    return HANDLED;
  }

  /** The topics this socket holds: its rooms', and its user's when joined (Phoenix counts every channel). */
  get #channels(): number {
    return this.#upstreams.size + (this.userChannel?.occupied ? 1 : 0);
  }

  #mayJoin(): boolean {
    const joining = [...this.#upstreams.values()].some((upstream) => upstream.joinPending);
    return this.host.mayStartJoin(joining);
  }

  #forget(upstream: Upstream): void {
    if (this.#upstreams.get(upstream.topic) !== upstream) return;
    this.#upstreams.delete(upstream.topic);
    this.#posts.forget(upstream.topic);
    // Once ended, the host is letting go of everything anyway.
    if (this.#upstreams.size === 0 && !this.#ended) this.host.relayingChanged(false);
  }
}
