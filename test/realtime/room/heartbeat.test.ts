/**
 * Idle members cost the room nothing: pyre's client heartbeats with one constant frame that the runtime
 * answers itself (`setWebSocketAutoResponse`), without running room code, even after an eviction. Other
 * clients' heartbeats, whose refs change, are answered by the room with the same shape.
 */
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { HEARTBEAT_FRAME, HEARTBEAT_REF, HEARTBEAT_REPLY } from "../../../src/shared/heartbeat";
import { closeAll, connectAndJoin, roomStub, type TestSocket } from "../../helpers/socket";
import { makeUser } from "../../helpers/users";

const open: TestSocket[] = [];
afterEach(() => closeAll(open));

/** When the runtime last answered each of the room's sockets by itself (null: never). */
function autoResponseTimes(room: string): Promise<Array<number | null>> {
  return runInDurableObject(roomStub(room), (_room, state) =>
    state.getWebSockets().map((ws) => state.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? null),
  );
}

describe("heartbeats", () => {
  it("has the runtime answer the constant heartbeat itself, with exactly the room's own reply", async () => {
    const { socket } = await connectAndJoin(await makeUser("idle_member"), "idle_room");
    open.push(socket);
    expect(await autoResponseTimes("idle_room")).toEqual([null]);

    await evictDurableObject(roomStub("idle_room"));
    const sentAt = Date.now();
    socket.sendRaw(HEARTBEAT_FRAME);
    const reply = await socket.waitFor((f) => f[1] === HEARTBEAT_REF);
    expect(JSON.stringify(reply)).toBe(HEARTBEAT_REPLY);
    const [answeredAt] = await autoResponseTimes("idle_room");
    expect(answeredAt).toBeGreaterThanOrEqual(sentAt - 5); // clocks in the runtime are coarse
  });

  it("has the room answer a heartbeat with any other ref, in the same shape, without touching the auto-response", async () => {
    const { socket } = await connectAndJoin(await makeUser("official_client"), "official_room");
    open.push(socket);
    socket.send([null, "41", "phoenix", "heartbeat", {}]);
    const reply = await socket.waitFor((f) => f[1] === "41");
    expect(JSON.stringify(reply)).toBe(HEARTBEAT_REPLY.replace(`"${HEARTBEAT_REF}"`, '"41"'));
    expect(await autoResponseTimes("official_room")).toEqual([null]);
  });
});
