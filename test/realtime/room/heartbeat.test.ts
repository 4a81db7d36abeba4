/**
 * Idle members cost the room nothing: pyre's client heartbeats with one constant frame that the runtime
 * answers itself (`setWebSocketAutoResponse`), without running room code, even after an eviction. Other
 * clients' heartbeats, whose refs change (phoenix.js's, every V1 client's), are answered by the room with
 * the same shape, in the socket's serializer, and cost a woken room one socket's attachment.
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

  it("has a woken room answer a V1 heartbeat from that socket's attachment alone, rebuilding no member's state", async () => {
    const v1 = await connectAndJoin(await makeUser("v1_heartbeat"), "v1_hb_room", {}, { vsn: "1.0.0" });
    const other = await connectAndJoin(await makeUser("v1_hb_other"), "v1_hb_room");
    open.push(v1.socket, other.socket);
    await evictDurableObject(roomStub("v1_hb_room"));
    // A member's state a rebuild could not read: the room closes such a socket when it rebuilds its members.
    await runInDurableObject(roomStub("v1_hb_room"), (_room, state) => {
      for (const ws of state.getWebSockets()) {
        const attachment = ws.deserializeAttachment() as { user: { username: string } };
        if (attachment.user.username === "v1_hb_other") ws.serializeAttachment({ unreadable: true });
      }
    });
    for (const ref of [7, "8"]) {
      v1.socket.send([null, ref, "phoenix", "heartbeat", {}]);
      await v1.socket.waitFor((f) => f[1] === ref);
    }
    expect(v1.socket.texts.at(-1)).toBe(
      '{"topic":"phoenix","event":"phx_reply","payload":{"status":"ok","response":{}},"ref":"8"}',
    );
    expect(await autoResponseTimes("v1_hb_room")).toEqual([null, null]);
    // The other socket was never looked at; the first frame that needs the room does rebuild it.
    expect(other.socket.ws.readyState).toBe(WebSocket.READY_STATE_OPEN);
    expect((await v1.socket.push("room:v1_hb_room", "typing")).status).toBe("ok");
    expect(await other.socket.closed).toEqual({ code: 1011, reason: "lost connection state; reconnect" });
  });
});
