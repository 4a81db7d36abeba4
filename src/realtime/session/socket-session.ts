/**
 * SocketSession: the Durable Object behind a socket that is not bound to one room (Phoenix's
 * transport-independent socket process): a multiplexed WebSocket, or a LongPoll session. Either way the
 * relay (relay.ts) joins rooms for the client, one upstream socket per topic (upstream.ts), and the rooms
 * do everything else. It holds the user's one socket slot, and gives it back when it ends.
 */
import { configOf } from "../../config";
import { SESSION_ENDED_CLOSE_CODE } from "../../shared/room-contract";
import { readSocketGrant, type SocketGrant, TOKEN_REVOKED } from "../access/admission";
import { forgetRevocations, isRevoked, rememberRevocation } from "../access/remembered-revocations";
import { CloseCode, closeQuietly, sendQuietly } from "../phoenix/transport";
import { serializerOf } from "../phoenix/vsn";
import { knownRoom } from "../room/client";
import { forgetAlarm, setAlarm, wakeBy } from "../shell/alarms";
import type { FrameClock } from "../shell/idle";
import { SocketObject } from "../shell/socket-object";
import { type ReadStatePush, releaseSlot, type SocketHolder } from "../user-sockets/client";
import { deliverReadStates, UserChannel, type UserTopicJoin } from "../user-sockets/user-topic";
import type { EndedAnswer, PollAnswer, PublishAnswer } from "./client";
import { PollBuffer } from "./poll-buffer";
import { Relay } from "./relay";

/** The outbox bound: about a minute of a busy room; a client that falls further behind starts over. */
export const POLL_BUFFER_LIMITS = { maxFrames: 1_000, maxChars: 4 * 1024 * 1024 };

type Ending = "revoked" | "gone";

interface WebSocketTransport {
  kind: "websocket";
  ws: WebSocket;
}

interface LongPollTransport {
  kind: "longpoll";
  buffer: PollBuffer;
  /** When the latest poll began: the idle time counts from there, as Phoenix's does. */
  lastPollBegan: number;
  /** Told when a poll begins (see `#stillPolled`). */
  onPollBegan: Set<() => void>;
}

interface Live {
  grant: SocketGrant;
  relay: Relay;
  transport: WebSocketTransport | LongPollTransport;
  /** The client's `user:ID` channel, served here (no room behind it); none without a slot. */
  userChannel: UserChannel | undefined;
}

/** The client WebSocket's attachment: enough to carry on after hibernation, and the idle rule's clock. */
interface ClientAttachment extends FrameClock {
  grant: SocketGrant;
  /** The relay held room connections; they cannot survive the session leaving memory. */
  relaying: boolean;
  /**
   * The client's join of its `user:ID` topic, if any: unlike a room's, it needs no connection, so it
   * survives the session hibernating or leaving memory. Absent in attachments from before the user topic.
   */
  userTopic?: UserTopicJoin | null;
}

/** Storage keys. Only what must outlive memory is stored: why a long-poll session ended, and revocations. */
const ENDED_KEY = "ended";
/** How long an ended long-poll session remembers why, so a client still polling hears 403 rather than 410. */
const REMEMBER_ENDING_MS = 60_000;
/**
 * How long a long-poll client asked whether it is still there (at its user's socket cap) has to begin a
 * poll: phoenix.js polls again as soon as a poll is answered, so a client that is there takes a round trip.
 */
const PROBE_GRACE_MS = 2_000;

export class SocketSession extends SocketObject implements SocketHolder {
  protected readonly kind = { label: "SocketSession", noun: "socket session" };
  #live: Live | undefined;

  // The multiplexed WebSocket: it accepts the client's socket itself, hibernatable, and answers heartbeats
  // without waking while no room is joined.

  protected async onAdmission(request: Request): Promise<Response> {
    const grant = readSocketGrant(request);
    if (!grant) return new Response("Not an admission from the socket endpoint", { status: 400 });
    if (this.#live || this.ctx.getWebSockets().length > 0) {
      return new Response("This socket session is already in use", { status: 409 });
    }
    if (this.#revoked(grant)) {
      this.#forgetUnopened();
      return new Response(TOKEN_REVOKED, { status: 403 });
    }
    const accepted = this.acceptSocket(grant.phoenixSubprotocol, (server) => {
      server.serializeAttachment({ grant, relaying: false, lastFrameAt: Date.now() } satisfies ClientAttachment);
      this.#live = this.#start(grant, { kind: "websocket", ws: server });
    });
    // Joined or not, the socket ends when its token does (4001), as a room-bound socket does.
    await wakeBy(this.ctx.storage, grant.token.expiresAt);
    return accepted;
  }

  protected onMessage(ws: WebSocket, raw: string | ArrayBuffer): void {
    const live = this.#liveFor(ws);
    if (!live) return;
    const verdict = live.relay.receive(raw);
    if (!verdict.ok) this.#end(live, "gone", verdict.code, verdict.reason);
  }

  protected onSocketEnd(ws: WebSocket): void {
    this.#clientGone(ws);
  }

  protected recordLastFrame(ws: WebSocket, at: number): void {
    rewriteAttachment(ws, { lastFrameAt: at });
  }

  // LongPoll: RPCs from the worker hand it the client's POSTed frames (`publish`) and take what its rooms
  // sent (`poll`, held up to the window, Phoenix's `window_ms`). Nobody polling for the idle time ends it.

  /** Starts a long-poll session for `grant`; false if its token was revoked on the way here. */
  async openLongPoll(grant: SocketGrant): Promise<boolean> {
    if (this.#live || this.ctx.storage.kv.get(ENDED_KEY) !== undefined) return false;
    if (this.#revoked(grant)) {
      this.#forgetUnopened();
      return false;
    }
    const transport: LongPollTransport = {
      kind: "longpoll",
      buffer: new PollBuffer(POLL_BUFFER_LIMITS),
      lastPollBegan: Date.now(),
      onPollBegan: new Set(),
    };
    this.#live = this.#start(grant, transport);
    await setAlarm(this.ctx.storage, Math.min(Date.now() + configOf(this.env).longPoll.idleMs, grant.token.expiresAt));
    return true;
  }

  /** The frames waiting for the client, as soon as there are any, or none after the window. */
  async poll(): Promise<PollAnswer> {
    const live = this.#live;
    if (live?.transport.kind !== "longpoll") return this.#endedAnswer();
    const transport = live.transport;
    transport.lastPollBegan = Date.now();
    for (const began of transport.onPollBegan) began();
    const frames = await transport.buffer.take(configOf(this.env).longPoll.windowMs);
    if (this.#live !== live) return this.#endedAnswer();
    // A join reply beyond the bound polled: the next held join may go.
    live.relay.resume();
    return frames.length > 0 ? { status: 200, messages: frames } : { status: 204 };
  }

  /** The client's frames, in order, through the relay; their answers arrive by `poll`. */
  async publish(frames: Array<string | ArrayBuffer>): Promise<PublishAnswer> {
    const live = this.#live;
    if (live?.transport.kind !== "longpoll") return this.#endedAnswer();
    for (const frame of frames) {
      const verdict = live.relay.receive(frame);
      if (!verdict.ok) {
        this.#end(live, "gone");
        return { status: 400, error: `${verdict.reason}; the session has ended` };
      }
      if (this.#live !== live) return this.#endedAnswer();
    }
    return { status: 200 };
  }

  /** A long-poll session's idle check; an ended session's stored memory is cleared. */
  protected async onAlarm(): Promise<void> {
    const live = this.#live ?? this.#restore();
    if (!live) {
      await this.#clear();
      return;
    }
    const { expiresAt } = live.grant.token;
    if (Date.now() >= expiresAt) {
      this.#end(live, "revoked", SESSION_ENDED_CLOSE_CODE, "token expired");
      return;
    }
    if (live.transport.kind === "websocket") {
      await wakeBy(this.ctx.storage, expiresAt);
      return;
    }
    // Idle once `idleMs` have passed since the latest poll began and none is waiting (one waits at most the
    // window, shorter than the idle time): a client that left mid-poll is gone `idleMs` after that poll began.
    const { buffer, lastPollBegan } = live.transport;
    const { idleMs } = configOf(this.env).longPoll;
    const now = Date.now();
    let due = lastPollBegan + idleMs;
    if (now >= due && !buffer.waiting) {
      this.#end(live, "gone");
      return;
    }
    if (due <= now) due = now + idleMs;
    await setAlarm(this.ctx.storage, Math.min(due, expiresAt));
  }

  // UserSockets.

  /**
   * RPC from UserSockets, when the user is at the socket cap: the slot this session holds for `userId`, if
   * it is live. A long-poll session whose client has gone (a reloaded tab) ends here and gives its place
   * to the newer socket, rather than keeping it for the idle time.
   */
  async liveSlots(userId: number): Promise<string[]> {
    const live = this.#live ?? this.#restore();
    const slot = live?.grant.slot;
    if (!live || live.grant.user.id !== userId || !slot) return [];
    if (live.transport.kind === "longpoll" && !(await this.#stillPolled(live.transport))) {
      this.#end(live, "gone");
      return [];
    }
    return this.#live === live ? [slot] : [];
  }

  /**
   * Whether a long-poll client is still there. A poll waiting now may be one its client abandoned, which
   * nothing tells the session (a reloaded tab's): it is answered at once, with nothing, and a client that
   * is there begins another within PROBE_GRACE_MS.
   */
  #stillPolled(transport: LongPollTransport): Promise<boolean> {
    return new Promise((resolve) => {
      const began = () => settle(true);
      const timer = setTimeout(() => settle(false), PROBE_GRACE_MS);
      const settle = (polled: boolean) => {
        clearTimeout(timer);
        transport.onPollBegan.delete(began);
        resolve(polled);
      };
      transport.onPollBegan.add(began);
      transport.buffer.release();
    });
  }

  /**
   * RPC from UserSockets: `read_state`s for this session's client, if it joined its `user:ID` topic;
   * answers the watch that took one. A hibernating multiplexed socket is woken for it, its join read back
   * from the socket's attachment.
   */
  async pushReadStates(pushes: ReadStatePush[]): Promise<string[]> {
    const channel = (this.#live ?? this.#restore())?.userChannel;
    return channel ? deliverReadStates([channel], pushes) : [];
  }

  /** RPC from UserSockets: the user logged out or changed password; ends this session if it is theirs. */
  async endUserSockets(userId: number, validFrom: number): Promise<void> {
    rememberRevocation(this.ctx.storage, userId, validFrom);
    const live = this.#live ?? this.#restore();
    if (live && live.grant.user.id === userId && live.grant.token.generation < validFrom) {
      this.#end(live, "revoked", SESSION_ENDED_CLOSE_CODE, "token revoked");
    }
  }

  #start(grant: SocketGrant, transport: Live["transport"], userTopic: UserTopicJoin | null = null): Live {
    const { userPostsPerSecond: perSecond, userPostsBurst: burst } = configOf(this.env).roomLimits;
    const userChannel =
      grant.slot === null ? undefined : this.#userChannel(grant, grant.slot, transport, userTopic, () => live);
    const live: Live = {
      grant,
      transport,
      userChannel,
      relay: new Relay(
        grant,
        { perSecond, burst },
        (room) => knownRoom(this.env, room),
        {
          deliver: (frame, joinReply) => this.#deliver(live, frame, joinReply),
          // LongPoll: one join at a time, and none while a join reply beyond the outbox's bound is unpolled.
          mayStartJoin: (joining) =>
            transport.kind === "websocket" || (!joining && !transport.buffer.holdsReplyBeyondBound),
          sessionEnded: (reason) => this.#end(live, "revoked", SESSION_ENDED_CLOSE_CODE, reason),
          relayingChanged: (relaying) => {
            if (transport.kind === "websocket") rewriteAttachment(transport.ws, { relaying });
          },
          log: (where, problem) => this.log(where, problem),
        },
        userChannel,
      ),
    };
    return live;
  }

  /** The `user:ID` channel of the session `live()` names, its join kept in the client socket's attachment. */
  #userChannel(
    grant: SocketGrant,
    slot: string,
    transport: Live["transport"],
    saved: UserTopicJoin | null,
    live: () => Live,
  ): UserChannel {
    return new UserChannel(
      {
        env: this.env,
        user: grant.user,
        slot,
        client: { serializer: serializerOf(grant.vsn), send: (frame) => this.#deliver(live(), frame) },
        // A LongPoll session lives in memory only: its join does too.
        save: (join) => {
          if (transport.kind === "websocket") rewriteAttachment(transport.ws, { userTopic: join });
        },
        gone: () => this.#live !== live(),
        log: (where, problem) => this.log(where, problem),
      },
      saved,
    );
  }

  #deliver(live: Live, frame: string | ArrayBuffer, joinReply = false): void {
    if (this.#live !== live) return;
    const { transport } = live;
    if (transport.kind === "websocket") {
      sendQuietly(transport.ws, frame);
      return;
    }
    if (typeof frame !== "string") {
      // Rooms send text only; LongPoll's JSON answer could not carry bytes anyway.
      this.log("SocketSession:deliver", new Error("dropped a binary frame for a long-poll client"));
      return;
    }
    if (!transport.buffer.push(frame, joinReply)) this.#end(live, "gone");
    else live.relay.resume();
  }

  /**
   * Ends the session once: leaves every room, closes the client's WebSocket (with `code`) or answers the
   * held poll, and gives the user's slot back.
   */
  #end(live: Live, ending: Ending, code = 1000, reason = "session ended"): void {
    if (this.#live !== live) return;
    this.#live = undefined;
    live.relay.end(reason);
    const { transport, grant } = live;
    if (transport.kind === "websocket") {
      dropGrant(transport.ws);
      closeQuietly(transport.ws, code, reason);
      void this.#clear().catch((problem) => this.log("SocketSession:forget", problem));
    } else {
      this.ctx.storage.kv.put(ENDED_KEY, ending);
      transport.buffer.clear();
      void setAlarm(this.ctx.storage, Date.now() + REMEMBER_ENDING_MS).catch((problem) =>
        this.log("SocketSession:remember ending", problem),
      );
    }
    this.#release(grant);
  }

  /** The client's WebSocket closed: the session ends; if it was hibernating, its slot is still given back. */
  #clientGone(ws: WebSocket): void {
    const live = this.#live;
    if (live?.transport.kind === "websocket" && live.transport.ws === ws) {
      this.#end(live, "gone");
      return;
    }
    const grant = (ws.deserializeAttachment() as ClientAttachment | null)?.grant;
    if (grant) this.#release(grant);
    void this.#clear().catch((problem) => this.log("SocketSession:forget", problem));
  }

  /**
   * A session refused before it opened (revoked on the way here) may still have stored that revocation:
   * its id is used once, so nothing else would ever clear it.
   */
  #forgetUnopened(): void {
    void this.#clear().catch((problem) => this.log("SocketSession:forget", problem));
  }

  /** Clears the session's storage, and what this instance remembers of it (alarms.ts, remembered-revocations.ts). */
  async #clear(): Promise<void> {
    await this.ctx.storage.deleteAll();
    forgetRevocations(this.ctx.storage);
    await forgetAlarm(this.ctx.storage);
  }

  #release(grant: SocketGrant): void {
    if (grant.slot) void releaseSlot(this.env, grant.user.id, grant.slot, "SocketSession");
  }

  #endedAnswer(): EndedAnswer {
    return this.ctx.storage.kv.get(ENDED_KEY) === "revoked" ? { status: 403 } : { status: 410 };
  }

  #revoked(grant: SocketGrant): boolean {
    return isRevoked(this.ctx.storage, grant.user.id, grant.token.generation);
  }

  /**
   * The live session of `ws`, rebuilt from its attachment if the session hibernated. A socket that is
   * closing belongs to a session that has ended, and never starts one again.
   */
  #liveFor(ws: WebSocket): Live | undefined {
    if (this.#live?.transport.kind === "websocket" && this.#live.transport.ws === ws) return this.#live;
    if (this.#live || ws.readyState !== WebSocket.READY_STATE_OPEN) return undefined;
    const attachment = ws.deserializeAttachment() as ClientAttachment | null;
    if (!attachment?.grant) {
      closeQuietly(ws, CloseCode.internalError, "lost session state; reconnect");
      return undefined;
    }
    if (this.#revoked(attachment.grant)) {
      this.#release(attachment.grant);
      dropGrant(ws);
      closeQuietly(ws, SESSION_ENDED_CLOSE_CODE, "token revoked");
      return undefined;
    }
    const live = this.#start(attachment.grant, { kind: "websocket", ws }, attachment.userTopic ?? null);
    this.#live = live;
    if (attachment.relaying) {
      // Its room connections are gone with the memory that held them: start over with a fresh socket.
      this.#end(live, "gone", CloseCode.internalError, "session lost its rooms; reconnect");
      return undefined;
    }
    return live;
  }

  /** After hibernation: the session of the client WebSocket this object still holds, if any. */
  #restore(): Live | undefined {
    const [ws] = this.ctx.getWebSockets();
    return ws ? this.#liveFor(ws) : undefined;
  }
}

/** Changes some fields of the client WebSocket's attachment; one whose grant was dropped stays dropped. */
function rewriteAttachment(ws: WebSocket, patch: Partial<ClientAttachment>): void {
  const current = ws.deserializeAttachment() as ClientAttachment | null;
  if (current?.grant) ws.serializeAttachment({ ...current, ...patch } satisfies ClientAttachment);
}

/**
 * Called where the session gives the slot back itself before closing the client's socket: the close that
 * answers ours then finds no grant, and does not give it back a second time.
 */
function dropGrant(ws: WebSocket): void {
  try {
    ws.serializeAttachment(null);
  } catch {
    // A socket already closed sends no answering close.
  }
}
