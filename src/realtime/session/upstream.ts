/**
 * One topic of a socket session: a WebSocket from the session to that topic's room, admitted like any
 * member but without a slot of its own (the session holds the user's one slot). Frames go both ways
 * verbatim; the join tracker (join-tracker.ts) says when the topic is done, and then this socket closes.
 */
import { RoomErrorReason, SESSION_ENDED_CLOSE_CODE } from "../../shared/room-contract";
import { admissionRequest, type SocketGrant } from "../access/admission";
import { error, type Message, ok, PhoenixEvent, type Ref, SocketErrorReason } from "../phoenix/protocol";
import type { Serializer } from "../phoenix/serializer";
import { answerUnmatchedTopic, type FrameSink, replyTo } from "../phoenix/socket-replies";
import { closeQuietly, sendQuietly } from "../phoenix/transport";
import { serializerOf } from "../phoenix/vsn";
import { JoinTracker } from "./join-tracker";

export interface UpstreamEvents {
  /** A frame from the room, for the client, as the room sent it; `joinReply` if it answers the pending join. */
  fromRoom(frame: string | ArrayBuffer, joinReply?: boolean): void;
  /** The room ended the user's session: it closed with 4001, or refused the admission as revoked. */
  sessionEnded(reason: string): void;
  /** The room answered the client frame of `ref` on this topic: null for ok, else the error's reason. */
  replied(ref: Ref, refusal: string | null): void;
  /** The upstream is closed, whatever the cause; it takes no more frames. */
  gone(upstream: Upstream): void;
  log(where: string, problem: unknown): void;
}

/** Something that admits sockets: the room's Durable Object stub. */
export interface RoomEndpoint {
  fetch(request: Request): Promise<Response>;
}

/** What the client is told when its room connection fails, so phoenix.js rejoins (Phoenix's phx_error). */
export const ROOM_LOST_REASON = "room connection lost";

export class Upstream {
  /** Set once the room has accepted the socket. */
  #ws: WebSocket | undefined;
  #closed = false;
  /** Client frames that arrived before the room accepted the socket, sent in order once it has. */
  #queue: Array<{ message: Message; raw: string | ArrayBuffer }> = [];
  /** The client's serializer, which the room speaks on this socket too: frames pass both ways as they are. */
  readonly #serializer: Serializer;
  readonly #join: JoinTracker;
  /** The client, for the answers this upstream gives in the room's place. */
  readonly #client: FrameSink;

  constructor(
    readonly topic: string,
    readonly room: string,
    private readonly grant: SocketGrant,
    /** The topic's room; undefined for an id no room has (never minted): then nothing is asked of one. */
    private readonly endpoint: () => Promise<RoomEndpoint | undefined>,
    private readonly events: UpstreamEvents,
  ) {
    this.#serializer = serializerOf(grant.vsn);
    this.#join = new JoinTracker(this.#serializer);
    this.#client = { serializer: this.#serializer, send: (frame) => this.events.fromRoom(frame) };
  }

  /** Asks the room to admit this socket; frames forwarded meanwhile wait for it. */
  open(): void {
    void this.#connect().catch((problem) => {
      this.events.log("Upstream:connect", problem);
      this.#fail();
    });
  }

  /** Forwards a client frame for this topic, the client's own text or bytes. */
  forward(message: Message, raw: string | ArrayBuffer): void {
    if (this.#closed) return;
    this.#join.sent(message);
    if (this.#ws) sendQuietly(this.#ws, raw);
    else this.#queue.push({ message, raw });
  }

  /** Leaves the room: the room sees the socket close and forgets the member (presence leave included). */
  close(reason: string): void {
    this.#end(1000, reason);
  }

  async #connect(): Promise<void> {
    const endpoint = await this.endpoint();
    if (!endpoint) return this.#refuse();
    const response = await endpoint.fetch(
      admissionRequest({ ...this.grant, room: this.room, slot: null, phoenixSubprotocol: false }),
    );
    const ws = response.webSocket;
    if (response.status !== 101 || !ws) {
      // The room refuses an admission with 403 only when the token's generation was revoked.
      if (response.status === 403) this.#end(1011, "relay ended", () => this.events.sessionEnded("token revoked"));
      // ...and with 404 a private room to a non-member: answered as the room answers such a join.
      else if (response.status === 404) this.#refuse();
      else {
        this.events.log("Upstream:connect", new Error(`room ${this.room} answered ${response.status}`));
        this.#fail();
      }
      return;
    }
    ws.accept();
    if (this.#closed) {
      closeQuietly(ws, 1000, "session ended");
      return;
    }
    ws.addEventListener("message", (event) => this.#fromRoom(event.data));
    ws.addEventListener("close", (event) => this.#closedByRoom(event.code, event.reason));
    ws.addEventListener("error", () => this.#fail());
    this.#ws = ws;
    for (const { raw } of this.#queue) sendQuietly(ws, raw);
    this.#queue = [];
  }

  /**
   * No room will take this socket (a private room the user is not in, or an id no room has): the waiting
   * frames are answered as the room answers them for a non-member: the join `no such room`, the rest
   * `unmatched topic`.
   */
  #refuse(): void {
    const waiting = this.#queue;
    this.#end(1000, "no such room", () => {
      for (const { message } of waiting) {
        if (message.event === PhoenixEvent.join) replyTo(this.#client, message, error(RoomErrorReason.noSuchRoom));
        else if (message.event === PhoenixEvent.leave) replyTo(this.#client, message, ok());
        else answerUnmatchedTopic(this.#client, message);
      }
    });
  }

  /** The client's join is on its way to the room, or waits for its reply. */
  get joinPending(): boolean {
    return this.#join.pendingJoin !== null;
  }

  #fromRoom(frame: string | ArrayBuffer): void {
    if (this.#closed) return;
    const pending = this.#join.pendingJoin;
    const replied = (ref: Ref, refusal: string | null) => this.events.replied(ref, refusal);
    const changed = this.#join.received(frame, replied);
    this.events.fromRoom(frame, pending !== null && this.#join.pendingJoin === null);
    if (changed && this.#join.settled) this.close("left");
  }

  #closedByRoom(code: number, reason: string): void {
    if (this.#closed) return;
    if (code === SESSION_ENDED_CLOSE_CODE) {
      this.#end(1011, "relay ended", () => this.events.sessionEnded(reason || "token revoked"));
    } else this.#fail();
  }

  /**
   * The room connection failed. A join the room had not answered yet is answered as Phoenix answers a join
   * whose channel crashed, `error {reason: "join crashed"}`, so the app's `receive("error")` hears it (and
   * phoenix.js rejoins after its backoff); a joined channel gets `phx_error`, and phoenix.js rejoins it.
   */
  #fail(): void {
    this.#end(1011, "relay ended", () => {
      const pending = this.#join.pendingJoin;
      if (pending) {
        replyTo(this.#client, pending, error(SocketErrorReason.joinCrashed));
        return;
      }
      const joinRef = this.#join.clientJoinRef;
      if (joinRef !== null) {
        const payload = JSON.stringify({ reason: ROOM_LOST_REASON });
        this.events.fromRoom(this.#serializer.frame(joinRef, joinRef, this.topic, PhoenixEvent.error, payload));
      }
    });
  }

  /** Closes once: no more frames either way, the room told with `code`, the relay told it is gone. */
  #end(code: number, reason: string, then?: () => void): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    if (this.#ws) closeQuietly(this.#ws, code, reason);
    this.events.gone(this);
    then?.();
  }
}
