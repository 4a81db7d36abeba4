/**
 * UserSockets keeps a revocation until every holder of the user's sockets has closed them: a holder that
 * cannot be reached keeps its slots and is asked again by an alarm; the others are done at once.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { roomSlotHolder, sessionSlotHolder, userSockets } from "../../../src/realtime/user-sockets/client";
import { closeAll, connect, type TestSocket } from "../../helpers/socket";
import { makeUser } from "../../helpers/users";

const open: TestSocket[] = [];
afterEach(() => closeAll(open));

function slotsOf(userId: number) {
  return runInDurableObject(userSockets(env, userId), (_object, state) =>
    state.storage.sql
      .exec<{ holder: string; generation: number }>("SELECT holder, generation FROM slots WHERE user_id = ?", userId)
      .toArray(),
  );
}

describe("UserSockets", () => {
  it("closes what it can reach at once, keeps asking a holder that did not answer, and counts only live slots", async () => {
    const user = await makeUser("half_reachable");
    const socket = await connect(user, "reachable_room");
    open.push(socket);
    // A holder that cannot answer (its id names no object), as a room or session that is down would.
    await runInDurableObject(userSockets(env, user.id), (_object, state) => {
      state.storage.sql.exec(
        "INSERT INTO slots (id, user_id, holder, generation, opened_at) VALUES ('lost', ?, ?, 0, ?)",
        user.id,
        sessionSlotHolder("not-an-id"),
        Date.now(),
      );
    });

    const result = await userSockets(env, user.id).revoke(user.id, 1);
    expect(result).toEqual({ ended: false });
    expect((await socket.closed).code).toBe(4001); // the reachable room closed its socket
    expect(await slotsOf(user.id)).toEqual([{ holder: sessionSlotHolder("not-an-id"), generation: 0 }]);
    const alarm = await runInDurableObject(userSockets(env, user.id), (_object, state) => state.storage.getAlarm());
    expect(alarm).not.toBeNull();

    // The kept slot does not count against the user's new sockets, and the alarm asks again.
    expect((await userSockets(env, user.id).open(user.id, 1, roomSlotHolder("after_logout"))).ok).toBe(true);
    expect(await runDurableObjectAlarm(userSockets(env, user.id))).toBe(true);
    expect((await slotsOf(user.id)).filter((slot) => slot.generation === 0)).toHaveLength(1);
  });

  it("refuses slots for a revoked generation and forgets nothing when every holder answers", async () => {
    const user = await makeUser("fully_revoked");
    const socket = await connect(user, "fully_room");
    open.push(socket);
    expect(await userSockets(env, user.id).revoke(user.id, 1)).toEqual({ ended: true });
    expect(await slotsOf(user.id)).toEqual([]);
    expect(await userSockets(env, user.id).open(user.id, 0, roomSlotHolder("fully_room"))).toEqual({
      ok: false,
      reason: "revoked",
    });
  });
});
