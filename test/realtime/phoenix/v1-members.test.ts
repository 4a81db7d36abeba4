/**
 * V1 members (phoenix/v1.ts) on every way in, beside V2 members in the same rooms: a room-bound socket, a
 * multiplexed socket and LongPoll, over the real worker, Rooms, SocketSessions and D1. Each serves a V1
 * client as it serves phoenix.js: the join's history and catch-up, presence both ways, posts both ways,
 * idempotent retries, the mention filter, limits and revocation; every frame it is sent is a V1 object, and
 * each reply carries the client's ref as it came (these clients send numbers, as some V1 clients do).
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { revokeEverySession } from "../../../src/auth/end-sessions";
import { LongPollClient } from "../../helpers/longpoll";
import {
  closeAll,
  connect,
  connectAndJoin,
  connectMultiplexed,
  type Frame,
  type TestSocket,
} from "../../helpers/socket";
import { db, makeUser, tokenFor } from "../../helpers/users";

const open: TestSocket[] = [];
afterEach(() => closeAll(open));

const V1 = { vsn: null }; // no vsn at all: V1, as Phoenix reads it

type Reply = { status: string; response: Record<string, unknown> };

/** Sends `[join_ref, ref, topic, event, payload]` with a numeric ref, as a V1 client may; resolves with the reply. */
async function pushNumbered(socket: TestSocket, ref: number, topic: string, event: string, payload = {}) {
  socket.send([null, ref, topic, event, payload]);
  const frame = await socket.waitFor((f) => f[1] === ref && f[3] === "phx_reply");
  return frame[4] as Reply;
}

/** Every frame of `event` on `topic` that `socket` received (V1 has no join_ref: broadcast and push alike). */
function seen(socket: TestSocket, topic: string, event: string): Frame[] {
  return socket.frames.filter((f) => f[2] === topic && f[3] === event);
}

/** The presence keys `socket` last knows of from its state and diffs (enough for who is here). */
function presentUserIds(socket: TestSocket, topic: string): string[] {
  const here = new Set<string>();
  for (const [, , frameTopic, event, payload] of socket.frames) {
    if (frameTopic !== topic) continue;
    if (event === "presence_state") for (const key of Object.keys(payload)) here.add(key);
    if (event === "presence_diff") {
      for (const key of Object.keys((payload.joins ?? {}) as object)) here.add(key);
      for (const key of Object.keys((payload.leaves ?? {}) as object)) here.delete(key);
    }
  }
  return [...here].sort();
}

describe("a V1 member on a room-bound socket", () => {
  it("joins with a ref alone and catches up, sees and is seen in presence, posts both ways, retries safely, leaves", async () => {
    const room = "v1_room";
    const topic = `room:${room}`;
    const ann = await makeUser("v1_ann");
    const bob = await makeUser("v1_bob");
    const v2 = await connectAndJoin(bob, room);
    open.push(v2.socket);
    const before = await v2.socket.push(topic, "new_post", { message: "before ann came" });

    const socket = await connect(ann, room, V1);
    open.push(socket);
    const joined = await pushNumbered(socket, 1, topic, "phx_join", { last_seen_id: 0 });
    expect(joined).toEqual({
      status: "ok",
      response: {
        posts: [before.response],
        has_more: false,
        changes: [],
        seq: before.response.id,
        last_read_id: before.response.id,
      },
    });
    // Every frame is Phoenix's V1 object, the reply carrying the ref as it came: the number 1.
    expect(socket.texts[0]).toMatch(/^\{"topic":"room:v1_room","event":"phx_reply","payload":\{.*\},"ref":1\}$/);
    await socket.waitFor((f) => f[3] === "presence_state");
    expect(presentUserIds(socket, topic)).toEqual([String(ann.id), String(bob.id)].sort());
    await v2.socket.waitFor((f) => f[3] === "presence_diff" && String(ann.id) in (f[4].joins as object));

    // A post each way: the V1 member's reaches the V2 member as a V2 broadcast, and the other way round.
    const mine = await pushNumbered(socket, 2, topic, "new_post", { message: "hi from V1", client_id: "v1-a" });
    expect(mine).toMatchObject({ status: "ok", response: { message: "hi from V1", user: { id: ann.id } } });
    await v2.socket.waitFor((f) => f[0] === null && f[1] === null && f[4].message === "hi from V1");
    const theirs = await v2.socket.push(topic, "new_post", { message: "hi from V2" });
    await socket.waitFor((f) => f[3] === "new_post" && f[4].id === theirs.response.id);
    const broadcast = socket.texts.find((text) => text.includes("hi from V2"));
    expect(JSON.parse(broadcast ?? "null")).toEqual({ topic, event: "new_post", payload: theirs.response, ref: null });

    // A retry with the same client_id is answered with the original, stored and broadcast once.
    const retried = await pushNumbered(socket, 3, topic, "new_post", { message: "hi from V1", client_id: "v1-a" });
    expect(retried).toEqual(mine);
    await v2.socket.barrier();
    expect(v2.socket.broadcasts("new_post").filter((f) => f[4].message === "hi from V1")).toHaveLength(1);

    // A leave without a join_ref: ok, then phx_close carrying the join's ref, and presence sees it go.
    expect(await pushNumbered(socket, 4, topic, "phx_leave")).toEqual({ status: "ok", response: {} });
    expect(await socket.waitFor((f) => f[3] === "phx_close")).toEqual([null, 1, topic, "phx_close", {}]);
    await v2.socket.waitFor((f) => f[3] === "presence_diff" && String(ann.id) in (f[4].leaves as object));
  });

  it("joined with mentions_only, gets just the posts that mention it, as the V1 frame everyone gets", async () => {
    const room = "v1_mentions";
    const topic = `room:${room}`;
    const filtered = await makeUser("v1_cara");
    const poster = await connectAndJoin(await makeUser("v1_dan"), room);
    const socket = await connect(filtered, room, V1);
    open.push(poster.socket, socket);
    expect((await pushNumbered(socket, 1, topic, "phx_join", { mentions_only: true })).status).toBe("ok");
    await poster.socket.push(topic, "new_post", { message: "nobody here" });
    const mention = await poster.socket.push(topic, "new_post", { message: "@v1_cara look" });
    expect((await pushNumbered(socket, 2, "phoenix", "heartbeat")).status).toBe("ok"); // all sent before arrived
    expect(seen(socket, topic, "new_post").map((f) => f[4].id)).toEqual([mention.response.id]);
    expect(socket.texts).toContain(JSON.stringify({ topic, event: "new_post", payload: mention.response, ref: null }));
  });

  it("reads a binary frame as V1 JSON, and answers limits and bad input in V1", async () => {
    const room = "v1_limits";
    const topic = `room:${room}`;
    const socket = await connect(await makeUser("v1_eve"), room, V1);
    open.push(socket);
    expect((await pushNumbered(socket, 1, topic, "phx_join")).status).toBe("ok");
    const bytes = new TextEncoder().encode(
      JSON.stringify({ topic, event: "new_post", payload: { message: "in bytes" }, ref: "b" }),
    );
    socket.sendRaw(bytes.slice().buffer);
    expect((await socket.waitFor((f) => f[1] === "b"))[4]).toMatchObject({ status: "ok" });

    expect(await pushNumbered(socket, 2, topic, "new_post", { message: "" })).toEqual({
      status: "error",
      response: { reason: "invalid", errors: { message: "can't be blank" } },
    });
    // The room's bucket (POSTS_BURST, 10, with the binary post above): the tenth post goes, the eleventh not.
    const replies: Reply[] = [];
    for (let ref = 10; ref < 20; ref++)
      replies.push(await pushNumbered(socket, ref, topic, "new_post", { message: `n${ref}` }));
    expect(replies.slice(0, 9).every((reply) => reply.status === "ok")).toBe(true);
    expect(replies[9]).toMatchObject({ status: "error", response: { reason: "rate_limited" } });
    expect(replies[9]?.response.retry_after_ms).toBeGreaterThan(0);
  });

  it("is closed with 4001 when its user logs out, as a V2 socket is", async () => {
    const user = await makeUser("v1_fay");
    const { socket } = await connectAndJoin(user, "v1_revoked", {}, V1);
    open.push(socket);
    await revokeEverySession(env, db, user);
    expect(await socket.closed).toEqual({ code: 4001, reason: "token revoked" });
  });
});

describe("a V1 client on a multiplexed socket", () => {
  it("joins two rooms through its session, each room speaking V1 to it; the session's own answers are V1 too", async () => {
    const gus = await makeUser("v1_gus");
    const hal = await makeUser("v1_hal");
    const socket = await connectMultiplexed(gus, V1);
    open.push(socket);
    const v2 = await connectAndJoin(hal, "v1_mux_a");
    open.push(v2.socket);
    const early = await v2.socket.push("room:v1_mux_a", "new_post", { message: "while gus was away" });

    expect(await pushNumbered(socket, 1, "phoenix", "heartbeat")).toEqual({ status: "ok", response: {} });
    expect(socket.texts[0]).toBe(
      '{"topic":"phoenix","event":"phx_reply","payload":{"status":"ok","response":{}},"ref":1}',
    );
    const a = await pushNumbered(socket, 2, "room:v1_mux_a", "phx_join", {
      last_seen_id: (early.response.id as number) - 1,
    });
    expect(a).toEqual({
      status: "ok",
      response: {
        posts: [early.response],
        has_more: false,
        changes: [],
        seq: early.response.id,
        last_read_id: early.response.id,
      },
    });
    expect((await pushNumbered(socket, 3, "room:v1_mux_b", "phx_join")).status).toBe("ok");
    await socket.waitFor((f) => f[2] === "room:v1_mux_a" && f[3] === "presence_state");
    await v2.socket.waitFor((f) => f[3] === "presence_diff" && String(gus.id) in (f[4].joins as object));

    const posted = await pushNumbered(socket, 4, "room:v1_mux_a", "new_post", { message: "relayed V1" });
    expect(posted).toMatchObject({ status: "ok", response: { message: "relayed V1" } });
    await v2.socket.waitFor((f) => f[4].message === "relayed V1");
    const answer = await v2.socket.push("room:v1_mux_a", "new_post", { message: "to the session" });
    await socket.waitFor((f) => f[2] === "room:v1_mux_a" && f[4].id === answer.response.id);
    expect(seen(socket, "room:v1_mux_b", "new_post")).toEqual([]);

    // What the session answers itself, in V1: a topic it cannot join, a frame with a wrong field.
    expect(await pushNumbered(socket, 5, "lobby", "new_post")).toEqual({
      status: "error",
      response: { reason: "unmatched topic" },
    });
    socket.sendRaw(JSON.stringify({ topic: "room:v1_mux_a", event: 7, payload: {}, ref: 6 }));
    expect((await socket.waitFor((f) => f[1] === 6))[4]).toEqual({
      status: "error",
      response: { reason: "malformed frame", detail: "event must be a non-empty string" },
    });
    expect(socket.garbage).toEqual([]);
  });
});

describe("a V1 client over LongPoll", () => {
  it("opens a session without a vsn, POSTs one V1 frame at a time, and polls V1 frames", async () => {
    const ivy = await makeUser("v1_ivy");
    const v2 = await connectAndJoin(await makeUser("v1_jon"), "v1_poll");
    open.push(v2.socket);
    const early = await v2.socket.push("room:v1_poll", "new_post", { message: "before the poll" });

    const client = new LongPollClient({ token: await tokenFor(ivy), vsn: null });
    expect((await client.poll()).status).toBe(410);
    const joined = await client.join("v1_poll", { last_seen_id: 0 });
    expect(joined).toMatchObject({ status: "ok", response: { posts: [early.response], has_more: false } });
    await client.waitFor((f) => f[3] === "presence_state");
    await v2.socket.waitFor((f) => f[3] === "presence_diff" && String(ivy.id) in (f[4].joins as object));

    const posted = await client.push("room:v1_poll", "new_post", { message: "polled V1" });
    expect(posted).toMatchObject({ status: "ok", response: { message: "polled V1" } });
    await v2.socket.waitFor((f) => f[4].message === "polled V1");
    const answer = await v2.socket.push("room:v1_poll", "new_post", { message: "to the poller" });
    await client.waitFor((f) => f[3] === "new_post" && f[4].id === answer.response.id);

    // Several V1 frames in one POST, as ndjson lines: pyre reads `{` lines as text (Phoenix would not).
    const lines = [
      JSON.stringify({ topic: "phoenix", event: "heartbeat", payload: {}, ref: 90 }),
      JSON.stringify({ topic: "room:v1_poll", event: "typing", payload: {}, ref: 91 }),
    ];
    expect((await client.request("POST", lines.join("\n"))).body).toEqual({ status: 200 });
    await client.waitFor((f) => f[1] === 91);
    expect(client.frames.find((f) => f[1] === 90)?.[4]).toEqual({ status: "ok", response: {} });
  });
});
