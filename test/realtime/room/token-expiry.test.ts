/**
 * A room lets a socket go when its token expires (room/live-room.ts `dropExpired`, by the room's alarm),
 * listeners included: closed with 4001 "token expired"; nothing is stored after; the token cannot rejoin.
 */
import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { TOKEN_MAX_AGE_SECONDS } from "../../../src/auth/token";
import { posts } from "../../../src/db/schema";
import { SESSION_ENDED_CLOSE_CODE } from "../../../src/shared/room-contract";
import { closeAll, TestSocket, upgrade } from "../../helpers/socket";
import { db, makeUser, tokenFor } from "../../helpers/users";

const open: TestSocket[] = [];
afterEach(() => closeAll(open));

async function storedIn(room: string): Promise<number> {
  return (await db.select().from(posts).where(eq(posts.room, room))).length;
}

/** A token issued so that it expires about two seconds from now, and a socket joined to `room` with it. */
async function joinWithExpiringToken(name: string, room: string) {
  const user = await makeUser(name);
  const issuedAt = new Date(Date.now() - TOKEN_MAX_AGE_SECONDS * 1000 + 2000);
  const token = await tokenFor(user, { now: issuedAt });
  const response = await upgrade({ room, token });
  expect(response.status).toBe(101);
  const socket = new TestSocket(response.webSocket as WebSocket);
  open.push(socket);
  expect((await socket.join(room)).status).toBe("ok");
  return { socket, token };
}

describe("a token that expires while its socket is open", () => {
  it("closes a socket that only listens when its token expires", async () => {
    const { socket } = await joinWithExpiringToken("listens_till_expiry", "expiring_listener");
    // Nothing is sent from here on: the room's alarm ends it.
    expect(await socket.closed).toEqual({ code: SESSION_ENDED_CLOSE_CODE, reason: "token expired" });
  });

  it("closes a socket when its token expires, stores nothing after, and refuses the token at the upgrade", async () => {
    const { socket, token } = await joinWithExpiringToken("expires_soon", "expiring");
    expect((await socket.push("room:expiring", "new_post", { message: "in time" })).status).toBe("ok");

    expect(await socket.closed).toEqual({ code: SESSION_ENDED_CLOSE_CODE, reason: "token expired" });
    expect(await storedIn("expiring")).toBe(1);
    const rejoin = await upgrade({ room: "expiring", token });
    expect(rejoin.status).toBe(403);
  });
});
