/**
 * The two ways in that Phoenix front-ends expect, with the official `phoenix` client from Node against a
 * real `wrangler dev`: one socket for many rooms (the tutorial's code as written), and LongPoll, chosen
 * outright or reached through `longPollFallbackMs` when a proxy refuses WebSocket upgrades.
 *
 * The proxy is a few lines of node:http started here, in front of the real server: it passes plain HTTP
 * through, refuses every WebSocket upgrade (as a corporate proxy does), and can hold polls back to play a
 * client that has fallen behind.
 */
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type Channel, LongPoll, Socket } from "phoenix";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { type RegisteredUser, registerUser, uniqueName, waitUntil } from "./helpers";

interface Post {
  id: number;
  message: string;
  user: { id: number; username: string };
}

interface Reply {
  status: "ok" | "error" | "timeout";
  response: unknown;
}

const baseUrl = inject("baseUrl");
const socketUrl = `${baseUrl.replace(/^http/, "ws")}/socket`;

const sockets: Socket[] = [];
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.disconnect();
});

/** A socket that does not reconnect or rejoin by itself within a test, unless the test asks it to. */
function newSocket(endPoint: string, options: Partial<ConstructorParameters<typeof Socket>[1]> = {}): Socket {
  const socket = new Socket(endPoint, {
    timeout: 10_000,
    reconnectAfterMs: () => 60_000,
    rejoinAfterMs: () => 60_000,
    ...options,
  });
  sockets.push(socket);
  return socket;
}

function answer(push: ReturnType<Channel["push"]>): Promise<Reply> {
  return new Promise((resolve) => {
    push
      .receive("ok", (response: unknown) => resolve({ status: "ok", response }))
      .receive("error", (response: unknown) => resolve({ status: "error", response }))
      .receive("timeout", () => resolve({ status: "timeout", response: null }));
  });
}

/** A channel joined and collecting its `new_post` broadcasts. */
async function joined(socket: Socket, topic: string, params: object | (() => object) = {}) {
  const channel = socket.channel(topic, params);
  const posts: Post[] = [];
  channel.on("new_post", (post: Post) => {
    posts.push(post);
  });
  const reply = await answer(channel.join());
  expect(reply.status, JSON.stringify(reply.response)).toBe("ok");
  return { channel, posts, reply: reply.response as { posts: Post[] } };
}

/** A member on its own room-bound WebSocket: the fast path the others are compared with. */
async function roomBound(user: RegisteredUser, room: string) {
  const socket = newSocket(socketUrl, { params: { room, token: user.token } });
  socket.connect();
  return joined(socket, `room:${room}`);
}

async function post(channel: Channel, message: string): Promise<Post> {
  const reply = await answer(channel.push("new_post", { message }));
  expect(reply.status, JSON.stringify(reply.response)).toBe("ok");
  return reply.response as Post;
}

function received(posts: Post[], message: string): () => boolean {
  return () => posts.some((p) => p.message === message);
}

async function logOut(user: RegisteredUser): Promise<void> {
  const response = await fetch(`${baseUrl}/logout`, {
    method: "POST",
    redirect: "manual",
    headers: { Cookie: user.cookie, Origin: baseUrl },
  });
  await response.arrayBuffer();
  expect(response.status).toBe(303);
}

/** Passes HTTP through to the real server; refuses WebSocket upgrades; can hold polls back. */
class RefusingProxy {
  readonly #server: Server;
  #target = new URL(baseUrl);
  #holding = false;
  readonly #held: Array<() => void> = [];
  upgradesRefused = 0;

  constructor() {
    this.#server = createServer((req, res) => {
      if (this.#holding && req.method === "GET" && req.url?.startsWith("/socket/longpoll")) {
        this.#held.push(() => this.#forward(req, res));
      } else {
        this.#forward(req, res);
      }
    });
    this.#server.on("upgrade", (_req, socket) => {
      this.upgradesRefused += 1;
      socket.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  hold(): void {
    this.#holding = true;
  }

  release(): void {
    this.#holding = false;
    for (const forward of this.#held.splice(0)) forward();
  }

  async stop(): Promise<void> {
    this.release();
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  #forward(req: IncomingMessage, res: ServerResponse): void {
    const upstream = request(
      { host: this.#target.hostname, port: this.#target.port, method: req.method, path: req.url, headers: req.headers },
      (response) => {
        res.writeHead(response.statusCode ?? 502, response.headers);
        response.pipe(res);
      },
    );
    upstream.once("error", () => res.destroy());
    res.once("close", () => upstream.destroy());
    req.pipe(upstream);
  }
}

let alice: RegisteredUser;
let bob: RegisteredUser;
const proxy = new RefusingProxy();
let proxyUrl: string;

beforeAll(async () => {
  alice = await registerUser(baseUrl, uniqueName("alice"));
  bob = await registerUser(baseUrl, uniqueName("bob"));
  proxyUrl = await proxy.start();
});

afterAll(() => proxy.stop());

describe("one socket, many rooms", () => {
  it("runs the tutorial's client code as written, posting to and hearing from a room-bound member", async () => {
    const member = await roomBound(bob, "lobby");
    // A page's location, which "/socket" is resolved against; the rest is the Phoenix guide's code.
    const globals = globalThis as { location?: unknown };
    globals.location = new URL(baseUrl);
    const userToken = alice.token;
    let joinedWith: unknown;
    try {
      const socket = new Socket("/socket", { params: { token: userToken } });
      sockets.push(socket);
      socket.connect();

      const channel = socket.channel("room:lobby", {});
      channel
        .join()
        .receive("ok", (resp) => {
          joinedWith = resp;
        })
        .receive("error", (resp) => {
          console.log("Unable to join", resp);
        });

      const heard: Post[] = [];
      channel.on("new_post", (payload: Post) => {
        heard.push(payload);
      });
      await waitUntil("the tutorial's join is answered", () => joinedWith !== undefined);
      expect(joinedWith).toEqual({
        posts: expect.any(Array),
        has_more: false,
        seq: expect.any(Number),
        changes: [],
        last_read_id: expect.any(Number),
      });

      const text = `hello from the tutorial ${uniqueName("m")}`;
      channel.push("new_post", { message: text });
      await waitUntil("the room-bound member hears the tutorial client", received(member.posts, text));
      const reply = `and back ${uniqueName("m")}`;
      await post(member.channel, reply);
      await waitUntil("the tutorial client hears the member", received(heard, reply));
    } finally {
      delete globals.location;
    }
  });

  it("keeps two rooms on one socket apart, and leaving one keeps the other", async () => {
    const roomA = uniqueName("mx");
    const roomB = uniqueName("mx");
    const socket = newSocket(socketUrl, { authToken: alice.token });
    socket.connect();
    const a = await joined(socket, `room:${roomA}`);
    const b = await joined(socket, `room:${roomB}`);
    const inA = await roomBound(bob, roomA);
    const inB = await roomBound(bob, roomB);

    await post(inA.channel, "only in a");
    await post(inB.channel, "only in b");
    await waitUntil("a hears its post", received(a.posts, "only in a"));
    await waitUntil("b hears its post", received(b.posts, "only in b"));
    expect(a.posts.map((p) => p.message)).toEqual(["only in a"]);
    expect(b.posts.map((p) => p.message)).toEqual(["only in b"]);

    expect((await answer(a.channel.leave())).status).toBe("ok");
    await post(inA.channel, "after a left");
    await post(inB.channel, "b still here");
    await waitUntil("b still hears its room", received(b.posts, "b still here"));
    const mine = await post(b.channel, "from the shared socket");
    expect(mine.user.username).toBe(alice.username);
    await waitUntil("the member in b hears it", received(inB.posts, "from the shared socket"));
    expect(a.posts.map((p) => p.message)).toEqual(["only in a"]);
  });

  it("joins 100 rooms on one socket; the 101st join is refused with Phoenix's reason", async () => {
    // A hundred rooms wake at once: on a busy machine that takes longer than a join's usual 10 s.
    const socket = newSocket(socketUrl, { params: { token: alice.token }, timeout: 40_000 });
    const prefix = uniqueName("many");
    // Opened by others first, 20 each: alice joining 100 unused names would be over her daily allowance.
    await openRoomsAsOthers(Array.from({ length: 100 }, (_, n) => `${prefix}_${n}`));
    socket.connect();
    const replies = await Promise.all(
      Array.from({ length: 100 }, (_, n) => answer(socket.channel(`room:${prefix}_${n}`, {}).join())),
    );
    expect(replies.filter((reply) => reply.status === "ok")).toHaveLength(100);
    const extra = await answer(socket.channel(`room:${prefix}_extra`, {}).join());
    expect(extra).toEqual({ status: "error", response: { reason: "too many channels joined" } });
  }, 60_000);
});

describe("LongPoll", () => {
  it("joins, pushes with replies, carries broadcasts both ways with a WebSocket member, and leaves", async () => {
    const room = uniqueName("lp");
    const socket = newSocket(socketUrl, { params: { token: alice.token }, transport: LongPoll });
    socket.connect();
    const polling = await joined(socket, `room:${room}`);
    const member = await roomBound(bob, room);

    const mine = await post(polling.channel, "over long polling");
    expect(mine.user.username).toBe(alice.username);
    await waitUntil("the WebSocket member hears the long-poll member", received(member.posts, "over long polling"));
    await post(member.channel, "over a websocket");
    await waitUntil("the long-poll member hears the WebSocket member", received(polling.posts, "over a websocket"));
    expect(polling.posts.map((p) => p.message)).toEqual(["over long polling", "over a websocket"]);

    expect((await answer(polling.channel.leave())).status).toBe("ok");
    await post(member.channel, "after the leave");
    const again = await joined(socket, `room:${room}`, () => ({ last_seen_id: mine.id }));
    expect(again.reply.posts.map((p) => p.message)).toEqual(["over a websocket", "after the leave"]);
  });

  it("takes authToken as X-Phoenix-AuthToken", async () => {
    const room = uniqueName("lp");
    const socket = newSocket(socketUrl, { authToken: alice.token, transport: LongPoll });
    socket.connect();
    const polling = await joined(socket, `room:${room}`);
    expect((await post(polling.channel, "with authToken")).user.username).toBe(alice.username);
  });

  it("rejoins after a 410 (its session ended while it lagged behind) and misses nothing", async () => {
    const room = uniqueName("lp");
    const errors: unknown[] = [];
    const socket = newSocket(`${proxyUrl.replace(/^http/, "ws")}/socket`, {
      params: { token: alice.token },
      transport: LongPoll,
      reconnectAfterMs: () => 100,
      rejoinAfterMs: () => 100,
    });
    socket.onError((error) => {
      errors.push(error);
    });
    // As a client that wants to miss nothing: every join, rejoins included, says what it has seen.
    const posts: Post[] = [];
    let lastSeenId = 0;
    const see = (p: Post) => {
      if (!posts.some((seen) => seen.id === p.id)) posts.push(p);
      lastSeenId = Math.max(lastSeenId, p.id);
    };
    const channel = socket.channel(`room:${room}`, () => (lastSeenId > 0 ? { last_seen_id: lastSeenId } : {}));
    channel.on("new_post", see);
    let joins = 0;
    channel.join().receive("ok", (reply: { posts: Post[] }) => {
      joins += 1;
      reply.posts.forEach(see);
    });
    socket.connect();
    await waitUntil("the long-poll client joins", () => joins === 1);
    const member = await roomBound(bob, room);
    await post(member.channel, "before the lag");
    await waitUntil("the poller hears it", received(posts, "before the lag"));

    // Its polls stop getting through, and more than 1,000 frames pile up in its session.
    proxy.hold();
    await post(member.channel, "while it lagged");
    for (let n = 0; n < 1_100; n++) socket.ping(() => undefined);
    await waitUntil("the client hears its session is gone (410)", () => errors.includes(410), 20_000);
    proxy.release();

    await waitUntil("the channel rejoined on a new session", () => joins === 2, 20_000);
    expect(channel.state).toBe("joined");
    await waitUntil("the post made while it lagged came back in the rejoin", received(posts, "while it lagged"));
    await post(member.channel, "after the rejoin");
    await waitUntil("live posts arrive again", received(posts, "after the rejoin"));
    expect(posts.map((p) => p.message)).toEqual(["before the lag", "while it lagged", "after the rejoin"]);
  }, 60_000);

  it("is where longPollFallbackMs lands when a proxy refuses WebSocket upgrades", async () => {
    const room = uniqueName("fallback");
    const before = proxy.upgradesRefused;
    const socket = newSocket(`${proxyUrl.replace(/^http/, "ws")}/socket`, {
      params: { token: alice.token },
      longPollFallbackMs: 500,
    });
    socket.connect();
    const polling = await joined(socket, `room:${room}`);
    expect(proxy.upgradesRefused).toBeGreaterThan(before);
    expect((socket as unknown as { transport: unknown }).transport).toBe(LongPoll);

    const member = await roomBound(bob, room);
    await post(polling.channel, "through the proxy");
    await waitUntil("the member hears the fallen-back client", received(member.posts, "through the proxy"));
    await post(member.channel, "back through the proxy");
    await waitUntil("the fallen-back client hears the member", received(polling.posts, "back through the proxy"));
  });
});

describe("logging out", () => {
  it("closes a multiplexed socket with 4001 and answers a long-poll session 403, within 5 s", async () => {
    const leaver = await registerUser(baseUrl, uniqueName("leaver"));
    const multiplexed = newSocket(socketUrl, { params: { token: leaver.token } });
    const closes: number[] = [];
    multiplexed.onClose((event: { code: number }) => {
      closes.push(event.code);
    });
    multiplexed.connect();
    await joined(multiplexed, `room:${uniqueName("out")}`);
    await joined(multiplexed, `room:${uniqueName("out")}`);

    const polling = newSocket(socketUrl, { params: { token: leaver.token }, transport: LongPoll });
    const errors: unknown[] = [];
    polling.onError((error) => {
      errors.push(error);
    });
    polling.connect();
    await joined(polling, `room:${uniqueName("out")}`);

    const loggedOutAt = Date.now();
    await logOut(leaver);
    await waitUntil("the multiplexed socket closes with 4001", () => closes.includes(4001), 5_000);
    await waitUntil("the long-poll session answers 403", () => errors.includes(403), 5_000);
    expect(Date.now() - loggedOutAt).toBeLessThan(5_000);
  });
});

/** Public rooms opened through the rooms API by fresh users, 20 each (ROOMS_PER_USER_PER_DAY). */
async function openRoomsAsOthers(names: string[]): Promise<void> {
  for (let start = 0; start < names.length; start += 20) {
    const owner = await registerUser(baseUrl, uniqueName("opener"));
    for (const name of names.slice(start, start + 20)) {
      const response = await fetch(`${baseUrl}/api/rooms`, {
        method: "POST",
        headers: { Authorization: `Bearer ${owner.token}`, "Content-Type": "application/json" },
        body: JSON.stringify({ kind: "public", name }),
      });
      if (response.status !== 201)
        throw new Error(`POST /api/rooms ${name}: ${response.status} ${await response.text()}`);
    }
  }
}
