/**
 * docs/bad-input.md, "Socket upgrade": tokens, Origins and room names at `GET /socket/websocket`. Every
 * refusal is an HTTP status with a plain-text body, checked here word for word, and happens before any
 * room is touched; each test ends with a witness post in the room the bad upgrade asked for.
 */
import { env, exports } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { SignJWT } from "jose";
import { afterEach, describe, expect, it } from "vitest";
import { revokeEverySession } from "../../src/auth/end-sessions";
import type { TokenSecret } from "../../src/auth/secret";
import { keyId, SESSION_AUDIENCE, SOCKET_AUDIENCE, signUserToken } from "../../src/auth/token";
import { users } from "../../src/db/schema";
import { SESSION_ENDED_CLOSE_CODE } from "../../src/shared/room-contract";
import { closeAll, TEST_HOST, TestSocket, upgrade } from "../helpers/socket";
import { db, tokenFor } from "../helpers/users";
import { Visitor } from "../helpers/visitor";
import { freshRoom, freshUser, witnessedRoom } from "./witness";

const open: TestSocket[] = [];
afterEach(() => closeAll(open));

const TOKEN_INVALID = "Token invalid: reload the page to get a fresh one.";
const TOKEN_EXPIRED = "Token expired: reload the page to get a fresh one.";
const TOKEN_REVOKED = "Token revoked: reload the page to get a fresh one.";
const INVALID_ROOM = "Invalid room: room names are 1 to 64 of A-Z a-z 0-9 _ -.";

const secret = env.TOKEN_SECRET as TokenSecret;
const key = new TextEncoder().encode(secret);

function base64url(value: object): string {
  return btoa(JSON.stringify(value)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
}

/** Status and body of a refused upgrade; a refusal never carries a socket. */
async function refusal(response: Response): Promise<[number, string]> {
  expect(response.webSocket).toBeNull();
  return [response.status, await response.text()];
}

/** An accepted upgrade: the socket, joined to `room`. */
async function accepted(response: Response, room: string): Promise<TestSocket> {
  expect(response.status, response.status === 101 ? "" : await response.text()).toBe(101);
  const socket = new TestSocket(response.webSocket as WebSocket);
  open.push(socket);
  expect((await socket.join(room)).status).toBe("ok");
  return socket;
}

describe("tokens", () => {
  it("a token with alg none: 403 'Token invalid'", async () => {
    const { room, stillServes } = await witnessedRoom(freshRoom("alg_none"), open);
    const user = await freshUser("alg_none");
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: String(user.id), aud: SOCKET_AUDIENCE, gen: 0, iat: now, exp: now + 3600 };
    const unsigned = `${base64url({ alg: "none", typ: "JWT", kid: await keyId(secret) })}.${base64url(claims)}.`;
    expect(await refusal(await upgrade({ room, token: unsigned }))).toEqual([403, TOKEN_INVALID]);
    // The same through Phoenix's authToken subprotocol.
    expect(await refusal(await upgrade({ room, token: unsigned, viaSubprotocol: true }))).toEqual([403, TOKEN_INVALID]);
    await stillServes();
  });

  it("a token signed with another key: 403 'Token invalid', whether its kid names that key or ours", async () => {
    const { room, stillServes } = await witnessedRoom(freshRoom("other_key"), open);
    const user = await freshUser("other_key");
    const other = "another-secret-that-is-also-32-characters-long" as TokenSecret;
    const ownKid = await signUserToken(user, { current: other });
    expect(await refusal(await upgrade({ room, token: ownKid }))).toEqual([403, TOKEN_INVALID]);
    const borrowedKid = await new SignJWT({ gen: 0 })
      .setProtectedHeader({ alg: "HS256", typ: "JWT", kid: await keyId(secret) })
      .setSubject(String(user.id))
      .setAudience(SOCKET_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode(other));
    expect(await refusal(await upgrade({ room, token: borrowedKid }))).toEqual([403, TOKEN_INVALID]);
    await stillServes();
  });

  it("a token for another audience: 403 'Token invalid' for the session cookie's token and any other", async () => {
    const { room, stillServes } = await witnessedRoom(freshRoom("audience"), open);
    const user = await freshUser("audience");
    const session = await tokenFor(user, { audience: SESSION_AUDIENCE });
    expect(await refusal(await upgrade({ room, token: session }))).toEqual([403, TOKEN_INVALID]);
    const admin = await new SignJWT({ gen: 0 })
      .setProtectedHeader({ alg: "HS256", typ: "JWT", kid: await keyId(secret) })
      .setSubject(String(user.id))
      .setAudience("user admin")
      .setIssuedAt()
      .setExpirationTime("1h")
      .sign(key);
    expect(await refusal(await upgrade({ room, token: admin }))).toEqual([403, TOKEN_INVALID]);
    await stillServes();
  });

  it("an expired token: 403 'Token expired'", async () => {
    const { room, stillServes } = await witnessedRoom(freshRoom("expired"), open);
    const user = await freshUser("expired");
    const fifteenDaysAgo = new Date(Date.now() - 15 * 24 * 3600 * 1000);
    const expired = await tokenFor(user, { now: fifteenDaysAgo });
    expect(await refusal(await upgrade({ room, token: expired }))).toEqual([403, TOKEN_EXPIRED]);
    await stillServes();
  });

  it("a token of a deleted user: 403 'Token revoked'; an open socket's next post is unauthorized and closed 4001", async () => {
    const { room, topic, stillServes } = await witnessedRoom(freshRoom("deleted"), open);
    // Deleted as account deletion must do it: sessions ended first (which tells UserSockets), then the row.
    const user = await freshUser("deleted"); // no posts: posts reference their author
    const token = await tokenFor(user);
    await revokeEverySession(env, db, user);
    await db.delete(users).where(eq(users.id, user.id));
    expect(await refusal(await upgrade({ room, token }))).toEqual([403, TOKEN_REVOKED]);

    // A row deleted by hand tells nobody: the socket opened before finds no author when its post is copied.
    const other = await freshUser("deleted_by_hand");
    const before = await accepted(await upgrade({ room, token: await tokenFor(other) }), room);
    await db.delete(users).where(eq(users.id, other.id));
    const post = await before.push(topic, "new_post", { message: "from beyond" });
    expect(post.response).toEqual({ reason: "unauthorized", detail: "token revoked" });
    expect(await before.closed).toEqual({ code: SESSION_ENDED_CLOSE_CODE, reason: "token revoked" });
    await stillServes();
  });

  it("a token of a locked user keeps working: 101, joins and posts (a lock only stops password guesses)", async () => {
    const { room, topic, stillServes } = await witnessedRoom(freshRoom("locked"), open);
    const victim = new Visitor();
    expect((await victim.register("locked_victim")).status).toBe(303);
    const token = await victim.socketToken();
    if (!token) throw new Error("a logged-in page embeds a socket token");

    // Anyone can lock any email: five wrong passwords through the real form.
    const stranger = new Visitor();
    const statuses: number[] = [];
    for (let attempt = 0; attempt < 5; attempt++) {
      statuses.push((await stranger.logIn("locked_victim@example.com", "wrong password")).status);
    }
    expect(statuses).toEqual([401, 401, 401, 401, 429]);
    expect((await new Visitor().logIn("locked_victim@example.com")).status).toBe(429);

    const socket = await accepted(await upgrade({ room, token }), room);
    const posted = await socket.push(topic, "new_post", { message: "still mine" });
    expect(posted.status).toBe("ok");
    expect((await victim.get("/")).html).toContain("locked_victim");
    await stillServes([socket]);
  });

  it("a token of a logged-out session: 403 'Token revoked'; its open socket is closed 4001 'token revoked'", async () => {
    const { room, stillServes } = await witnessedRoom(freshRoom("logged_out"), open);
    const person = new Visitor();
    expect((await person.register("logs_out_here")).status).toBe(303);
    const token = await person.socketToken();
    if (!token) throw new Error("a logged-in page embeds a socket token");
    const socket = await accepted(await upgrade({ room, token }), room);

    expect((await person.post("/logout", {})).status).toBe(303);
    expect(await socket.closed).toEqual({ code: SESSION_ENDED_CLOSE_CODE, reason: "token revoked" });
    expect(await refusal(await upgrade({ room, token }))).toEqual([403, TOKEN_REVOKED]);
    await stillServes();
  });
});

describe("Origin", () => {
  it("a missing Origin is accepted from a non-browser client with a good token; without one, 403 'Missing token'", async () => {
    const { room, stillServes } = await witnessedRoom(freshRoom("no_origin"), open);
    const socket = await accepted(await upgrade({ room, token: await tokenFor(await freshUser("no_origin")) }), room);
    expect(await refusal(await upgrade({ room }))).toEqual([
      403,
      "Missing token: pass the page's user_token as authToken or params.token.",
    ]);
    await stillServes([socket]);
  });

  it.each([
    ["another site", "https://evil.example"],
    ["null", "null"],
    ["our host with a path", `${TEST_HOST}/rooms/lobby`],
    ["not a URL", "evil"],
  ])("a foreign Origin (%s): 403 'Origin … may not open sockets here', even with a good token", async (_, origin) => {
    const { room, stillServes } = await witnessedRoom(freshRoom("foreign"), open);
    const token = await tokenFor(await freshUser("foreign"));
    expect(await refusal(await upgrade({ room, token, origin }))).toEqual([
      403,
      `Origin ${origin} may not open sockets here.`,
    ]);
    await stillServes();
  });
});

describe("room names at the upgrade", () => {
  it.each([
    ["with /", "a/b"],
    ["..", ".."],
    ["in unicode", "café"],
    ["in emoji", "🔥"],
    ["of 65 characters", "r".repeat(65)],
  ])("a room name %s: 400 'Invalid room', before the token is looked at", async (_, name) => {
    const witnessed = await witnessedRoom(freshRoom("names"), open);
    const token = await tokenFor(await freshUser("names"));
    expect(await refusal(await upgrade({ room: name, token }))).toEqual([400, INVALID_ROOM]);
    expect(await refusal(await upgrade({ room: name, token: "garbage" }))).toEqual([400, INVALID_ROOM]);
    await witnessed.stillServes();
  });

  it("a room name of 64 characters is accepted", async () => {
    const room = "r".repeat(64);
    await accepted(await upgrade({ room, token: await tokenFor(await freshUser("names64")) }), room);
  });
});

describe("vsn at the upgrade", () => {
  const UNSUPPORTED = (vsn: string) =>
    `Unsupported vsn ${vsn}: pyre speaks vsn=2.0.0 (Phoenix's V2 serializer, phoenix.js) or vsn=1.0.0 (V1 JSON).`;

  it.each(["3.0.0", "2.1.0", "", "latest"])(
    "a vsn no serializer matches (%j): 400 'Unsupported vsn', before the token is looked at",
    async (vsn) => {
      const { room, stillServes } = await witnessedRoom(freshRoom("vsn"), open);
      const token = await tokenFor(await freshUser("vsn"));
      expect(await refusal(await upgrade({ room, token, vsn }))).toEqual([400, UNSUPPORTED(vsn)]);
      expect(await refusal(await upgrade({ room, token: "garbage", vsn }))).toEqual([400, UNSUPPORTED(vsn)]);
      await stillServes();
    },
  );

  it("no vsn at all: accepted as V1, as Phoenix does; a V2 frame then closes the socket with 1007", async () => {
    const { room, topic, stillServes } = await witnessedRoom(freshRoom("novsn"), open);
    const response = await upgrade({ room, token: await tokenFor(await freshUser("novsn")), vsn: null });
    expect(response.status).toBe(101);
    const socket = new TestSocket(response.webSocket as WebSocket, "1.0.0");
    open.push(socket);
    socket.sendRaw(JSON.stringify(["1", "1", topic, "phx_join", {}]));
    expect((await socket.closed).code).toBe(1007);
    await stillServes();
  });

  it("a repeated vsn: the last one counts (Plug's rule), so 1.0.0 then 2.0.0 speaks V2", async () => {
    const { room, stillServes } = await witnessedRoom(freshRoom("twovsn"), open);
    const token = await tokenFor(await freshUser("twovsn"));
    const query = new URLSearchParams([
      ["vsn", "1.0.0"],
      ["room", room],
      ["token", token],
      ["vsn", "2.0.0"],
    ]);
    const twice = await exports.default.fetch(`${TEST_HOST}/socket/websocket?${query}`, {
      headers: { Upgrade: "websocket" },
    });
    const socket = await accepted(twice, room); // joins with a V2 frame: V2 was chosen
    expect(socket.garbage).toEqual([]);
    await stillServes([socket]);
  });
});
