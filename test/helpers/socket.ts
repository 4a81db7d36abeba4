/**
 * A raw Phoenix client for tests, over a real WebSocket to the real worker and Room (Phoenix's ChannelTest
 * in spirit: push, assert_reply, assert_push). It speaks V2 by default and V1 when asked (`vsn`); frames
 * are written by hand so tests can also send what the official client never would.
 */
import { env, exports } from "cloudflare:workers";
import { expect } from "vitest";
import type { User } from "../../src/db/users";
import type { Ref } from "../../src/realtime/phoenix/protocol";
import { roomStub as roomStubOf } from "../../src/realtime/room/client";
import { tokenFor } from "./users";

/**
 * A frame as `[join_ref, ref, topic, event, payload]`, whichever serializer carried it: a V1 frame
 * `{topic, event, payload, ref}` is read as `[null, ref, topic, event, payload]` (V1 sends no join_ref).
 */
export type Frame = [Ref, Ref, string, string, Record<string, unknown>];

/** The serializer a test socket speaks. */
export type Vsn = "1.0.0" | "2.0.0";

export interface ConnectOptions {
  room?: string;
  token?: string;
  origin?: string;
  /** Send the token as Phoenix's authToken subprotocol instead of a query parameter. */
  viaSubprotocol?: boolean;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  /** The `vsn` query parameter: 2.0.0 unless given; null leaves it out (which Phoenix reads as V1). */
  vsn?: string | null;
}

export const TEST_HOST = "http://127.0.0.1:8787";

/** The room's Durable Object, for evicting it or looking inside. */
export function roomStub(room: string) {
  return roomStubOf(env, room);
}

/** The upgrade request a Phoenix client makes; returns the worker's response as is. */
export function upgrade(options: ConnectOptions = {}): Promise<Response> {
  const url = new URL("/socket/websocket", TEST_HOST);
  if (options.vsn !== null) url.searchParams.set("vsn", options.vsn ?? "2.0.0");
  if (options.room !== undefined) url.searchParams.set("room", options.room);
  const headers: Record<string, string> = { Upgrade: "websocket", ...options.headers };
  if (options.origin) headers.Origin = options.origin;
  if (options.token !== undefined) {
    if (options.viaSubprotocol) {
      headers["Sec-WebSocket-Protocol"] = `phoenix, base64url.bearer.phx.${btoa(options.token).replace(/=/g, "")}`;
    } else {
      url.searchParams.set("token", options.token);
    }
  }
  for (const [key, value] of Object.entries(options.query ?? {})) url.searchParams.set(key, value);
  return exports.default.fetch(url, { headers });
}

/** A V1 frame the server sends: `{topic, event, payload, ref}`. */
interface V1Frame {
  topic: string;
  event: string;
  payload: Record<string, unknown>;
  ref: Ref;
}

/** A server frame in `vsn`'s encoding, read as a `Frame`; undefined if it is not one. */
export function readServerFrame(text: string, vsn: Vsn): Frame | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (vsn === "2.0.0") return Array.isArray(parsed) && parsed.length === 5 ? (parsed as Frame) : undefined;
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return undefined;
  const keys = Object.keys(parsed).sort().join(",");
  // Exactly Phoenix's V1 keys: a join_ref (or any other key) would be a server bug.
  if (keys !== "event,payload,ref,topic") return undefined;
  const { topic, event, payload, ref } = parsed as V1Frame;
  return [null, ref, topic, event, payload];
}

/** A client frame in `vsn`'s encoding: V1 leaves a null join_ref out, as V1 clients do. */
export function encodeClientFrame([joinRef, ref, topic, event, payload]: Frame, vsn: Vsn): string {
  if (vsn === "2.0.0") return JSON.stringify([joinRef, ref, topic, event, payload]);
  return JSON.stringify(
    joinRef === null ? { topic, event, payload, ref } : { topic, event, payload, ref, join_ref: joinRef },
  );
}

export class TestSocket {
  readonly frames: Frame[] = [];
  /** Every text frame as it arrived, for asserting exact encodings. */
  readonly texts: string[] = [];
  /** Text frames that did not parse as this serializer's frames (never expected from the server). */
  readonly garbage: string[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  #waiters: Array<() => void> = [];
  #ref = 0;

  constructor(
    readonly ws: WebSocket,
    readonly vsn: Vsn = "2.0.0",
  ) {
    ws.accept();
    ws.addEventListener("message", (event) => {
      const text = String(event.data);
      this.texts.push(text);
      const frame = readServerFrame(text, vsn);
      if (frame) this.frames.push(frame);
      else this.garbage.push(text);
      for (const wake of this.#waiters.splice(0)) wake();
    });
    this.closed = new Promise((resolve) => {
      ws.addEventListener("close", (event) => {
        resolve({ code: event.code, reason: event.reason });
        for (const wake of this.#waiters.splice(0)) wake();
      });
    });
  }

  nextRef(): string {
    this.#ref += 1;
    return String(this.#ref);
  }

  sendRaw(data: string | ArrayBuffer): void {
    this.ws.send(data);
  }

  /** Sends `frame` in this socket's serializer. */
  send(frame: Frame): void {
    this.ws.send(encodeClientFrame(frame, this.vsn));
  }

  /** Pushes and resolves with the reply's `{status, response}`. */
  async push(
    topic: string,
    event: string,
    payload: Record<string, unknown> = {},
    joinRef: Ref = null,
  ): Promise<{ status: string; response: Record<string, unknown>; frame: Frame }> {
    const ref = this.nextRef();
    this.send([joinRef, ref, topic, event, payload]);
    const frame = await this.waitFor((f) => f[1] === ref && f[3] === "phx_reply");
    const reply = frame[4] as { status: string; response: Record<string, unknown> };
    return { ...reply, frame };
  }

  /**
   * Joins `room:ROOM` with join_ref == ref, as phoenix.js does; in V1 with a ref alone, as V1 clients do
   * (the room then joins under the ref).
   */
  async join(room: string, params: Record<string, unknown> = {}) {
    const ref = this.nextRef();
    this.send([this.vsn === "1.0.0" ? null : ref, ref, `room:${room}`, "phx_join", params]);
    const frame = await this.waitFor((f) => f[1] === ref && f[3] === "phx_reply");
    return { ...(frame[4] as { status: string; response: Record<string, unknown> }), joinRef: ref, frame };
  }

  /** Resolves with the first frame (received before or after now) matching `match`. */
  async waitFor(match: (frame: Frame) => boolean, timeoutMs = 5000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.find(match);
      if (found) return found;
      if (this.ws.readyState === WebSocket.READY_STATE_CLOSED) throw new Error("socket closed while waiting");
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`no matching frame in ${timeoutMs} ms; got ${JSON.stringify(this.frames)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /**
   * Waits until everything the room sent this socket before now has arrived: a heartbeat's reply is sent
   * after them on the same ordered stream. Lets a test assert that something was *not* received without
   * sleeping.
   */
  async barrier(): Promise<void> {
    const reply = await this.push("phoenix", "heartbeat");
    expect(reply.status).toBe("ok");
  }

  /** Frames of `event` sent to every member alike: `[null, null, topic, event, payload]`. */
  broadcasts(event: string): Frame[] {
    return this.frames.filter((f) => f[0] === null && f[1] === null && f[3] === event);
  }

  /**
   * Frames of `event` pushed by this member's own channel: `[join_ref, null, topic, event, payload]` (V2
   * only: in V1 a push is the same frame as a broadcast).
   */
  pushes(event: string, joinRef?: Ref): Frame[] {
    return this.frames.filter(
      (f) => f[0] !== null && f[1] === null && f[3] === event && (!joinRef || f[0] === joinRef),
    );
  }

  /** Every frame of `event`, broadcast or pushed. */
  received(event: string): Frame[] {
    return this.frames.filter((f) => f[1] === null && f[3] === event);
  }

  close(): void {
    try {
      this.ws.close(1000, "test done");
    } catch {
      // already closed
    }
  }
}

/**
 * Closes the sockets and waits for each close to complete, so the room has finished with them (and given
 * their slots back) before the next test.
 */
export async function closeAll(sockets: TestSocket[]): Promise<void> {
  const closing = sockets.splice(0);
  for (const socket of closing) socket.close();
  await Promise.all(
    closing.map((socket) => Promise.race([socket.closed, new Promise((resolve) => setTimeout(resolve, 2_000))])),
  );
}

/** Connects `user` to `room` and returns a socket ready to join. */
export async function connect(user: User, room: string, options: ConnectOptions = {}): Promise<TestSocket> {
  return opened(await upgrade({ room, token: await tokenFor(user), ...options }), options);
}

/** Connects `user` without a room: a socket for many rooms (a SocketSession relaying to each room). */
export async function connectMultiplexed(user: User, options: ConnectOptions = {}): Promise<TestSocket> {
  return opened(await upgrade({ token: await tokenFor(user), ...options }), options);
}

/** The serializer a `vsn` query selects (none: V1, as Phoenix). */
function vsnOf(options: ConnectOptions): Vsn {
  const vsn = options.vsn === undefined ? "2.0.0" : options.vsn;
  return vsn === null || vsn.startsWith("1.") ? "1.0.0" : "2.0.0";
}

async function opened(response: Response, options: ConnectOptions): Promise<TestSocket> {
  expect(response.status, await describe(response)).toBe(101);
  const ws = response.webSocket;
  if (!ws) throw new Error("101 without a webSocket");
  return new TestSocket(ws, vsnOf(options));
}

/** Connects and joins; returns the socket and the join reply. */
export async function connectAndJoin(
  user: User,
  room: string,
  params: Record<string, unknown> = {},
  options: ConnectOptions = {},
) {
  const socket = await connect(user, room, options);
  const joined = await socket.join(room, params);
  expect(joined.status).toBe("ok");
  return { socket, joined, joinRef: joined.joinRef };
}

async function describe(response: Response): Promise<string> {
  return response.status === 101 ? "upgraded" : `HTTP ${response.status}: ${await response.clone().text()}`;
}
