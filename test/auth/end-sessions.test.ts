/**
 * A socket outlives the check at its upgrade. Logging out (or changing the password) ends every socket of
 * the user in every room at once, listeners included, before the logout is answered; a socket still on
 * its way to a room when that happens is refused there. Ended sockets close with 4001 so the page can say
 * why (an expiring token: test/realtime/room/token-expiry.test.ts).
 */
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { revokeEverySession } from "../../src/auth/end-sessions";
import { admissionRequest } from "../../src/realtime/access/admission";
import { SESSION_ENDED_CLOSE_CODE } from "../../src/shared/room-contract";
import { closeAll, connect, connectAndJoin, roomStub, type TestSocket, upgrade } from "../helpers/socket";
import { db, makeUser, tokenFor } from "../helpers/users";

const open: TestSocket[] = [];
afterEach(() => closeAll(open));

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
        vsn: "2.0.0",
      }),
    );
    expect(admitted.status).toBe(403);
  });

  it("remembers a revocation heard while awake, and after an eviction reads it again from storage", async () => {
    const user = await makeUser("remembered_awake");
    const room = "remembered_room";
    const admitted = async (generation: number) => {
      const response = await roomStub(room).fetch(
        admissionRequest({
          room,
          user: { id: user.id, username: user.username },
          token: { generation, expiresAt: Date.now() + 60_000 },
          slot: null,
          phoenixSubprotocol: false,
          vsn: "2.0.0",
        }),
      );
      if (response.webSocket) {
        response.webSocket.accept();
        response.webSocket.close(1000, "done");
      } else await response.text(); // read, so the request ends and the room can be evicted
      return response.status;
    };
    // The room is awake and has looked for revocations (none) before it hears of one.
    const stays = await connectAndJoin(await makeUser("remembered_stays"), room);
    open.push(stays.socket);
    await roomStub(room).endUserSockets(user.id, 1);
    expect(await admitted(0)).toBe(403);

    await evictDurableObject(roomStub(room));
    expect(await admitted(0)).toBe(403);
    expect(await admitted(1)).toBe(101);
  });

  it("refuses a socket session opened after its user's revocation reached it, and keeps nothing of it", async () => {
    const user = await makeUser("late_session");
    const grant = {
      user: { id: user.id, username: user.username },
      token: { generation: 0, expiresAt: Date.now() + 60_000 },
      slot: null,
      phoenixSubprotocol: false,
      vsn: "2.0.0" as const,
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
});
