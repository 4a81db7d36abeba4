/**
 * A socket outlives the check at its upgrade. Logging out (or changing the password) ends every socket of
 * the user in every room at once, listeners included, before the logout is answered; a socket still on
 * its way to a room when that happens is refused there; and an expired token can neither post nor rejoin.
 * Ended sockets close with 4001 so the page can say why.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { revokeEverySession } from "../../src/auth/end-sessions";
import { TOKEN_MAX_AGE_SECONDS } from "../../src/auth/token";
import { posts } from "../../src/db/schema";
import { admissionRequest } from "../../src/realtime/access/admission";
import { SESSION_ENDED_CLOSE_CODE } from "../../src/shared/room-contract";
import { closeAll, connect, connectAndJoin, roomStub, TestSocket, upgrade } from "../helpers/socket";
import { db, makeUser, tokenFor } from "../helpers/users";

const open: TestSocket[] = [];
afterEach(() => closeAll(open));

async function storedIn(room: string): Promise<number> {
  return (await db.select().from(posts).where(eq(posts.room, room))).length;
}

describe("a session that ends while its socket is open", () => {
  it("closes every socket of the user in every room at logout, listeners included, and nobody else's", async () => {
    const leaver = await makeUser("logs_out");
    const other = await makeUser("stays_in");
    const reader = await connectAndJoin(leaver, "revoked_a"); // only listens
    const writer = await connectAndJoin(leaver, "revoked_b");
    const idle = await connect(leaver, "revoked_c"); // connected, never joined
    const bystander = await connectAndJoin(other, "revoked_a");
    open.push(reader.socket, writer.socket, idle, bystander.socket);
    const oldToken = await tokenFor(leaver);

    await revokeEverySession(env, db, leaver); // what POST /logout does
    for (const socket of [reader.socket, writer.socket, idle]) {
      expect(await socket.closed).toEqual({ code: SESSION_ENDED_CLOSE_CODE, reason: "token revoked" });
    }

    const fine = await bystander.socket.push("room:revoked_a", "new_post", { message: "still here" });
    expect(fine.status).toBe("ok");
    const refused = await upgrade({ room: "revoked_a", token: oldToken });
    expect(refused.status).toBe(403);
    expect(await refused.text()).toMatch(/revoked/);
  });

  it("refuses a socket that reaches the room after the room heard of the revocation", async () => {
    const user = await makeUser("late_admission");
    await roomStub("race_room").endUserSockets(user.id, 1);
    const admitted = await roomStub("race_room").fetch(
      admissionRequest({
        room: "race_room",
        user: { id: user.id, username: user.username },
        token: { generation: 0, expiresAt: Date.now() + 60_000 },
        slot: null,
        phoenixSubprotocol: false,
      }),
    );
    expect(admitted.status).toBe(403);
  });

  it("refuses a socket session opened after its user's revocation reached it, and keeps nothing of it", async () => {
    const user = await makeUser("late_session");
    const grant = {
      user: { id: user.id, username: user.username },
      token: { generation: 0, expiresAt: Date.now() + 60_000 },
      slot: null,
      phoenixSubprotocol: false,
    };
    // A slot was taken for the session, so the logout reached it before the socket did.
    for (const way of ["websocket", "longpoll"] as const) {
      const session = env.SESSIONS.get(env.SESSIONS.newUniqueId());
      await session.endUserSockets(user.id, 1);
      if (way === "websocket") expect((await session.fetch(admissionRequest(grant))).status).toBe(403);
      else expect(await session.openLongPoll(grant)).toBe(false);
      // Its id is never used again, so the revocation it stored must not stay behind.
      const kept = await runInDurableObject(session, (_object, state) => [...state.storage.kv.list()]);
      expect(kept).toEqual([]);
    }
  });

  it("closes a socket that only listens when its token expires", async () => {
    const user = await makeUser("listens_till_expiry");
    // Issued so that it expires about two seconds from now.
    const issuedAt = new Date(Date.now() - TOKEN_MAX_AGE_SECONDS * 1000 + 2000);
    const response = await upgrade({ room: "expiring_listener", token: await tokenFor(user, { now: issuedAt }) });
    expect(response.status).toBe(101);
    const socket = new TestSocket(response.webSocket as WebSocket);
    open.push(socket);
    expect((await socket.join("expiring_listener")).status).toBe("ok");
    // Nothing is sent from here on: the room's alarm ends it.
    expect(await socket.closed).toEqual({ code: SESSION_ENDED_CLOSE_CODE, reason: "token expired" });
  });

  it("closes a socket when its token expires, stores nothing after, and refuses the token at the upgrade", async () => {
    const user = await makeUser("expires_soon");
    // Issued so that it expires about two seconds from now.
    const issuedAt = new Date(Date.now() - TOKEN_MAX_AGE_SECONDS * 1000 + 2000);
    const response = await upgrade({ room: "expiring", token: await tokenFor(user, { now: issuedAt }) });
    expect(response.status).toBe(101);
    const socket = new TestSocket(response.webSocket as WebSocket);
    open.push(socket);
    expect((await socket.join("expiring")).status).toBe("ok");
    expect((await socket.push("room:expiring", "new_post", { message: "in time" })).status).toBe("ok");

    expect(await socket.closed).toEqual({ code: SESSION_ENDED_CLOSE_CODE, reason: "token expired" });
    expect(await storedIn("expiring")).toBe(1);
    const rejoin = await upgrade({ room: "expiring", token: await tokenFor(user, { now: issuedAt }) });
    expect(rejoin.status).toBe(403);
  });
});
