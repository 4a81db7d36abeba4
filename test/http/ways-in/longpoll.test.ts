/**
 * `/socket/longpoll`, Phoenix 1.8's LongPoll transport, over real HTTP to the real worker, SocketSession
 * and rooms. The pool runs with a short window and idle time (vitest.config.ts) so waiting is quick.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { revokeEverySession } from "../../../src/auth/end-sessions";
import type { User } from "../../../src/db/users";
import { verifySessionToken } from "../../../src/http/ways-in/longpoll-token";
import { sessionStub } from "../../../src/realtime/session/client";
import { userSockets } from "../../../src/realtime/user-sockets/client";
import { LongPollClient } from "../../helpers/longpoll";
import {
  closeAll,
  connect,
  connectAndJoin,
  type Frame,
  TEST_HOST,
  type TestSocket,
  upgrade,
} from "../../helpers/socket";
import { db, makeUser, seedPosts, testSecrets, tokenFor } from "../../helpers/users";

const open: TestSocket[] = [];
afterEach(() => closeAll(open));

/** A client with an open session. */
async function session(user: User, options: { viaHeader?: boolean; sessionViaHeader?: boolean } = {}) {
  const client = new LongPollClient({ token: await tokenFor(user), ...options });
  const opened = await client.poll();
  expect(opened).toEqual({ status: 410, token: expect.any(String), messages: [] });
  return client;
}

/** The SocketSession behind a client's session token. */
async function sessionOf(client: LongPollClient) {
  const claims = await verifySessionToken(client.session ?? "", testSecrets());
  if (!claims.ok) throw new Error(`not a session token: ${claims.reason}`);
  return sessionStub(env, claims.sessionId);
}

/** Polls until a poll brings nothing (it waited the whole window); answers when that last poll was answered. */
async function pollUntilQuiet(client: LongPollClient): Promise<number> {
  for (let polls = 0; polls < 20; polls++) {
    const answer = await client.poll();
    if (answer.status === 204) return Date.now();
    expect(answer.status).toBe(200);
  }
  throw new Error("the session never went quiet");
}

/**
 * Makes the user's slots older than UserSockets' 10 s settling time, as a tab open for a while has: only
 * then does a socket at the cap ask their holders which are still live.
 */
function settleSlots(user: User): Promise<void> {
  return runInDurableObject(userSockets(env, user.id), (_object, state) => {
    state.storage.sql.exec("UPDATE slots SET opened_at = opened_at - 60000 WHERE user_id = ?", user.id);
  });
}

describe("opening and polling a session", () => {
  it("opens with 410 and a token, then answers 204 after the window, always with the token, never cached", async () => {
    const user = await makeUser("lp_open");
    const client = new LongPollClient({ token: await tokenFor(user) });
    const opened = await client.request("GET");
    expect(opened.httpStatus).toBe(200);
    expect(opened.headers.get("Content-Type")).toMatch(/^application\/json/);
    expect(opened.headers.get("Cache-Control")).toBe("no-store");
    expect(opened.body).toEqual({ status: 410, token: expect.any(String), messages: [] });
    client.session = opened.body.token;

    const started = Date.now();
    const idle = await client.request("GET");
    expect(Date.now() - started).toBeGreaterThanOrEqual(400); // LONGPOLL_WINDOW_MS is 500 in the pool
    expect(idle.body).toEqual({ status: 204, token: client.session, messages: [] });
    expect(idle.headers.get("Cache-Control")).toBe("no-store");
  });

  it("takes the socket token as X-Phoenix-AuthToken and the session token as X-Phoenix-Longpoll-Token", async () => {
    const user = await makeUser("lp_headers");
    const client = await session(user, { viaHeader: true, sessionViaHeader: true });
    expect((await client.join("lp_headers_room")).status).toBe("ok");
  });

  it("answers 403 to bad auth and foreign origins, and opens nothing", async () => {
    const user = await makeUser("lp_refused");
    const good = await tokenFor(user);
    const cases: Array<[string, LongPollClient, string]> = [
      ["no token", new LongPollClient(), "Missing token"],
      ["garbage token", new LongPollClient({ token: "garbage" }), "Token invalid"],
      ["garbage header", new LongPollClient({ token: "garbage", viaHeader: true }), "Token invalid"],
      ["foreign Origin", new LongPollClient({ token: good, origin: "https://evil.example" }), "may not poll"],
      [
        "a vsn no serializer matches",
        new LongPollClient({ token: good, vsn: "3.0.0" }),
        "Unsupported vsn 3.0.0: pyre speaks",
      ],
    ];
    for (const [name, client, error] of cases) {
      const answer = await client.request("GET");
      expect(answer.httpStatus, name).toBe(200);
      expect(answer.body, name).toEqual({ status: 403, error: expect.stringContaining(error) });
    }
    const revoked = await makeUser("lp_refused_revoked");
    const oldToken = await tokenFor(revoked);
    await revokeEverySession(env, db, revoked);
    expect((await new LongPollClient({ token: oldToken }).request("GET")).body.status).toBe(403);
  });

  it("answers 410 to an unknown or forged session, and 403 to a session of another user", async () => {
    const owner = await makeUser("lp_owner");
    const thief = await makeUser("lp_thief");
    const client = await session(owner);

    const stolen = new LongPollClient({ token: await tokenFor(thief) });
    stolen.session = client.session;
    expect((await stolen.request("GET")).body).toEqual({ status: 403, error: "This session belongs to another user." });
    expect((await stolen.request("POST", "")).body.status).toBe(403);

    const forged = new LongPollClient({ token: await tokenFor(owner) });
    forged.session = `${client.session?.slice(0, -4)}AAAA`;
    expect((await forged.request("GET")).body.status).toBe(410);
    expect((await new LongPollClient().request("POST", "")).body.status).toBe(410);
  });
});

describe("talking through a session", () => {
  it("joins, pushes with replies, and carries broadcasts both ways with a room-bound member", async () => {
    const polling = await makeUser("lp_talker");
    const bound = await makeUser("lp_bound");
    const client = await session(polling);
    const joined = await client.join("lp_talk");
    expect(joined.status).toBe("ok");
    expect(joined.response).toEqual({ posts: [], has_more: false, seq: 0, changes: [], last_read_id: 0 });
    await client.waitFor((f) => f[3] === "presence_state" && f[0] === joined.joinRef);
    expect((await client.push("phoenix", "heartbeat")).status).toBe("ok");

    const member = await connectAndJoin(bound, "lp_talk");
    open.push(member.socket);
    const mine = await client.push("room:lp_talk", "new_post", { message: "from long poll" }, joined.joinRef);
    expect(mine.status).toBe("ok");
    expect(mine.response).toMatchObject({ message: "from long poll", user: { username: "lp_talker" } });
    await member.socket.waitFor((f) => f[3] === "new_post" && f[4].message === "from long poll");

    const theirs = await member.socket.push("room:lp_talk", "new_post", { message: "from a websocket" });
    expect(theirs.status).toBe("ok");
    const arrived = await client.waitFor((f) => f[3] === "new_post" && f[4].message === "from a websocket");
    expect(arrived.slice(0, 3)).toEqual([null, null, "room:lp_talk"]);

    // Presence publishes joins and leaves every 50 ms, and a join never published leaves unheard: wait
    // until the member has seen the long-poll member arrive, then see it go.
    const present = (f: Frame) =>
      (f[3] === "presence_state" && Object.keys(f[4]).includes(String(polling.id))) ||
      (f[3] === "presence_diff" && Object.keys((f[4] as { joins: object }).joins).includes(String(polling.id)));
    await member.socket.waitFor(present);
    const left = await client.push("room:lp_talk", "phx_leave", {}, joined.joinRef);
    expect(left.status).toBe("ok");
    await client.waitFor((f) => f[3] === "phx_close" && f[0] === joined.joinRef);
    await member.socket.waitFor(
      (f) => f[3] === "presence_diff" && Object.keys((f[4] as { leaves: object }).leaves).includes(String(polling.id)),
    );
  });

  it("hands over frames in order, as soon as there are any, to a poll that was waiting", async () => {
    const user = await makeUser("lp_waiting");
    const client = await session(user);
    const joined = await client.join("lp_waiting_room");
    await client.waitFor((f) => f[3] === "presence_diff");
    const waiting = client.request("GET");
    const sent = await client.send(
      ["a", "b", "c"].map((message, n) => [joined.joinRef, `p${n}`, "room:lp_waiting_room", "new_post", { message }]),
    );
    expect(sent).toEqual({ status: 200 });
    const first = await waiting;
    expect(first.body.status).toBe(200);
    for (const message of first.body.messages ?? []) client.frames.push(JSON.parse(message));
    await client.waitFor((f) => f[1] === "p2");
    const replies = client.frames.filter((f) => f[3] === "phx_reply" && String(f[1]).startsWith("p"));
    expect(replies.map((f) => f[1])).toEqual(["p0", "p1", "p2"]);
    const posts = client.frames.filter((f) => f[3] === "new_post").map((f) => f[4].message);
    expect(posts).toEqual(["a", "b", "c"]);
  });

  it("refuses a POST of more than 100 frames, or a line that is neither JSON nor base64, and goes on", async () => {
    const user = await makeUser("lp_batch");
    const client = await session(user);
    const heartbeat = JSON.stringify([null, "hb", "phoenix", "heartbeat", {}]);
    const tooMany = await client.request("POST", Array(101).fill(heartbeat).join("\n"));
    expect(tooMany.httpStatus).toBe(400);
    expect(tooMany.body).toEqual({ status: 400, error: "Too many frames: at most 100 per POST, this one has 101." });
    const notBase64 = await client.request("POST", "%%%");
    expect(notBase64.body).toEqual({ status: 400, error: expect.stringContaining("neither a JSON frame nor base64") });

    expect(await client.send(Array(100).fill(heartbeat))).toEqual({ status: 200 });
    await client.waitFor(() => client.frames.filter((f) => f[1] === "hb").length === 100);
  });

  it("refuses a chunked body past the cap (no Content-Length) with 413, counted as it streams, and goes on", async () => {
    const user = await makeUser("lp_chunked");
    const client = await session(user);
    // 160 pulls of 64 KiB (10 MiB), past the 8.7 MB cap; a body of unknown length is counted as it arrives.
    let pulls = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulls === 160) controller.close();
        else {
          pulls += 1;
          controller.enqueue(new Uint8Array(64 * 1024).fill(0x61));
        }
      },
    });
    const answer = await client.request("POST", body);
    expect(answer.httpStatus).toBe(413);
    expect(answer.body).toEqual({ status: 413, error: expect.stringMatching(/^Body too large: at most \d+ bytes/) });
    expect((await client.push("phoenix", "heartbeat")).status).toBe("ok");
  });

  it("relays a base64 line as a binary push, as phoenix.js sends an ArrayBuffer payload", async () => {
    const user = await makeUser("lp_binary");
    const client = await session(user);
    const joined = await client.join("lp_binary_room");
    const text = new TextEncoder();
    const fields = [joined.joinRef, "b1", "room:lp_binary_room", "new_post"].map((field) => text.encode(field));
    const bytes = [0, ...fields.map((f) => f.length), ...fields.flatMap((f) => [...f]), ...text.encode("bytes")];
    expect(await client.send([btoa(String.fromCharCode(...bytes))])).toEqual({ status: 200 });
    const reply = await client.waitFor((f) => f[1] === "b1");
    expect(reply[4]).toMatchObject({ status: "error", response: { reason: "invalid" } });
  });

  it("ends the session on a frame it cannot decode, as a WebSocket closes: 400, then 410", async () => {
    const user = await makeUser("lp_garbage");
    const client = await session(user);
    const broken = await client.request("POST", "[not json");
    expect(broken.httpStatus).toBe(400);
    expect(broken.body).toEqual({ status: 400, error: "frame is not valid JSON; the session has ended" });
    expect((await client.request("GET")).body.status).toBe(410);
  });

  it("answers OPTIONS preflights for allowed origins only", async () => {
    const preflight = (origin: string) =>
      exports.default.fetch(new URL("/socket/longpoll", TEST_HOST), {
        method: "OPTIONS",
        headers: { Origin: origin, "Access-Control-Request-Headers": "x-phoenix-authtoken" },
      });
    const allowed = await preflight("capacitor://localhost");
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get("Access-Control-Allow-Origin")).toBe("capacitor://localhost");
    expect(allowed.headers.get("Access-Control-Allow-Headers")).toContain("X-Phoenix-AuthToken");
    expect((await preflight("https://evil.example")).status).toBe(403);
  });
});

describe("the end of a session", () => {
  it("ends a session nobody polls the idle time after its last poll began: 410, it leaves its rooms, its slot is free", async () => {
    const user = await makeUser("lp_idle");
    const watcher = await makeUser("lp_idle_watcher");
    const client = await session(user);
    expect((await client.join("lp_idle_room")).status).toBe("ok");
    const watching = await connectAndJoin(watcher, "lp_idle_room");
    open.push(watching.socket);
    for (let n = 0; n < 9; n++) open.push(await connect(user, "lp_idle_other"));
    expect((await upgrade({ room: "lp_idle_other", token: await tokenFor(user) })).status).toBe(429);

    // The client polls until nothing is left, then never again. Its last poll waited the whole window (500
    // ms in the pool), so it began at least that long before it was answered.
    const answered = await pollUntilQuiet(client);
    // The idle check, run now, before it is due, schedules itself for when it is: LONGPOLL_IDLE_MS (3000 in
    // the pool) after that last poll began, as Phoenix counts, not after it ended.
    const stub = await sessionOf(client);
    await runDurableObjectAlarm(stub);
    const due = await runInDurableObject(stub, (_object, state) => state.storage.getAlarm());
    expect(due).toBeLessThanOrEqual(answered - 500 + 3_000);
    await watching.socket.waitFor(
      (f) => f[3] === "presence_diff" && Object.keys((f[4] as { leaves: object }).leaves).includes(String(user.id)),
      10_000,
    );
    expect((await client.request("GET")).body.status).toBe(410);
    expect((await client.request("POST", "")).body.status).toBe(410);
    const freed = await upgrade({ room: "lp_idle_other", token: await tokenFor(user) });
    expect(freed.status).toBe(101);
    freed.webSocket?.accept();
    freed.webSocket?.close(1000, "done");
  }, 15_000);

  it("gives the place of a client gone mid-poll (a reloaded tab) to the user's next socket at the cap, at once", async () => {
    const user = await makeUser("lp_reload");
    const watcher = await makeUser("lp_reload_watcher");
    const before = await session(user);
    expect((await before.join("lp_reload_room")).status).toBe("ok");
    const watching = await connectAndJoin(watcher, "lp_reload_room");
    open.push(watching.socket);
    for (let n = 0; n < 9; n++) open.push(await connect(user, "lp_reload_other"));
    await settleSlots(user);
    await pollUntilQuiet(before);
    // The tab reloads while its poll waits: nothing tells the session that poll's client is gone.
    const abandoned = before.request("GET");

    const started = Date.now();
    const after = new LongPollClient({ token: await tokenFor(user) });
    expect(await after.poll()).toEqual({ status: 410, token: expect.any(String), messages: [] });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect([200, 204]).toContain((await abandoned).body.status); // answered, and nobody polled again
    expect((await before.request("GET")).body.status).toBe(410);
    await watching.socket.waitFor(
      (f) => f[3] === "presence_diff" && Object.keys((f[4] as { leaves: object }).leaves).includes(String(user.id)),
    );
    expect((await after.join("lp_reload_room")).status).toBe("ok");
  });

  it("keeps the place of a client that is still polling: the next socket at the cap is refused", async () => {
    const user = await makeUser("lp_stays");
    const client = await session(user);
    for (let n = 0; n < 9; n++) open.push(await connect(user, "lp_stays_other"));
    await settleSlots(user);
    // Polls back to back, as phoenix.js does, until the test is done.
    let polling = true;
    const loop = (async () => {
      while (polling) expect([200, 204]).toContain((await client.poll()).status);
    })();
    try {
      expect((await new LongPollClient({ token: await tokenFor(user) }).request("GET")).body).toEqual({
        status: 403,
        error: expect.stringContaining("10"),
      });
      expect((await upgrade({ room: "lp_stays_other", token: await tokenFor(user) })).status).toBe(429);
      expect((await client.push("phoenix", "heartbeat")).status).toBe("ok");
    } finally {
      polling = false;
      await loop;
    }
  });

  it("ends a session whose outbox overflows (1,000 frames nobody polled): 410, and the client starts over", async () => {
    const user = await makeUser("lp_overflow");
    const client = await session(user);
    const heartbeats = (batch: number) =>
      Array.from({ length: 100 }, (_, n) => [null, `${batch}.${n}`, "phoenix", "heartbeat", {}] as const);
    for (let batch = 0; batch < 10; batch++) {
      expect(await client.send(heartbeats(batch).map((frame) => JSON.stringify(frame)))).toEqual({ status: 200 });
    }
    expect(await client.send([JSON.stringify([null, "last", "phoenix", "heartbeat", {}])])).toEqual({ status: 410 });
    expect((await client.request("GET")).body.status).toBe(410);

    const again = await session(user);
    expect((await again.push("phoenix", "heartbeat")).status).toBe("ok");
  });

  it("survives five big catch-ups asked for at once, as phoenix.js rejoins after a 410: every join ok, in turn", async () => {
    const author = await makeUser("lp_catchups_author");
    const user = await makeUser("lp_catchups");
    const rooms = ["a", "b", "c", "d", "e"].map((n) => `lp_catchup_${n}`);
    // 5 × 250 posts of 2,000 emoji: each join reply is about 2 Mi characters (UTF-16, as the outbox counts),
    // together more than twice its bound of 4 Mi.
    for (const room of rooms) await seedPosts(author, room, Array(250).fill("🔥".repeat(2_000)));
    const client = await session(user);
    const joins = rooms.map((room) => {
      const ref = client.nextRef();
      return [ref, ref, `room:${room}`, "phx_join", { last_seen_id: 0 }] as Frame;
    });
    // A push right behind the last join, in the same POST: it waits for that join, and is answered by its room.
    const lastJoinRef = joins[4]?.[0] ?? null;
    const push: Frame = [lastJoinRef, "after", "room:lp_catchup_e", "new_post", { message: "right behind" }];
    expect(await client.send([...joins, push])).toEqual({ status: 200 });
    for (const [ref, , topic] of joins) {
      const reply = await client.waitFor((f) => f[1] === ref && f[3] === "phx_reply", 10_000);
      const { status, response } = reply[4] as { status: string; response: { posts: unknown[] } };
      expect([topic, status, response.posts.length]).toEqual([topic, "ok", 250]);
    }
    const pushed = await client.waitFor((f) => f[1] === "after");
    expect(pushed[4]).toMatchObject({ status: "ok", response: { message: "right behind" } });
    // Still the same session, joined to all five.
    expect((await client.push("room:lp_catchup_a", "new_post", { message: "still here" }, joins[0]?.[0])).status).toBe(
      "ok",
    );
  }, 20_000);

  it("answers 403 at logout, to the poll that was waiting and to every poll after", async () => {
    const user = await makeUser("lp_logout");
    const client = await session(user);
    expect((await client.join("lp_logout_room")).status).toBe("ok");
    await client.waitFor((f) => f[3] === "presence_diff");
    const waiting = client.request("GET");

    await revokeEverySession(env, db, user);
    expect((await waiting).body).toEqual({ status: 403 });
    expect((await client.request("GET")).body.status).toBe(403);
    expect((await client.request("POST", "")).body.status).toBe(403);
  });
});
