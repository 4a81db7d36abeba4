/**
 * The maintenance cron (src/maintenance.ts), through the Worker's own `scheduled` handler: a revocation that
 * UserSockets was never told of (the call failed after D1 moved the generation on) is finished, so the
 * user's open sockets close; the account limits' rows that no longer decide anything are pruned.
 */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { revokeEverySession } from "../src/auth/end-sessions";
import { ipAttempts, loginFailures, users } from "../src/db/schema";
import { bumpTokenGeneration } from "../src/db/users";
import worker from "../src/index";
import { SESSION_ENDED_CLOSE_CODE } from "../src/shared/room-contract";
import { closeAll, connectAndJoin, type TestSocket, upgrade } from "./helpers/socket";
import { db, makeUser, tokenFor } from "./helpers/users";

const open: TestSocket[] = [];
afterEach(() => closeAll(open));

async function runCron(at = new Date()): Promise<void> {
  const ctx = createExecutionContext();
  worker.scheduled(createScheduledController({ scheduledTime: at, cron: "*/5 * * * *" }), env, ctx);
  await waitOnExecutionContext(ctx);
}

describe("the maintenance cron", () => {
  it("closes the sockets of a revocation UserSockets was never told of, and marks it done", async () => {
    const user = await makeUser("cron_revoked");
    const { socket } = await connectAndJoin(user, "cron_room");
    open.push(socket);
    // As when the logout's call to UserSockets failed: D1 has the new generation, nothing else does.
    const generation = await bumpTokenGeneration(db, user.id);
    await socket.barrier();
    expect(socket.ws.readyState).toBe(WebSocket.READY_STATE_OPEN);
    // Sockets are admitted on UserSockets' word (no D1 read at the upgrade), so until the cron tells it,
    // the old token still opens one: the cron ends it with the others (docs/security.md#revocation).
    const { socket: late } = await connectAndJoin(user, "cron_room");
    open.push(late);

    await runCron();
    expect(await socket.closed).toEqual({ code: SESSION_ENDED_CLOSE_CODE, reason: "token revoked" });
    expect(await late.closed).toEqual({ code: SESSION_ENDED_CLOSE_CODE, reason: "token revoked" });
    const [row] = await db.select().from(users).where(eq(users.id, user.id));
    expect(row?.socketsRevokedThrough).toBe(generation);
    // And UserSockets now refuses the old token's sockets too.
    expect((await upgrade({ room: "cron_room", token: await tokenFor(user) })).status).toBe(403);
  });

  it("has nothing to finish after a logout that reached UserSockets: the logout marks its own", async () => {
    const user = await makeUser("cron_logged_out");
    const revoked = await revokeEverySession(env, db, user);
    const [row] = await db.select().from(users).where(eq(users.id, user.id));
    expect(row?.tokenGeneration).toBe(revoked?.tokenGeneration);
    expect(row?.socketsRevokedThrough).toBe(revoked?.tokenGeneration);
  });

  it("prunes closed per-address windows and lockout counts a day stale, and keeps the live ones", async () => {
    const now = new Date();
    const hour = 60 * 60 * 1000;
    await db.insert(ipAttempts).values([
      { action: "login", ip: "192.0.2.1", windowStartedAt: new Date(now.getTime() - 2 * hour), attempts: 5 },
      { action: "login", ip: "192.0.2.2", windowStartedAt: new Date(now.getTime() - 60_000), attempts: 5 },
    ]);
    await db.insert(loginFailures).values([
      { email: "stale@example.com", failures: 2, lockedUntil: null, updatedAt: new Date(now.getTime() - 25 * hour) },
      { email: "recent@example.com", failures: 2, lockedUntil: null, updatedAt: new Date(now.getTime() - hour) },
      {
        email: "locked@example.com",
        failures: 5,
        lockedUntil: new Date(now.getTime() + hour),
        updatedAt: new Date(now.getTime() - 25 * hour),
      },
    ]);

    await runCron(now);
    expect((await db.select().from(ipAttempts)).map((row) => row.ip)).toEqual(["192.0.2.2"]);
    expect((await db.select().from(loginFailures)).map((row) => row.email).sort()).toEqual([
      "locked@example.com",
      "recent@example.com",
    ]);
  });
});
