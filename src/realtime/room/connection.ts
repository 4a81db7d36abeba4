/**
 * One member's connection to a room: the hibernatable WebSocket and what the room knows of it, all kept in
 * the socket's attachment (merge-written on every change), so a woken room rebuilds every connection from
 * `getWebSockets()` and loses nothing (docs/architecture.md#the-way-in).
 */

import { type Identity, isIdentity, isTokenGrant, type TokenGrant } from "../access/identity";
import type { Ref } from "../phoenix/protocol";
import type { Serializer, SerializerVersion } from "../phoenix/serializer";
import type { FrameSink } from "../phoenix/socket-replies";
import { closeQuietly, sendQuietly } from "../phoenix/transport";
import { isSerializerVersion, serializerOf } from "../phoenix/vsn";
import type { FrameClock } from "../shell/idle";
import { isUserTopicJoin, type UserTopicJoin } from "../user-sockets/user-topic";
import type { BucketState } from "./rate-limit";

/** This join's entry in the room's presence. */
export interface PresenceEntry {
  phxRef: string;
  /** ISO 8601. */
  onlineAt: string;
}

export interface ConnectionState extends FrameClock {
  room: string;
  user: Identity;
  token: TokenGrant;
  /** The user's socket slot (see user-sockets/), released when this socket ends; null for relayed sockets. */
  slot: string | null;
  /** The serializer the client speaks, as its `vsn` chose at the upgrade (a relayed socket: its client's). */
  vsn: SerializerVersion;
  /** The join_ref of the current join of the room's topic, as the client sent it; null while not joined. */
  joinRef: Ref;
  /** Joined with `mentions_only: true`: receives only posts that mention `user.username`. */
  mentionsOnly: boolean;
  /** Set while joined. */
  presence: PresenceEntry | null;
  /** The user's post bucket as of this socket's last post, so rate limits survive an eviction. */
  postBucket: BucketState | null;
  /**
   * When the client's last frame was recorded, for the idle rule (shell/idle.ts), which writes it now and
   * then; null for a relayed socket, whose session watches its client instead.
   */
  lastFrameAt: number | null;
  /** The user's join bucket as of this socket's last join, likewise. */
  joinBucket: BucketState | null;
  /** The socket's join of its user's `user:ID` topic (room/user-topic.ts), besides the room's; null: none. */
  userTopic: UserTopicJoin | null;
}

export class Connection implements FrameSink {
  #state: ConnectionState;
  /** Decodes this socket's frames and encodes what it is sent. */
  readonly serializer: Serializer;
  /** This socket's messages, handled one after another (see router.ts); never persisted. */
  #inbox: Promise<void> = Promise.resolve();
  #gone = false;

  private constructor(
    readonly ws: WebSocket,
    state: ConnectionState,
  ) {
    this.#state = state;
    this.serializer = serializerOf(state.vsn);
  }

  /** A new socket: writes its first attachment. */
  static open(ws: WebSocket, fields: Pick<ConnectionState, "room" | "user" | "token" | "slot" | "vsn">): Connection {
    const connection = new Connection(ws, {
      room: fields.room,
      user: fields.user,
      token: fields.token,
      slot: fields.slot,
      vsn: fields.vsn,
      joinRef: null,
      mentionsOnly: false,
      presence: null,
      postBucket: null,
      lastFrameAt: fields.slot === null ? null : Date.now(),
      joinBucket: null,
      userTopic: null,
    });
    ws.serializeAttachment(connection.#state);
    return connection;
  }

  /** A socket accepted earlier, maybe by an instance that has since been evicted. */
  static restore(ws: WebSocket): Connection | undefined {
    const state: unknown = ws.deserializeAttachment();
    // An attachment written before joins had a bucket, or before the idle rule, has neither yet (the rule
    // then leaves that socket alone: it never closes one early); one written before V1, no vsn: it is V2;
    // one written before the user topic, no join of it.
    return isConnectionState(state)
      ? new Connection(ws, {
          ...state,
          vsn: state.vsn ?? "2.0.0",
          joinBucket: state.joinBucket ?? null,
          lastFrameAt: state.lastFrameAt ?? null,
          userTopic: state.userTopic ?? null,
        })
      : undefined;
  }

  get state(): Readonly<ConnectionState> {
    return this.#state;
  }

  get joined(): boolean {
    return this.#state.joinRef !== null;
  }

  /**
   * The room has let go of this socket (closed, dropped, revoked). Work that was waiting (a join reading
   * D1, frames queued behind it) must then do nothing: it would act for a member who is no longer here.
   */
  get gone(): boolean {
    return this.#gone;
  }

  markGone(): void {
    this.#gone = true;
  }

  /** Written to the attachment first: a state the runtime refuses (too large) never becomes this socket's. */
  update(patch: Partial<ConnectionState>): void {
    const next = { ...this.#state, ...patch };
    this.ws.serializeAttachment(next);
    this.#state = next;
  }

  /** Runs `task` after every task queued before it on this socket; a failure does not stop the ones after. */
  serially(task: () => Promise<void>): Promise<void> {
    const result = this.#inbox.then(task);
    this.#inbox = result.catch(() => undefined);
    return result;
  }

  send(text: string): boolean {
    return sendQuietly(this.ws, text);
  }

  close(code: number, reason: string): void {
    closeQuietly(this.ws, code, reason);
  }
}

function isConnectionState(value: unknown): value is ConnectionState {
  const state = value as Partial<ConnectionState> | null;
  return (
    typeof state?.room === "string" &&
    isIdentity(state.user) &&
    isTokenGrant(state.token) &&
    (state.slot === null || typeof state.slot === "string") &&
    (state.vsn === undefined || isSerializerVersion(state.vsn)) &&
    state.joinRef !== undefined &&
    typeof state.mentionsOnly === "boolean" &&
    (state.presence === null || typeof state.presence?.phxRef === "string") &&
    (state.postBucket === null || typeof state.postBucket?.tokens === "number") &&
    (state.lastFrameAt === undefined || state.lastFrameAt === null || typeof state.lastFrameAt === "number") &&
    (state.joinBucket === undefined || state.joinBucket === null || typeof state.joinBucket?.tokens === "number") &&
    (state.userTopic === undefined || state.userTopic === null || isUserTopicJoin(state.userTopic))
  );
}
