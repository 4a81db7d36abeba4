/**
 * The idle rule (shell/idle.ts), through the real Room and SocketSession: a socket that sends nothing for
 * `SOCKET_IDLE_MS` is closed with 4408 and leaves presence; one that only sends pyre's constant heartbeat
 * (answered by the runtime, never seen by the object) stays, and so does one that sends frames. This file
 * runs in the pool's `idle` project (vitest.config.ts), where `SOCKET_IDLE_MS` is 1 s, so a silent socket
 * closes after 1–1.33 s.
 *
 * "Stays" is shown without waiting out a guess: the keepers join before the silent socket, so the sweep
 * that closes the silent one would have closed them too had their keep-alives not counted; the test then
 * runs the object's alarm once more itself (`runDurableObjectAlarm`), and a round trip on each keeper
 * proves it is still open after that sweep.
 */

import { evictDurableObject, listDurableObjectIds, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { User } from "../../../src/db/users";
import { CloseCode } from "../../../src/realtime/phoenix/transport";
import { userSockets } from "../../../src/realtime/user-sockets/client";
import { HEARTBEAT_FRAME } from "../../../src/shared/heartbeat";
import { closeAll, connectAndJoin, connectMultiplexed, roomStub, type TestSocket } from "../../helpers/socket";
import { makeUser } from "../../helpers/users";

const open: TestSocket[] = [];
const stops: Array<() => void> = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) stop();
  await closeAll(open);
});

/** Each test takes about 1.5 s; a loaded machine may stretch every step, never the verdict. */
const PATIENCE_MS = 15_000;

const IDLE_CLOSE = { code: CloseCode.idle, reason: "nothing received for 1 s; reconnect" };

/**
 * Keeps `socket` alive until the test ends: with pyre's constant heartbeat, which the runtime answers
 * itself, or with phoenix.js's heartbeats (a fresh ref each time), which the object answers.
 */
function keepAlive(socket: TestSocket, how: "auto-answered heartbeats" | "frames"): void {
  const timer = setInterval(() => {
    if (socket.ws.readyState !== WebSocket.READY_STATE_OPEN) return;
    if (how === "frames") socket.send([null, `keep-${socket.nextRef()}`, "phoenix", "heartbeat", {}]);
    else socket.sendRaw(HEARTBEAT_FRAME);
  }, 100);
  stops.push(() => clearInterval(timer));
}

/**
 * Round trips on `socket` for `ms`. Each is followed by a turn of the event loop: workerd runs a timer that
 * is due only then, and a loop of round trips alone would starve the other sockets' keep-alives, so they
 * would fall silent and be closed by the room's own sweep meanwhile.
 */
async function talkFor(socket: TestSocket, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    await socket.barrier();
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}

/** Resolves once `watcher` has seen `user` leave the room's presence. */
function leaveOf(watcher: TestSocket, user: User) {
  return watcher.waitFor(
    (f) => f[3] === "presence_diff" && Object.keys((f[4] as { leaves: object }).leaves).includes(String(user.id)),
  );
}

/** Whether any presence diff `watcher` received has `user` leaving. */
function sawLeave(watcher: TestSocket, user: User): boolean {
  return watcher.frames.some(
    (f) => f[3] === "presence_diff" && Object.keys((f[4] as { leaves: object }).leaves).includes(String(user.id)),
  );
}

/**
 * Runs the object's alarm (the idle sweep, which asks again while sockets are left) now. None is scheduled
 * only for the moment a sweep of its own is running, before it asks again: then it is tried again.
 */
async function sweepNow(stub: DurableObjectStub): Promise<void> {
  await expect.poll(() => runDurableObjectAlarm(stub), { timeout: 3_000, interval: 20 }).toBe(true);
}

/** When the runtime last answered each of the object's sockets itself (null: never). */
function autoAnsweredAt(stub: DurableObjectStub): Promise<Array<number | null>> {
  return runInDurableObject(stub, (_object, state) =>
    state.getWebSockets().map((ws) => state.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? null),
  );
}

/** How many socket slots `user` holds (user-sockets/). */
function slotCount(user: User): Promise<number> {
  return runInDurableObject(userSockets(env, user.id), (_object, state) => {
    const [row] = state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM slots WHERE user_id = ?", user.id);
    return row?.n ?? 0;
  });
}

/** A socket without a room: a multiplexed session. */
async function multiplexed(user: User): Promise<TestSocket> {
  const socket = await connectMultiplexed(user);
  open.push(socket);
  return socket;
}

/** The SocketSession holding `user`'s multiplexed socket. */
async function sessionOf(user: User): Promise<DurableObjectStub> {
  for (const id of await listDurableObjectIds(env.SESSIONS)) {
    const stub = env.SESSIONS.get(id);
    const holder = await runInDurableObject(stub, (_session, state) => {
      const attachment = state.getWebSockets()[0]?.deserializeAttachment() as { grant?: { user: User } } | null;
      return attachment?.grant?.user.id;
    });
    if (holder === user.id) return stub;
  }
  throw new Error(`no session holds a socket of ${user.username}`);
}

describe("a room-bound socket", () => {
  it(
    "is closed with 4408 after the idle time of silence and leaves presence; heartbeats or frames keep one open",
    async () => {
      const heartbeats = await makeUser("idle_heartbeats");
      const frames = await makeUser("idle_frames");
      const silent = await makeUser("idle_silent");
      const h = await connectAndJoin(heartbeats, "idle_room");
      const f = await connectAndJoin(frames, "idle_room");
      open.push(h.socket, f.socket);
      keepAlive(h.socket, "auto-answered heartbeats");
      keepAlive(f.socket, "frames");
      const s = await connectAndJoin(silent, "idle_room");
      open.push(s.socket);

      expect(await s.socket.closed).toEqual(IDLE_CLOSE);
      await leaveOf(h.socket, silent);

      // The runtime answered h's heartbeats without the room seeing them: only its record of them kept h open.
      const answered = await autoAnsweredAt(roomStub("idle_room"));
      expect(answered.filter((at) => at !== null)).toHaveLength(1);
      await sweepNow(roomStub("idle_room"));
      await h.socket.barrier();
      await f.socket.barrier();
      expect(sawLeave(h.socket, heartbeats) || sawLeave(h.socket, frames)).toBe(false);
      // The silent member's slot is given back; the others keep theirs.
      await expect.poll(() => slotCount(silent), { timeout: 3_000 }).toBe(0);
      expect([await slotCount(heartbeats), await slotCount(frames)]).toEqual([1, 1]);
    },
    PATIENCE_MS,
  );

  it(
    "is judged by its attachment and the runtime's clock after an eviction: frames recorded now and then count",
    async () => {
      const frames = await makeUser("evicted_frames");
      const heartbeats = await makeUser("evicted_heartbeats");
      const silent = await makeUser("evicted_silent");
      const f = await connectAndJoin(frames, "idle_evicted");
      const h = await connectAndJoin(heartbeats, "idle_evicted");
      open.push(f.socket, h.socket);
      keepAlive(h.socket, "auto-answered heartbeats");
      const s = await connectAndJoin(silent, "idle_evicted");
      open.push(s.socket);

      // Frames for longer than the idle time; the room records them in the attachment now and then.
      await talkFor(f.socket, 1_200);
      await evictDurableObject(roomStub("idle_evicted"));

      // A fresh instance knows the frames only from the attachment, the heartbeats only from the runtime.
      await sweepNow(roomStub("idle_evicted"));
      expect(await s.socket.closed).toEqual(IDLE_CLOSE);
      await leaveOf(f.socket, silent);
      await f.socket.barrier();
      await h.socket.barrier();
      expect(sawLeave(f.socket, frames) || sawLeave(f.socket, heartbeats)).toBe(false);
    },
    PATIENCE_MS,
  );
});

describe("a multiplexed socket", () => {
  it(
    "is closed with 4408 after the idle time of silence and leaves every room; heartbeats or frames keep one open",
    async () => {
      const watcher = await makeUser("mx_idle_watcher");
      const heartbeats = await makeUser("mx_idle_heartbeats");
      const frames = await makeUser("mx_idle_frames");
      const silent = await makeUser("mx_idle_silent");
      const watching = await connectAndJoin(watcher, "mx_idle_room");
      open.push(watching.socket);
      keepAlive(watching.socket, "auto-answered heartbeats");
      const h = await multiplexed(heartbeats);
      const f = await multiplexed(frames);
      expect((await h.join("mx_idle_room")).status).toBe("ok");
      expect((await f.join("mx_idle_room")).status).toBe("ok");
      keepAlive(h, "auto-answered heartbeats");
      keepAlive(f, "frames");
      const s = await multiplexed(silent);
      expect((await s.join("mx_idle_room")).status).toBe("ok");
      expect((await s.join("mx_idle_other")).status).toBe("ok");
      // It talks past the session's first sweep (a second after it opened), which must then ask to sweep again.
      await talkFor(s, 400);

      expect(await s.closed).toEqual(IDLE_CLOSE);
      await leaveOf(watching.socket, silent);

      const heartbeating = await sessionOf(heartbeats);
      const framing = await sessionOf(frames);
      expect(await autoAnsweredAt(heartbeating)).toEqual([expect.any(Number)]);
      expect(await autoAnsweredAt(framing)).toEqual([null]);
      for (const session of [heartbeating, framing]) await sweepNow(session);
      await h.barrier();
      await f.barrier();
      await watching.socket.barrier();
      expect(sawLeave(watching.socket, heartbeats) || sawLeave(watching.socket, frames)).toBe(false);
      await expect.poll(() => slotCount(silent), { timeout: 3_000 }).toBe(0);
      expect([await slotCount(heartbeats), await slotCount(frames)]).toEqual([1, 1]);
    },
    PATIENCE_MS,
  );
});
