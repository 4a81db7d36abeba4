/**
 * The official `phoenix` client from Node, for the e2e files: sockets that are all disconnected after each
 * test, joins and pushes as promises, a member on any of the three ways in, a WebSocket that records (and
 * can lose) frames on the real wire, and a room's stored posts read back over HTTP.
 */
import { type Channel, LongPoll, type Push, Socket, type SocketConnectOption } from "phoenix";
import type { Post } from "../../src/shared/post";
import type { JoinResponse } from "../../src/shared/room-contract";

export type { Post };

export interface PushResult {
  status: "ok" | "error";
  response: unknown;
}

export function socketUrl(baseUrl: string): string {
  return `${baseUrl.replace(/^http/, "ws")}/socket`;
}

/** Options for a socket that neither reconnects nor rejoins during a test, so a failure shows as one. */
export const NO_RECONNECT: Partial<SocketConnectOption> = {
  timeout: 10_000,
  reconnectAfterMs: () => 60_000,
  rejoinAfterMs: () => 60_000,
};

/** Options for a socket that reconnects and rejoins quickly, as a page would after a cut. */
export const QUICK_RECONNECT: Partial<SocketConnectOption> = {
  timeout: 10_000,
  reconnectAfterMs: () => 100,
  rejoinAfterMs: () => 100,
};

/** Every socket a test opens; `disconnectAll` in afterEach. */
export class OpenSockets {
  readonly #sockets: Socket[] = [];

  add<T extends Socket>(socket: T): T {
    this.#sockets.push(socket);
    return socket;
  }

  disconnectAll(): void {
    for (const socket of this.#sockets.splice(0)) socket.disconnect();
  }
}

/**
 * Joins, answering the first join reply. `onEveryJoin` is told of that reply and of every automatic
 * rejoin's (phoenix keeps the join push's hooks), before anything else hears of it.
 */
export function joinChannel(channel: Channel, onEveryJoin?: (response: JoinResponse) => void): Promise<JoinResponse> {
  const join = channel.join();
  if (onEveryJoin) join.receive("ok", onEveryJoin);
  return new Promise((resolve, reject) => {
    join
      .receive("ok", resolve)
      .receive("error", (response: unknown) => reject(new Error(`join refused: ${JSON.stringify(response)}`)))
      .receive("timeout", () => reject(new Error(`join of ${channel.topic} timed out`)));
  });
}

/** A push's reply, ok or error alike; a timeout rejects, naming `what` was pushed. */
export function replyTo(pushed: Push, what: string): Promise<PushResult> {
  return new Promise((resolve, reject) => {
    pushed
      .receive("ok", (response: unknown) => resolve({ status: "ok", response }))
      .receive("error", (response: unknown) => resolve({ status: "error", response }))
      .receive("timeout", () => reject(new Error(`${what} timed out`)));
  });
}

export interface JoinResult {
  /** `"channel error"`: a `phx_error` (or the socket failing) came instead of a reply. */
  status: PushResult["status"] | "channel error";
  response: unknown;
}

/**
 * Joins once and answers what came back, a refusal included (`joinChannel` is for joins that must succeed).
 * A `phx_error` ends the wait too: phoenix then drops the join's hooks, so its reply would never come.
 */
export function tryJoin(channel: Channel): Promise<JoinResult> {
  return new Promise((resolve, reject) => {
    channel.onError((reason: unknown) => resolve({ status: "channel error", response: reason }));
    replyTo(channel.join(), `the join of ${channel.topic}`).then(resolve, reject);
  });
}

/** `timeoutMs`: phoenix.js's own (the socket's, 10 s) unless a test waits on many pushes at once. */
export function push(channel: Channel, event: string, payload: object, timeoutMs?: number): Promise<PushResult> {
  return replyTo(channel.push(event, payload, timeoutMs), `push ${event}`);
}

/** Pushes a post that must be stored, and answers the stored Post. */
export async function post(channel: Channel, message: string, clientId?: string, timeoutMs?: number): Promise<Post> {
  const result = await push(
    channel,
    "new_post",
    clientId === undefined ? { message } : { message, client_id: clientId },
    timeoutMs,
  );
  if (result.status !== "ok")
    throw new Error(`new_post ${JSON.stringify(message)}: ${JSON.stringify(result.response)}`);
  return result.response as Post;
}

/** What crossed a {@link recordingTransport}'s wire, as text frames. */
export interface Wire {
  sent: string[];
  received: string[];
  /** Set to lose matching frames from the server before phoenix sees them (they are still recorded). */
  loseIncoming?: (frame: string) => boolean;
  /** Set to be told of each frame sent, e.g. to cut the connection right after one. */
  onSend?: (frame: string, socket: WebSocket) => void;
}

/**
 * The real WebSocket, recording every frame, for phoenix's `transport` option. Losing a frame is done by
 * a listener added before phoenix sets `onmessage`, which therefore never sees it.
 */
export function recordingTransport(wire: Wire): typeof WebSocket {
  return class RecordingWebSocket extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols);
      this.addEventListener("message", (event) => {
        const frame = String(event.data);
        wire.received.push(frame);
        if (wire.loseIncoming?.(frame)) event.stopImmediatePropagation();
      });
    }

    override send(data: string | ArrayBufferLike | Blob | ArrayBufferView): void {
      const frame = String(data);
      wire.sent.push(frame);
      super.send(data);
      wire.onSend?.(frame, this);
    }
  };
}

/** Decoded V2 frames of a wire, `[join_ref, ref, topic, event, payload]`. */
export function frames(list: string[]): Array<[string | null, string | null, string, string, Record<string, unknown>]> {
  return list.map((frame) => JSON.parse(frame));
}

/** Every post of a room, oldest first, read over HTTP with the socket token (paging back from the newest). */
export async function storedPosts(baseUrl: string, room: string, token: string): Promise<Post[]> {
  const all: Post[] = [];
  let before: number | undefined;
  for (;;) {
    const query = before === undefined ? "limit=200" : `before=${before}&limit=200`;
    const response = await fetch(`${baseUrl}/rooms/${room}/posts?${query}`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    if (response.status !== 200) throw new Error(`GET posts of ${room} answered ${response.status}`);
    const { posts } = (await response.json()) as { posts: Post[] };
    all.unshift(...posts);
    if (posts.length < 200) return all;
    before = posts[0]?.id;
  }
}

/** One join of a room through the official client, with every event it was sent. */
export interface Member {
  socket: Socket;
  channel: Channel;
  joined: JoinResponse;
  /** Every event pushed or broadcast to this join (replies aside), in order of arrival. */
  events: Array<{ event: string; payload: unknown }>;
}

/**
 * The three ways in (docs/ways-in.md): a WebSocket bound to the room at the upgrade (`?room=`), one
 * WebSocket for many rooms, and LongPoll (also one session for many rooms).
 */
export type WayIn = "room-bound" | "multiplexed" | "longpoll";

export interface SocketOptions {
  baseUrl: string;
  token: string;
  sockets: OpenSockets;
  /** Room-bound unless told otherwise. */
  way?: WayIn;
  /** The room a room-bound socket is opened for (`?room=`); the other ways name no room. */
  room?: string;
  socket?: Partial<SocketConnectOption>;
}

/** A socket the way asked (token as `authToken`), not yet connected, that neither reconnects nor rejoins. */
export function openSocket(options: SocketOptions): Socket {
  const way = options.way ?? "room-bound";
  if (way === "room-bound" && options.room === undefined) throw new Error("a room-bound socket needs its room");
  return options.sockets.add(
    new Socket(socketUrl(options.baseUrl), {
      authToken: options.token,
      ...(way === "room-bound" && { params: { room: options.room } }),
      ...(way === "longpoll" && { transport: LongPoll }),
      ...NO_RECONNECT,
      ...options.socket,
    }),
  );
}

export interface EnterOptions extends SocketOptions {
  room: string;
  params?: object | (() => object);
  /** Runs before the join, e.g. to attach a `Presence` or bind events. */
  prepare?: (channel: Channel) => void;
  /** Told of every join reply, rejoins included. */
  onEveryJoin?: (response: JoinResponse) => void;
}

/** Connects the way asked and joins `room:ROOM`, recording events from before the join reply. */
export async function enterRoom(options: EnterOptions): Promise<Member> {
  const socket = openSocket(options);
  const channel = socket.channel(`room:${options.room}`, options.params ?? {});
  const events: Member["events"] = [];
  // phoenix's hook for every message a channel gets; it must hand the payload back.
  channel.onMessage = (event: string, payload: unknown) => {
    if (!event.startsWith("phx_") && !event.startsWith("chan_reply_")) events.push({ event, payload });
    return payload;
  };
  options.prepare?.(channel);
  socket.connect();
  const joined = await joinChannel(channel, options.onEveryJoin);
  return { socket, channel, joined, events };
}

/** The payloads of one event a member received, in order. */
export function received<T>(member: Member, event: string): T[] {
  return member.events.filter((entry) => entry.event === event).map((entry) => entry.payload as T);
}
