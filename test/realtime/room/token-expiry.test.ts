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

describe("a token that expires while its socket is open", () => {
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
