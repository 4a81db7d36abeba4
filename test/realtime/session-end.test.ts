/**
 * A socket outlives the check at its upgrade, so the room checks the token's grant again: a member who
 * logged out (generation bumped) or whose token expired can neither post nor rejoin, and their socket is
 * closed with 4001 so the page can say why.
 */
import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { TOKEN_MAX_AGE_SECONDS } from "../../src/auth/token";
import { posts } from "../../src/db/schema";
import { bumpTokenGeneration } from "../../src/db/users";
import { SESSION_ENDED_CLOSE_CODE } from "../../src/shared/room-channel";
import { connectAndJoin, TestSocket, upgrade } from "../helpers/socket";
import { db, makeUser, tokenFor } from "../helpers/users";

const open: TestSocket[] = [];
afterEach(() => {
  for (const socket of open.splice(0)) socket.close();
});

async function storedIn(room: string): Promise<number> {
  return (await db.select().from(posts).where(eq(posts.room, room))).length;
}

describe("a session that ends while its socket is open", () => {
  it("refuses a post after logout, closes that socket with 4001, and leaves others alone", async () => {
    const leaver = await makeUser("logs_out");
    const other = await makeUser("stays_in");
    const l = await connectAndJoin(leaver, "revoked_room");
    const o = await connectAndJoin(other, "revoked_room");
    open.push(l.socket, o.socket);

    await bumpTokenGeneration(db, leaver.id); // what POST /logout does
    const refused = await l.socket.push("room:revoked_room", "new_post", { message: "after logout" });
    expect(refused.status).toBe("error");
    expect(refused.response).toEqual({ reason: "unauthorized", detail: "token revoked" });
    expect(await l.socket.closed).toEqual({ code: SESSION_ENDED_CLOSE_CODE, reason: "token revoked" });
    expect(await storedIn("revoked_room")).toBe(0);

    const fine = await o.socket.push("room:revoked_room", "new_post", { message: "still here" });
    expect(fine.status).toBe("ok");
    await o.socket.barrier();
    expect(o.socket.broadcasts("new_post").map((f) => f[4].message)).toEqual(["still here"]);
  });

  it("refuses a rejoin after logout the same way", async () => {
    const user = await makeUser("rejoins_after_logout");
    const { socket } = await connectAndJoin(user, "revoked_rejoin");
    open.push(socket);
    await bumpTokenGeneration(db, user.id);
    const rejoin = await socket.join("revoked_rejoin");
    expect(rejoin.status).toBe("error");
    expect(rejoin.response).toEqual({ reason: "unauthorized", detail: "token revoked" });
    expect((await socket.closed).code).toBe(SESSION_ENDED_CLOSE_CODE);
  });

  it("refuses a post once the token has expired", async () => {
    const user = await makeUser("expires_soon");
    // Issued so that it expires about two seconds from now.
    const issuedAt = new Date(Date.now() - TOKEN_MAX_AGE_SECONDS * 1000 + 2000);
    const response = await upgrade({ room: "expiring", token: await tokenFor(user, { now: issuedAt }) });
    expect(response.status).toBe(101);
    const socket = new TestSocket(response.webSocket as WebSocket);
    open.push(socket);
    expect((await socket.join("expiring")).status).toBe("ok");
    const expiresAt = (Math.floor(issuedAt.getTime() / 1000) + TOKEN_MAX_AGE_SECONDS) * 1000;

    await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt - Date.now()) + 50));
    const late = await socket.push("room:expiring", "new_post", { message: "too late" });
    expect(late.response).toEqual({ reason: "unauthorized", detail: "token expired" });
    expect(await socket.closed).toEqual({ code: SESSION_ENDED_CLOSE_CODE, reason: "token expired" });
    expect(await storedIn("expiring")).toBe(0);
  });
});
