/**
 * The official `phoenix` JavaScript client, from plain Node, against a real `wrangler dev`: what any
 * Phoenix client can count on from pyre's socket endpoint and room channel.
 */
import { type Channel, Socket } from "phoenix";
import { afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { type RegisteredUser, rawGet, registerUser, UPGRADE_HEADERS, uniqueName, waitUntil } from "./helpers";
import { joinChannel, NO_RECONNECT, OpenSockets, type Post, push, socketUrl } from "./phoenix";

const baseUrl = inject("baseUrl");
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Every socket a test opens, disconnected after it whatever happened. */
const sockets = new OpenSockets();

afterEach(() => sockets.disconnectAll());

/** A socket that neither reconnects nor rejoins during a test, so a failure shows as a failure. */
function newSocket(room: string, credentials: { token?: string; authToken?: string }): Socket {
  const params: Record<string, string> = { room };
  if (credentials.token !== undefined) params.token = credentials.token;
  return sockets.add(
    new Socket(socketUrl(baseUrl), {
      params,
      ...(credentials.authToken !== undefined && { authToken: credentials.authToken }),
      ...NO_RECONNECT,
    }),
  );
}

interface Member {
  channel: Channel;
  /** The join reply. */
  joined: { posts: Post[] };
  /** Every `new_post` broadcast received, in order. */
  broadcasts: Post[];
}

/** Connects `user` to `room` and joins `room:<room>`, collecting broadcasts from before the join. */
async function enter(
  room: string,
  user: RegisteredUser,
  params: object = {},
  how: "params" | "authToken" = "params",
): Promise<Member> {
  const socket = newSocket(room, how === "params" ? { token: user.token } : { authToken: user.token });
  const channel = socket.channel(`room:${room}`, params);
  const broadcasts: Post[] = [];
  channel.on("new_post", (post: Post) => {
    broadcasts.push(post);
  });
  socket.connect();
  const joined = (await joinChannel(channel)) as { posts: Post[] };
  return { channel, joined, broadcasts };
}

/** Pushes a post that must be accepted, and checks the reply is the stored Post. */
async function post(member: Member, message: string, username: string): Promise<Post> {
  const result = await push(member.channel, "new_post", { message });
  expect(result.status, JSON.stringify(result.response)).toBe("ok");
  return expectPost(result.response, message, username);
}

function expectPost(value: unknown, message: string, username: string): Post {
  expect(value).toEqual({
    id: expect.any(Number),
    message,
    inserted_at: expect.stringMatching(ISO_UTC),
    user: { id: expect.any(Number), username },
  });
  const stored = value as Post;
  expect(Number.isInteger(stored.id) && stored.id > 0).toBe(true);
  expect(Number.isInteger(stored.user.id) && stored.user.id > 0).toBe(true);
  expect(Math.abs(Date.parse(stored.inserted_at) - Date.now())).toBeLessThan(5 * 60_000);
  return stored;
}

let alice: RegisteredUser;
let bob: RegisteredUser;

beforeAll(async () => {
  alice = await registerUser(baseUrl, uniqueName("alice"));
  bob = await registerUser(baseUrl, uniqueName("bob"));
});

describe("room channel over the official phoenix client", () => {
  it("delivers a post to the sender as a reply and to everyone in the room, sender included", async () => {
    const room = uniqueName("e2e");
    const a = await enter(room, alice);
    const b = await enter(room, bob);
    expect(a.joined).toEqual({ posts: [], has_more: false, seq: 0, changes: [], last_read_id: 0 });

    const stored = await post(a, "hello bob", alice.username);

    await waitUntil("bob gets the broadcast", () => b.broadcasts.length >= 1);
    await waitUntil("alice gets her own broadcast", () => a.broadcasts.length >= 1);
    expect(b.broadcasts).toEqual([stored]);
    expect(a.broadcasts).toEqual([stored]);
  });

  it("accepts the token as authToken (the WebSocket subprotocol) with no token in params", async () => {
    const room = uniqueName("e2e");
    const a = await enter(room, alice, {}, "authToken");
    const b = await enter(room, bob, {}, "authToken");

    const stored = await post(a, "sent with authToken", alice.username);

    await waitUntil("bob gets the broadcast", () => b.broadcasts.length >= 1);
    expect(b.broadcasts).toEqual([stored]);
  });

  it("sends a mentions_only member only the posts that mention them", async () => {
    const room = uniqueName("e2e");
    const carol = await registerUser(baseUrl, uniqueName("carol"));
    const dave = await registerUser(baseUrl, uniqueName("dave"));
    const c = await enter(room, carol, { mentions_only: true });
    const d = await enter(room, dave);
    const a = await enter(room, alice);

    const plain = await post(a, "no mention here", alice.username);
    const mention = await post(a, `hey @${carol.username}`, alice.username);

    await waitUntil("dave has both posts", () => d.broadcasts.length >= 2);
    // The plain post was broadcast first on the same socket, so once the mention is in, it would be too.
    await waitUntil("carol has the mention", () => c.broadcasts.some((p) => p.id === mention.id));
    expect(d.broadcasts).toEqual([plain, mention]);
    expect(c.broadcasts).toEqual([mention]);
  });

  it("replies to a join with the room's history, or with only the posts after last_seen_id", async () => {
    const room = uniqueName("e2e");
    const a = await enter(room, alice);
    const first = await post(a, "first", alice.username);
    const second = await post(a, "second", alice.username);
    const third = await post(a, "third", alice.username);
    expect(first.id).toBeLessThan(second.id);
    expect(second.id).toBeLessThan(third.id);

    const fresh = await enter(room, bob, {});
    // Bob's read position is made at his first join: nothing said before he came is unread.
    const lastRead = third.id;
    expect(fresh.joined).toEqual({
      posts: [first, second, third],
      has_more: false,
      seq: third.id,
      changes: [],
      last_read_id: lastRead,
    });

    const catchingUp = await enter(room, bob, { last_seen_id: first.id });
    expect(catchingUp.joined).toEqual({
      posts: [second, third],
      has_more: false,
      seq: third.id,
      changes: [],
      last_read_id: lastRead,
    });

    const upToDate = await enter(room, bob, { last_seen_id: third.id });
    expect(upToDate.joined).toEqual({ posts: [], has_more: false, seq: third.id, changes: [], last_read_id: lastRead });
  });

  it("refuses blank and too-long messages with reason invalid, and broadcasts nothing for them", async () => {
    const room = uniqueName("e2e");
    const a = await enter(room, alice);
    const b = await enter(room, bob);

    expect(await push(a.channel, "new_post", { message: "   " })).toEqual({
      status: "error",
      response: { reason: "invalid", errors: { message: "can't be blank" } },
    });

    const tooLong = await push(a.channel, "new_post", { message: "x".repeat(2001) });
    expect(tooLong).toEqual({
      status: "error",
      response: { reason: "invalid", errors: { message: expect.stringContaining("too long") } },
    });

    // The longest allowed message goes through, and is the first thing anyone was sent.
    const longest = await post(a, "y".repeat(2000), alice.username);
    await waitUntil("bob gets the accepted post", () => b.broadcasts.length >= 1);
    await waitUntil("alice gets the accepted post", () => a.broadcasts.length >= 1);
    expect(b.broadcasts).toEqual([longest]);
    expect(a.broadcasts).toEqual([longest]);
  });
});

describe("socket endpoint refusals", () => {
  it("never joins with a bad token: the connection fails (403) and onError reports it", async () => {
    const room = uniqueName("e2e");
    const socket = newSocket(room, { token: "not-a-token" });
    const errors: unknown[] = [];
    let opened = false;
    socket.onError((error) => {
      errors.push(error);
    });
    socket.onOpen(() => {
      opened = true;
    });
    const channel = socket.channel(`room:${room}`, {});
    let joinAnswered = false;
    channel.join().receive("ok", () => {
      joinAnswered = true;
    });
    socket.connect();

    await waitUntil("the socket reports the failed connection", () => errors.length > 0);
    expect(opened).toBe(false);
    expect(socket.isConnected()).toBe(false);
    expect(joinAnswered).toBe(false);
    expect(channel.state).not.toBe("joined");

    const answer = await rawGet(`${baseUrl}/socket/websocket?room=${room}&token=not-a-token&vsn=2.0.0`, {
      ...UPGRADE_HEADERS,
    });
    expect(answer.status).toBe(403);
  });

  it("answers raw handshakes: 101 when all is well, 403/426/400 when not", async () => {
    const room = uniqueName("e2e");
    const query = (params: Record<string, string>) =>
      `${baseUrl}/socket/websocket?${new URLSearchParams({ vsn: "2.0.0", ...params })}`;

    // Controls: the same handshake with a good token is accepted, with or without our own Origin.
    expect((await rawGet(query({ room, token: alice.token }), { ...UPGRADE_HEADERS })).status).toBe(101);
    expect((await rawGet(query({ room, token: alice.token }), { ...UPGRADE_HEADERS, Origin: baseUrl })).status).toBe(
      101,
    );

    expect((await rawGet(query({ room, token: "bad" }), { ...UPGRADE_HEADERS })).status).toBe(403);
    expect((await rawGet(query({ room }), { ...UPGRADE_HEADERS })).status).toBe(403);

    const notUpgrade = await fetch(query({ room, token: alice.token }));
    expect(notUpgrade.status).toBe(426);
    await notUpgrade.arrayBuffer();

    expect((await rawGet(query({ room: "no spaces!", token: alice.token }), { ...UPGRADE_HEADERS })).status).toBe(400);
    expect((await rawGet(query({ room: "x".repeat(65), token: alice.token }), { ...UPGRADE_HEADERS })).status).toBe(
      400,
    );

    const evil = await rawGet(query({ room, token: alice.token }), {
      ...UPGRADE_HEADERS,
      Origin: "http://evil.example",
    });
    expect(evil.status).toBe(403);
  });
});
