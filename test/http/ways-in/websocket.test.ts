import { listDurableObjectIds, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { revokeEverySession } from "../../../src/auth/end-sessions";
import { SESSION_AUDIENCE, SOCKET_AUDIENCE, signToken } from "../../../src/auth/token";
import { bumpTokenGeneration } from "../../../src/db/users";
import { createApp } from "../../../src/http/app";
import { roomStub, TEST_HOST, TestSocket, upgrade } from "../../helpers/socket";
import { db, makeUser, testSecrets, tokenFor } from "../../helpers/users";

/**
 * How many Room objects this file's workerd has made so far, by earlier tests too: compare with a count
 * taken before.
 */
async function roomsCreated(): Promise<number> {
  return (await listDurableObjectIds(env.ROOMS)).length;
}

/** The room the refusals below aim at; no other test uses it, so the control's accepted request makes it. */
const REFUSED_ROOM = "refusals_lobby";

describe("GET /socket/websocket refusals: nothing reaches a room", () => {
  it("refuses each bad request with a precise status and touches no Durable Object", async () => {
    const user = await makeUser("refused");
    const good = await tokenFor(user);
    const expired = await tokenFor(user, { now: new Date(Date.now() - 15 * 24 * 3600 * 1000) });
    const session = await tokenFor(user, { audience: SESSION_AUDIENCE });
    const before = await roomsCreated();

    const cases: Array<[string, Promise<Response>, number, string]> = [
      [
        "no Upgrade header",
        plainGet(`/socket/websocket?room=${REFUSED_ROOM}&token=${good}`),
        426,
        "WebSocket endpoint",
      ],
      ["missing token", upgrade({ room: REFUSED_ROOM }), 403, "Missing token"],
      ["garbage token", upgrade({ room: REFUSED_ROOM, token: "garbage" }), 403, "Token invalid"],
      ["expired token", upgrade({ room: REFUSED_ROOM, token: expired }), 403, "Token expired"],
      ["session cookie as token", upgrade({ room: REFUSED_ROOM, token: session }), 403, "Token invalid"],
      [
        "bad bearer subprotocol",
        upgrade({ room: REFUSED_ROOM, headers: { "Sec-WebSocket-Protocol": "phoenix, base64url.bearer.phx.%%%" } }),
        403,
        "not valid base64",
      ],
      [
        "foreign Origin",
        upgrade({ room: REFUSED_ROOM, token: good, origin: "https://evil.example" }),
        403,
        "may not open sockets",
      ],
      [
        "Origin on another port",
        upgrade({ room: REFUSED_ROOM, token: good, origin: "http://127.0.0.1:9999" }),
        403,
        "may not open sockets",
      ],
      [
        "Origin with another scheme",
        upgrade({ room: REFUSED_ROOM, token: good, origin: "https://127.0.0.1:8787" }),
        403,
        "may not open sockets",
      ],
      // No room at all is a multiplexed socket (test/realtime/multiplex.test.ts); an empty one is a mistake.
      ["empty room", upgrade({ room: "", token: good }), 400, "Invalid room"],
      ["invalid room", upgrade({ room: "no/slashes", token: good }), 400, "Invalid room"],
      ["room name too long", upgrade({ room: "r".repeat(65), token: good }), 400, "Invalid room"],
      [
        "a vsn no serializer matches",
        upgrade({ room: REFUSED_ROOM, token: good, vsn: "3.0.0" }),
        400,
        "Unsupported vsn",
      ],
    ];
    for (const [name, pending, status, message] of cases) {
      const response = await pending;
      expect(response.status, name).toBe(status);
      expect(response.webSocket, name).toBeNull();
      expect(await response.text(), name).toContain(message);
    }
    expect(await roomsCreated()).toBe(before);

    // The control: a good request does create the room, so the count above could have moved.
    const accepted = await upgrade({ room: REFUSED_ROOM, token: good });
    expect(accepted.status).toBe(101);
    new TestSocket(accepted.webSocket as WebSocket).close();
    expect(await roomsCreated()).toBe(before + 1);
  });

  it("refuses a revoked token at the room's request for a slot, and the room stores nothing", async () => {
    const user = await makeUser("refused_revoked");
    const revoked = await tokenFor(user);
    // Logging out: UserSockets, which every socket asks for a slot, now refuses the older generation. A
    // room-bound socket's room asks for it (with the others arriving at once), before it reads anything.
    await revokeEverySession(env, db, user);
    const response = await upgrade({ room: "revoked_lobby", token: revoked });
    expect(response.status).toBe(403);
    expect(response.webSocket).toBeNull();
    expect(await response.text()).toBe("Token revoked: reload the page to get a fresh one.");
    const stored = await runInDurableObject(roomStub("revoked_lobby"), (_room, state) => [...state.storage.kv.list()]);
    expect(stored).toEqual([]);
  });

  it("answers 426 with an Upgrade header for plain HTTP", async () => {
    const response = await plainGet("/socket/websocket?room=lobby");
    expect(response.status).toBe(426);
    expect(response.headers.get("Upgrade")).toBe("websocket");
  });
});

describe("GET /socket/websocket acceptance", () => {
  it("accepts a token in the query, with no Origin (a non-browser client)", async () => {
    const user = await makeUser("query_token");
    const response = await upgrade({ room: "accept", token: await tokenFor(user) });
    expect(response.status).toBe(101);
    expect(response.headers.get("Sec-WebSocket-Protocol")).toBeNull();
    new TestSocket(response.webSocket as WebSocket).close();
  });

  it("accepts the app's own Origin", async () => {
    const user = await makeUser("own_origin");
    const response = await upgrade({ room: "accept", token: await tokenFor(user), origin: TEST_HOST });
    expect(response.status).toBe(101);
    new TestSocket(response.webSocket as WebSocket).close();
  });

  it("accepts Phoenix's authToken subprotocol and selects `phoenix`, as browsers require", async () => {
    const user = await makeUser("subprotocol");
    const response = await upgrade({ room: "accept", token: await tokenFor(user), viaSubprotocol: true });
    expect(response.status).toBe(101);
    expect(response.headers.get("Sec-WebSocket-Protocol")).toBe("phoenix");
    const socket = new TestSocket(response.webSocket as WebSocket);
    expect((await socket.join("accept")).status).toBe("ok");
    socket.close();
  });

  it("prefers the subprotocol token when a query token is present too", async () => {
    const user = await makeUser("both_tokens");
    const response = await upgrade({
      room: "accept",
      token: await tokenFor(user),
      viaSubprotocol: true,
      query: { token: "garbage" },
    });
    expect(response.status).toBe(101);
    new TestSocket(response.webSocket as WebSocket).close();
  });

  it("accepts an Origin listed in ALLOWED_ORIGINS", async () => {
    const user = await makeUser("allowed_origin");
    const request = new Request(`${TEST_HOST}/socket/websocket?vsn=2.0.0&room=accept&token=${await tokenFor(user)}`, {
      headers: { Upgrade: "websocket", Origin: "https://chat.example.com" },
    });
    const response = await createApp().fetch(request, { ...env, ALLOWED_ORIGINS: "https://chat.example.com" });
    expect(response.status).toBe(101);
    new TestSocket(response.webSocket as WebSocket).close();
  });

  it("passes the room only the verified identity: client-sent admission headers are ignored", async () => {
    const mallory = await makeUser("mallory");
    const victim = await makeUser("victim");
    const forged = JSON.stringify({
      room: "accept",
      user: { id: victim.id, username: victim.username },
      phoenixSubprotocol: false,
    });
    const response = await upgrade({
      room: "accept",
      token: await tokenFor(mallory),
      headers: { "x-pyre-admission": forged, "X-Pyre-Admission": forged },
    });
    expect(response.status).toBe(101);
    const socket = new TestSocket(response.webSocket as WebSocket);
    expect((await socket.join("accept")).status).toBe("ok");
    const posted = await socket.push("room:accept", "new_post", { message: "who am I?" });
    expect(posted.response).toMatchObject({ user: { id: mallory.id, username: "mallory" } });
    socket.close();
  });

  it("admits on the token's own word (no D1 read) and reads D1 only for a token without a username", async () => {
    const user = await makeUser("claims_only");
    const withName = await tokenFor(user);
    const withoutName = await signToken({ gen: user.tokenGeneration }, user.id, SOCKET_AUDIENCE, testSecrets(), {
      issuedAt: Math.floor(Date.now() / 1000),
      expiresAt: Math.floor(Date.now() / 1000) + 3600,
    });
    // D1's generation moves on behind UserSockets' back (what a failed logout call leaves for the cron):
    await bumpTokenGeneration(db, user.id);
    // a token carrying its username is admitted on UserSockets' word, and the room knows it by that name;
    const response = await upgrade({ room: "claims", token: withName });
    expect(response.status).toBe(101);
    const socket = new TestSocket(response.webSocket as WebSocket);
    expect((await socket.join("claims")).status).toBe("ok");
    const posted = await socket.push("room:claims", "new_post", { message: "named by my token" });
    expect(posted.response).toMatchObject({ user: { id: user.id, username: "claims_only" } });
    socket.close();
    // one signed before tokens carried it is checked against D1, as every token was then.
    const old = await upgrade({ room: "claims", token: withoutName });
    expect(old.status).toBe(403);
    expect(await old.text()).toContain("Token revoked");
  });
});

function plainGet(path: string): Promise<Response> {
  return exports.default.fetch(`${TEST_HOST}${path}`);
}
