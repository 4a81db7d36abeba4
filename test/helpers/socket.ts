/**
 * A raw Phoenix V2 client for tests, over a real WebSocket to the real worker and Room (Phoenix's
 * ChannelTest in spirit: push, assert_reply, assert_push). Frames are written by hand so tests can also
 * send what the official client never would.
 */
import { env, exports } from "cloudflare:workers";
import { expect } from "vitest";
import type { User } from "../../src/db/users";
import { roomStub as roomStubOf } from "../../src/realtime/room/client";
import { tokenFor } from "./users";

export type Frame = [string | null, string | null, string, string, Record<string, unknown>];

export interface ConnectOptions {
  room?: string;
  token?: string;
  origin?: string;
  /** Send the token as Phoenix's authToken subprotocol instead of a query parameter. */
  viaSubprotocol?: boolean;
  query?: Record<string, string>;
  headers?: Record<string, string>;
}

export const TEST_HOST = "http://127.0.0.1:8787";

/** The room's Durable Object, for evicting it or looking inside. */
export function roomStub(room: string) {
  return roomStubOf(env, room);
}

/** The upgrade request a Phoenix client makes; returns the worker's response as is. */
export function upgrade(options: ConnectOptions = {}): Promise<Response> {
  const url = new URL("/socket/websocket", TEST_HOST);
  url.searchParams.set("vsn", "2.0.0");
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

export class TestSocket {
  readonly frames: Frame[] = [];
  /** Text frames that did not parse as JSON arrays (never expected from the server). */
  readonly garbage: string[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  #waiters: Array<() => void> = [];
  #ref = 0;

  constructor(readonly ws: WebSocket) {
    ws.accept();
    ws.addEventListener("message", (event) => {
      try {
        this.frames.push(JSON.parse(event.data as string) as Frame);
      } catch {
        this.garbage.push(String(event.data));
      }
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

  send(frame: Frame): void {
    this.ws.send(JSON.stringify(frame));
  }

  /** Pushes and resolves with the reply's `{status, response}`. */
  async push(
    topic: string,
    event: string,
    payload: Record<string, unknown> = {},
    joinRef: string | null = null,
  ): Promise<{ status: string; response: Record<string, unknown>; frame: Frame }> {
    const ref = this.nextRef();
    this.send([joinRef, ref, topic, event, payload]);
    const frame = await this.waitFor((f) => f[1] === ref && f[3] === "phx_reply");
    const reply = frame[4] as { status: string; response: Record<string, unknown> };
    return { ...reply, frame };
  }

  /** Joins `room:ROOM` with join_ref == ref, as phoenix.js does. */
  async join(room: string, params: Record<string, unknown> = {}) {
    const ref = this.nextRef();
    this.send([ref, ref, `room:${room}`, "phx_join", params]);
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

  /** Frames of `event` pushed by this member's own channel: `[join_ref, null, topic, event, payload]`. */
  pushes(event: string, joinRef?: string): Frame[] {
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
  const response = await upgrade({ room, token: await tokenFor(user), ...options });
  expect(response.status, await describe(response)).toBe(101);
  const ws = response.webSocket;
  if (!ws) throw new Error("101 without a webSocket");
  return new TestSocket(ws);
}

/** Connects `user` without a room: a socket for many rooms (a SocketSession relaying to each room). */
export async function connectMultiplexed(user: User, options: ConnectOptions = {}): Promise<TestSocket> {
  const response = await upgrade({ token: await tokenFor(user), ...options });
  expect(response.status, await describe(response)).toBe(101);
  const ws = response.webSocket;
  if (!ws) throw new Error("101 without a webSocket");
  return new TestSocket(ws);
}

/** Connects and joins; returns the socket and the join reply. */
export async function connectAndJoin(user: User, room: string, params: Record<string, unknown> = {}) {
  const socket = await connect(user, room);
  const joined = await socket.join(room, params);
  expect(joined.status).toBe("ok");
  return { socket, joined, joinRef: joined.joinRef };
}

async function describe(response: Response): Promise<string> {
  return response.status === 101 ? "upgraded" : `HTTP ${response.status}: ${await response.clone().text()}`;
}
