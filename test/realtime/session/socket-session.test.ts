/**
 * One socket, many rooms: `/socket/websocket` without `room` is a SocketSession that joins any number of
 * `room:NAME` topics, each served by its room exactly as a room-bound socket is.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { revokeEverySession } from "../../../src/auth/end-sessions";
import { TOKEN_MAX_AGE_SECONDS } from "../../../src/auth/token";
import type { User } from "../../../src/db/users";
import { MAX_CHANNELS } from "../../../src/realtime/session/relay";
import { HEARTBEAT_FRAME, HEARTBEAT_REF, HEARTBEAT_REPLY } from "../../../src/shared/heartbeat";
import { SESSION_ENDED_CLOSE_CODE } from "../../../src/shared/room-contract";
import {
  closeAll,
  connect,
  connectAndJoin,
  connectMultiplexed,
  roomStub,
  TestSocket,
  upgrade,
} from "../../helpers/socket";
import { db, makeUser, seedRooms, tokenFor } from "../../helpers/users";

const open: TestSocket[] = [];
afterEach(() => closeAll(open));

/** A socket without a room: a multiplexed session. */
async function multiplexed(user: User, options: { viaSubprotocol?: boolean } = {}): Promise<TestSocket> {
  const socket = await connectMultiplexed(user, options);
  open.push(socket);
  return socket;
}

describe("a socket without a room", () => {
  it("is accepted after the same checks, selecting the phoenix subprotocol for authToken", async () => {
    const user = await makeUser("mx_checks");
    const accepted = await upgrade({ token: await tokenFor(user), viaSubprotocol: true });
    expect(accepted.status).toBe(101);
    expect(accepted.headers.get("Sec-WebSocket-Protocol")).toBe("phoenix");
    const socket = new TestSocket(accepted.webSocket as WebSocket);
    open.push(socket);

    expect((await upgrade({})).status).toBe(403);
    expect((await upgrade({ token: "not-a-token" })).status).toBe(403);
    expect((await upgrade({ token: await tokenFor(user), origin: "https://evil.example" })).status).toBe(403);
    expect((await upgrade({ token: await tokenFor(user), vsn: "3.0.0" })).status).toBe(400);
    const emptyRoom = await upgrade({ token: await tokenFor(user), query: { room: "" } });
    expect(emptyRoom.status).toBe(400);
  });

  it("answers heartbeats itself, and joins rooms with the same reply, presence and history as the room", async () => {
    const user = await makeUser("mx_join");
    const socket = await multiplexed(user);
    expect((await socket.push("phoenix", "heartbeat")).status).toBe("ok");

    const bound = await connectAndJoin(user, "mx_join_room");
    open.push(bound.socket);
    expect((await bound.socket.push("room:mx_join_room", "new_post", { message: "before" })).status).toBe("ok");

    const joined = await socket.join("mx_join_room");
    expect(joined.status).toBe("ok");
    expect(joined.frame[0]).toBe(joined.joinRef);
    expect(joined.frame[2]).toBe("room:mx_join_room");
    expect(joined.response).toEqual({
      posts: [expect.objectContaining({ message: "before" })],
      has_more: false,
      seq: expect.any(Number),
      changes: [],
      last_read_id: expect.any(Number),
    });
    const state = await socket.waitFor((f) => f[3] === "presence_state");
    expect(state.slice(0, 3)).toEqual([joined.joinRef, null, "room:mx_join_room"]);
    const diff = await socket.waitFor((f) => f[3] === "presence_diff");
    expect(diff.slice(0, 3)).toEqual([null, null, "room:mx_join_room"]);
    expect(Object.keys((diff[4] as { joins: object }).joins)).toEqual([String(user.id)]);
  });

  it("keeps rooms apart: a post in one arrives with its topic and never on the other; leaving one keeps the other", async () => {
    const reader = await makeUser("mx_reader");
    const writer = await makeUser("mx_writer");
    const socket = await multiplexed(reader);
    const a = await socket.join("mx_apart_a");
    const b = await socket.join("mx_apart_b");
    expect([a.status, b.status]).toEqual(["ok", "ok"]);
    const inA = await connectAndJoin(writer, "mx_apart_a");
    const inB = await connectAndJoin(writer, "mx_apart_b");
    open.push(inA.socket, inB.socket);

    expect((await inA.socket.push("room:mx_apart_a", "new_post", { message: "only in a" })).status).toBe("ok");
    const arrived = await socket.waitFor((f) => f[3] === "new_post");
    expect(arrived.slice(0, 3)).toEqual([null, null, "room:mx_apart_a"]);
    await socket.barrier();
    expect(socket.received("new_post").map((f) => [f[2], f[4].message])).toEqual([["room:mx_apart_a", "only in a"]]);

    const left = await socket.push("room:mx_apart_a", "phx_leave", {}, a.joinRef);
    expect(left.status).toBe("ok");
    await socket.waitFor((f) => f[3] === "phx_close" && f[0] === a.joinRef);
    expect((await socket.push("room:mx_apart_a", "new_post", { message: "x" }, a.joinRef)).response).toEqual({
      reason: "unmatched topic",
    });

    expect((await inB.socket.push("room:mx_apart_b", "new_post", { message: "still in b" })).status).toBe("ok");
    await socket.waitFor((f) => f[3] === "new_post" && f[4].message === "still in b");
    const mine = await socket.push("room:mx_apart_b", "new_post", { message: "from the session" }, b.joinRef);
    expect(mine.status).toBe("ok");
    expect(mine.frame.slice(0, 3)).toEqual([b.joinRef, mine.frame[1], "room:mx_apart_b"]);
    await inB.socket.waitFor((f) => f[3] === "new_post" && f[4].message === "from the session");
    expect(inA.socket.received("new_post").map((f) => f[4].message)).toEqual(["only in a"]);
  });

  it("is served by the room itself: catch-up, mentions_only, client_id, typing, limits and stale joins", async () => {
    const reader = await makeUser("mx_same");
    const writer = await makeUser("mx_same_writer");
    const socket = await multiplexed(reader, { viaSubprotocol: true });
    const bound = await connectAndJoin(writer, "mx_same_a");
    open.push(bound.socket);
    const first = await bound.socket.push("room:mx_same_a", "new_post", { message: "one" });
    await bound.socket.push("room:mx_same_a", "new_post", { message: "two" });

    // last_seen_id: only what came after.
    const caughtUp = await socket.join("mx_same_a", { last_seen_id: first.response.id });
    expect((caughtUp.response.posts as Array<{ message: string }>).map((p) => p.message)).toEqual(["two"]);
    // mentions_only on another topic of the same socket: a post without a mention is not sent there.
    const filtered = await socket.join("mx_same_b", { mentions_only: true });
    const boundB = await connectAndJoin(writer, "mx_same_b");
    open.push(boundB.socket);
    await boundB.socket.push("room:mx_same_b", "new_post", { message: "nobody" });
    await boundB.socket.push("room:mx_same_b", "new_post", { message: "hi @mx_same" });
    const mention = await socket.waitFor((f) => f[2] === "room:mx_same_b" && f[3] === "new_post");
    expect(mention.slice(0, 2)).toEqual([filtered.joinRef, null]);
    expect(mention[4].message).toBe("hi @mx_same");

    // client_id: a retry answers the original post.
    const once = await socket.push(
      "room:mx_same_a",
      "new_post",
      { message: "once", client_id: "mx-1" },
      caughtUp.joinRef,
    );
    const again = await socket.push(
      "room:mx_same_a",
      "new_post",
      { message: "once", client_id: "mx-1" },
      caughtUp.joinRef,
    );
    expect(again.response.id).toBe(once.response.id);
    // typing: relayed to the others, acknowledged to the typist.
    expect((await socket.push("room:mx_same_a", "typing", {}, caughtUp.joinRef)).status).toBe("ok");
    const typing = await bound.socket.waitFor((f) => f[3] === "typing");
    expect(typing[4]).toEqual({ user: { id: reader.id, username: "mx_same" } });
    // errors: the room's own answers.
    const blank = await socket.push("room:mx_same_a", "new_post", { message: " " }, caughtUp.joinRef);
    expect(blank.response).toEqual({ reason: "invalid", errors: { message: "can't be blank" } });
    const stale = await socket.push("room:mx_same_a", "new_post", { message: "old join" }, "not-the-join");
    expect(stale.response).toEqual({ reason: "stale join_ref" });
    const unknown = await socket.push("room:mx_same_a", "shout", {}, caughtUp.joinRef);
    expect(unknown.response).toMatchObject({ reason: "unknown event" });
    const burst = await Promise.all(
      Array.from({ length: 12 }, (_, n) =>
        socket.push("room:mx_same_a", "new_post", { message: `burst ${n}` }, caughtUp.joinRef),
      ),
    );
    expect(burst.some((reply) => reply.response.reason === "rate_limited")).toBe(true);
  });

  it("answers pyre's constant heartbeat frame without a room", async () => {
    const user = await makeUser("mx_constant_hb");
    const socket = await multiplexed(user);
    socket.sendRaw(HEARTBEAT_FRAME);
    const reply = await socket.waitFor((f) => f[1] === HEARTBEAT_REF);
    expect(JSON.stringify(reply)).toBe(HEARTBEAT_REPLY);
  });

  it("answers what no room would see: unmatched topics, malformed frames, leaves of topics not joined", async () => {
    const user = await makeUser("mx_unmatched");
    const socket = await multiplexed(user);
    const notARoom = await socket.push("lobby:1", "phx_join", {}, "1");
    expect(notARoom.response).toEqual({ reason: "unmatched topic" });
    expect(notARoom.frame[0]).toBeNull();
    const badName = await socket.push("room:no spaces", "phx_join", {}, "2");
    expect(badName.response).toEqual({ reason: "unmatched topic" });
    const notJoined = await socket.push("room:mx_never", "new_post", { message: "hi" });
    expect(notJoined.response).toEqual({ reason: "unmatched topic" });
    expect((await socket.push("room:mx_never", "phx_leave")).status).toBe("ok");

    socket.sendRaw(JSON.stringify([null, "9", "room:mx_never", "new_post", "not an object"]));
    const malformed = await socket.waitFor((f) => f[1] === "9");
    expect(malformed[4]).toEqual({
      status: "error",
      response: { reason: "malformed frame", detail: "payload must be a JSON object" },
    });
    socket.sendRaw("not json");
    expect(await socket.closed).toEqual({ code: 1007, reason: "frame is not valid JSON" });
  });

  it("joins a topic whose phx_join carries a ref but no join_ref under that ref, as the room does", async () => {
    const user = await makeUser("mx_no_join_ref");
    const socket = await multiplexed(user);
    socket.sendRaw(JSON.stringify([null, "j", "room:mx_no_join_ref", "phx_join", {}]));
    const reply = await socket.waitFor((f) => f[1] === "j" && f[3] === "phx_reply");
    expect(reply[4]).toMatchObject({ status: "ok" });
    // Still joined after the reply: presence arrives, and a push is the room's, not "unmatched topic".
    await socket.waitFor((f) => f[2] === "room:mx_no_join_ref" && f[3] === "presence_state");
    const posted = await socket.push("room:mx_no_join_ref", "new_post", { message: "after a ref-only join" });
    expect(posted.status).toBe("ok");
    await socket.waitFor(
      (f) => f[3] === "new_post" && (f[4] as { message?: string }).message === "after a ref-only join",
    );
  });

  it(`joins at most ${MAX_CHANNELS} topics, like Phoenix; the next gets "too many channels joined"`, async () => {
    const user = await makeUser("mx_many");
    // Rooms opened earlier by someone else: joining a hundred new names would be over the creation allowance.
    await seedRooms(
      await makeUser("mx_many_owner"),
      Array.from({ length: MAX_CHANNELS + 1 }, (_, n) => `mx_many_${n}`),
    );
    const socket = await multiplexed(user);
    // A hundred rooms wake at once: on a busy machine that takes longer than one join's usual wait.
    const refs = Array.from({ length: MAX_CHANNELS }, (_, n) => `j${n}`);
    for (const [n, ref] of refs.entries()) socket.send([ref, ref, `room:mx_many_${n}`, "phx_join", {}]);
    const replies = await Promise.all(
      refs.map((ref) => socket.waitFor((f) => f[1] === ref && f[3] === "phx_reply", 25_000)),
    );
    expect(replies.filter((f) => f[4].status === "ok")).toHaveLength(MAX_CHANNELS);

    const next = await socket.join(`mx_many_${MAX_CHANNELS}`);
    expect(next.status).toBe("error");
    expect(next.response).toEqual({ reason: "too many channels joined" });
    expect(next.frame[0]).toBe(next.joinRef);

    // Leaving one makes room for another.
    const first = socket.frames.find((f) => f[2] === "room:mx_many_0" && f[3] === "phx_reply");
    await socket.push("room:mx_many_0", "phx_leave", {}, first?.[0] ?? null);
    await socket.waitFor((f) => f[2] === "room:mx_many_0" && f[3] === "phx_close");
    await waitFor(async () => (await socket.join("mx_many_extra")).status === "ok");
  }, 60_000);

  it("counts once against the user's socket cap, however many rooms it joins", async () => {
    const user = await makeUser("mx_cap");
    const session = await multiplexed(user);
    for (const room of ["mx_cap_a", "mx_cap_b", "mx_cap_c"]) expect((await session.join(room)).status).toBe("ok");
    for (let n = 0; n < 9; n++) open.push(await connect(user, `mx_cap_${n % 3}`));
    const refused = await upgrade({ token: await tokenFor(user) });
    expect(refused.status).toBe(429);

    session.close();
    await session.closed;
    await waitFor(async () => {
      const retry = await upgrade({ token: await tokenFor(user) });
      if (retry.status === 101 && retry.webSocket) open.push(new TestSocket(retry.webSocket));
      return retry.status === 101;
    });
  });

  it("leaves every room when the client goes: the rooms' presence shows it gone", async () => {
    const user = await makeUser("mx_goes");
    const watcher = await makeUser("mx_watches");
    const socket = await multiplexed(user);
    expect((await socket.join("mx_goes_room")).status).toBe("ok");
    const watching = await connectAndJoin(watcher, "mx_goes_room");
    open.push(watching.socket);
    await watching.socket.waitFor(
      (f) =>
        (f[3] === "presence_state" && Object.keys(f[4]).includes(String(user.id))) ||
        (f[3] === "presence_diff" && Object.keys((f[4] as { joins: object }).joins).includes(String(user.id))),
    );

    socket.close();
    const leave = await watching.socket.waitFor(
      (f) => f[3] === "presence_diff" && Object.keys((f[4] as { leaves: object }).leaves).includes(String(user.id)),
    );
    expect(leave[2]).toBe("room:mx_goes_room");
  });

  it("closes with 4001 at logout, in every room at once", async () => {
    const user = await makeUser("mx_logout");
    const socket = await multiplexed(user);
    expect((await socket.join("mx_logout_a")).status).toBe("ok");
    expect((await socket.join("mx_logout_b")).status).toBe("ok");

    await revokeEverySession(env, db, user);
    expect(await socket.closed).toEqual({ code: SESSION_ENDED_CLOSE_CODE, reason: "token revoked" });
  });

  it("closes with 4001 when a room lets the socket go at its token's expiry", async () => {
    const user = await makeUser("mx_expires");
    // Issued so that it expires about two seconds from now.
    const issuedAt = new Date(Date.now() - TOKEN_MAX_AGE_SECONDS * 1000 + 2000);
    const response = await upgrade({ token: await tokenFor(user, { now: issuedAt }) });
    expect(response.status).toBe(101);
    const socket = new TestSocket(response.webSocket as WebSocket);
    open.push(socket);
    const joined = await socket.join("mx_expiring");
    expect(joined.status).toBe("ok");
    // Nothing more is sent: the room closes its upstream at expiry, and the session ends the socket.
    expect(await socket.closed).toEqual({ code: SESSION_ENDED_CLOSE_CODE, reason: "token expired" });
  });
});

async function waitFor(probe: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`not true within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("a socket without a room whose token expires", () => {
  it("closes with 4001 token expired, joined to no room at all, as a room-bound socket does", async () => {
    const user = await makeUser("mx_expires_idle");
    // Issued so that it expires about two seconds from now.
    const issuedAt = new Date(Date.now() - TOKEN_MAX_AGE_SECONDS * 1000 + 2000);
    const response = await upgrade({ token: await tokenFor(user, { now: issuedAt }) });
    expect(response.status).toBe(101);
    const socket = new TestSocket(response.webSocket as WebSocket);
    open.push(socket);
    await socket.barrier(); // answered: the session is live, with no room joined
    expect(await socket.closed).toEqual({ code: SESSION_ENDED_CLOSE_CODE, reason: "token expired" });
  });
});

describe("when a room connection fails", () => {
  it("tells the client phx_error for that topic only, so phoenix.js rejoins it; the others stay joined", async () => {
    const { runInDurableObject } = await import("cloudflare:test");
    const user = await makeUser("mx_crash");
    const socket = await multiplexed(user);
    const doomed = await socket.join("mx_crash_a");
    const fine = await socket.join("mx_crash_b");
    expect([doomed.status, fine.status]).toEqual(["ok", "ok"]);

    const room = roomStub("mx_crash_a");
    await runInDurableObject(room, (_instance, state) => {
      state.abort("test: the room's process is gone");
    }).catch(() => undefined);

    const error = await socket.waitFor((f) => f[3] === "phx_error");
    expect(error).toEqual([
      doomed.joinRef,
      doomed.joinRef,
      "room:mx_crash_a",
      "phx_error",
      { reason: "room connection lost" },
    ]);
    expect((await socket.push("room:mx_crash_b", "new_post", { message: "b lives" }, fine.joinRef)).status).toBe("ok");
    // The rejoin phoenix.js sends next gets a fresh connection to the (restarted) room.
    expect((await socket.join("mx_crash_a")).status).toBe("ok");
  });

  it("answers a join whose room cannot be reached error join crashed, as Phoenix, and a rejoin later works", async () => {
    const user = await makeUser("mx_join_crash");
    const socket = await multiplexed(user);
    // A well-formed private id with a tag this server never made is looked up in D1 before any room is
    // asked (rooms made before ids were minted); with that table gone, reaching the room fails.
    const room = `~${"A".repeat(34)}`;
    await env.DB.exec("ALTER TABLE rooms RENAME TO rooms_elsewhere");
    try {
      socket.send(["7", "7", `room:${room}`, "phx_join", {}]);
      const reply = await socket.waitFor((f) => f[1] === "7");
      expect(reply).toEqual([
        "7",
        "7",
        `room:${room}`,
        "phx_reply",
        { status: "error", response: { reason: "join crashed" } },
      ]);
      await socket.barrier();
      expect(socket.frames.filter((f) => f[3] === "phx_error")).toEqual([]);
    } finally {
      await env.DB.exec("ALTER TABLE rooms_elsewhere RENAME TO rooms");
    }
    // The topic was let go: phoenix.js's rejoin after its backoff is a fresh join, answered by the room.
    socket.send(["8", "8", `room:${room}`, "phx_join", {}]);
    expect((await socket.waitFor((f) => f[1] === "8"))[4]).toEqual({
      status: "error",
      response: { reason: "no such room" },
    });
  });

  it("ends the whole session with 4001 when a room refuses it as revoked", async () => {
    const user = await makeUser("mx_refused");
    const socket = await multiplexed(user);
    expect((await socket.join("mx_refused_ok")).status).toBe("ok");
    // The room heard of a revocation this session's token predates (logout, told to that room first).
    await roomStub("mx_refused_room").endUserSockets(user.id, user.tokenGeneration + 1);
    socket.send(["9", "9", "room:mx_refused_room", "phx_join", {}]);
    expect(await socket.closed).toEqual({ code: SESSION_ENDED_CLOSE_CODE, reason: "token revoked" });
  });

  it("relays binary pushes to the room as they are", async () => {
    const user = await makeUser("mx_binary");
    const socket = await multiplexed(user);
    const joined = await socket.join("mx_binary_room");
    const text = new TextEncoder();
    const fields = [joined.joinRef, "b1", "room:mx_binary_room", "new_post"].map((field) => text.encode(field));
    const data = text.encode("bytes");
    const frame = new Uint8Array(5 + fields.reduce((n, f) => n + f.length, 0) + data.length);
    frame.set([0, ...fields.map((f) => f.length)]);
    let offset = 5;
    for (const field of [...fields, data]) {
      frame.set(field, offset);
      offset += field.length;
    }
    socket.sendRaw(frame.buffer);
    const reply = await socket.waitFor((f) => f[1] === "b1");
    expect(reply[4]).toMatchObject({ status: "error", response: { reason: "invalid" } });
  });
});

describe("a session evicted from memory", () => {
  async function newSession(user: User) {
    const { listDurableObjectIds } = await import("cloudflare:test");
    const before = new Set((await listDurableObjectIds(env.SESSIONS)).map((id) => id.toString()));
    const socket = await multiplexed(user);
    const ids = await listDurableObjectIds(env.SESSIONS);
    const id = ids.find((candidate) => !before.has(candidate.toString()));
    if (!id) throw new Error("the socket made no new SocketSession");
    return { socket, stub: env.SESSIONS.get(id) };
  }

  // (One that holds rooms is not evicted: its own WebSockets pin it in memory, and evictDurableObject waits.)
  it("carries on from its socket's attachment while it holds no room", async () => {
    const { evictDurableObject } = await import("cloudflare:test");
    const user = await makeUser("mx_nap");
    const { socket, stub } = await newSession(user);
    await evictDurableObject(stub);
    expect((await socket.push("phoenix", "heartbeat")).status).toBe("ok");
    expect((await socket.join("mx_nap_room")).status).toBe("ok");
  });
});
