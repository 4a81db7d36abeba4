/**
 * The room page's socket (`PyreSocket`, src/client/pyre-socket.ts) from Node against a real `wrangler dev`,
 * with a short heartbeat interval: on the wire, every heartbeat is exactly `HEARTBEAT_FRAME` and each is
 * answered with exactly `HEARTBEAT_REPLY` (the runtime's auto-response); a missing answer still makes
 * phoenix close the dead connection and reconnect, as the official client does.
 */
import { afterEach, describe, expect, inject, it } from "vitest";
import { PyreSocket } from "../../src/client/pyre-socket";
import { HEARTBEAT_FRAME, HEARTBEAT_REPLY } from "../../src/shared/heartbeat";
import { registerUser, uniqueName, waitUntil } from "./helpers";
import { frames, OpenSockets, recordingTransport, socketUrl, type Wire } from "./phoenix";

const baseUrl = inject("baseUrl");
const sockets = new OpenSockets();
afterEach(() => sockets.disconnectAll());

/**
 * phoenix.js sends a heartbeat every interval and gives the connection up when a heartbeat's reply has not
 * come one interval after it was sent, by a timer: a test process stalled for longer than that on a loaded
 * machine runs the expired timer before it reads the reply waiting on its socket (Node runs due timers
 * first), and reconnects. Where a test needs every reply in time, the interval is 2 s (1 s was once not
 * enough with e2e files running side by side); where a test needs a reply to go missing, a short interval
 * makes phoenix notice soon.
 */
const PATIENT_INTERVAL_MS = 2_000;
const SHORT_INTERVAL_MS = 250;

function count(list: string[], frame: string): number {
  return list.filter((entry) => entry === frame).length;
}

async function connect(wire: Wire, heartbeatIntervalMs: number) {
  const user = await registerUser(baseUrl, uniqueName("hb"));
  const room = uniqueName("e2e");
  const socket = sockets.add(
    new PyreSocket(socketUrl(baseUrl), {
      authToken: user.token,
      params: { room },
      heartbeatIntervalMs,
      reconnectAfterMs: () => 50,
      rejoinAfterMs: () => 50,
      transport: recordingTransport(wire),
    }),
  );
  const opened: number[] = [];
  const closed: number[] = [];
  socket.onOpen(() => {
    opened.push(Date.now());
  });
  socket.onClose(() => {
    closed.push(Date.now());
  });
  const channel = socket.channel(`room:${room}`, {});
  const joins: number[] = [];
  channel.join().receive("ok", () => joins.push(Date.now()));
  socket.connect();
  await waitUntil("the first join", () => joins.length >= 1);
  return { socket, channel, opened, closed, joins };
}

describe("PyreSocket heartbeats", () => {
  it("sends every heartbeat as the constant frame, gets the constant reply, and stays on one connection", async () => {
    const wire: Wire = { sent: [], received: [] };
    const { socket, opened, closed } = await connect(wire, PATIENT_INTERVAL_MS);

    await waitUntil("three heartbeats answered", () => count(wire.received, HEARTBEAT_REPLY) >= 3, 20_000);
    expect(count(wire.sent, HEARTBEAT_FRAME)).toBeGreaterThanOrEqual(3);
    // No other heartbeat of any shape went out, and no reply with another ref came back.
    const heartbeats = wire.sent.filter((frame) => frame.includes('"heartbeat"'));
    expect(new Set(heartbeats)).toEqual(new Set([HEARTBEAT_FRAME]));
    const replies = frames(wire.received).filter(([, , topic]) => topic === "phoenix");
    expect(new Set(replies.map((reply) => JSON.stringify(reply)))).toEqual(new Set([HEARTBEAT_REPLY]));
    // Each reply cleared phoenix's heartbeat timeout: still the one connection it opened.
    expect(opened).toHaveLength(1);
    expect(closed).toHaveLength(0);
    expect(socket.isConnected()).toBe(true);
    expect(socket.pendingHeartbeatRef === null || socket.pendingHeartbeatRef === "hb").toBe(true);
  });

  it("closes a connection whose heartbeat goes unanswered and reconnects and rejoins, as phoenix does", async () => {
    const wire: Wire = { sent: [], received: [] };
    const { socket, opened, joins } = await connect(wire, SHORT_INTERVAL_MS);
    await waitUntil("a heartbeat answered", () => count(wire.received, HEARTBEAT_REPLY) >= 1, 5_000);

    wire.loseIncoming = (frame) => frame === HEARTBEAT_REPLY;
    await waitUntil("phoenix gives up on the connection and opens a new one", () => opened.length >= 2, 5_000);
    wire.loseIncoming = undefined;
    await waitUntil("and rejoins", () => joins.length >= 2, 5_000);
    const answeredBefore = count(wire.received, HEARTBEAT_REPLY);
    await waitUntil("heartbeats are answered again", () => count(wire.received, HEARTBEAT_REPLY) > answeredBefore);
    expect(socket.isConnected()).toBe(true);
  });
});
