/**
 * Idempotent posts against a real `wrangler dev`: the same `client_id` pushed twice, on one connection or
 * after a reconnect, is one row, one broadcast and the same reply (official phoenix client); and the room
 * page's `Outbox` (src/client/outbox.ts) stores a post exactly once when its reply is lost with the
 * connection, when it is written while the socket is down, and gives a refused one back.
 */
import { randomUUID } from "node:crypto";
import type { Channel } from "phoenix";
import { afterEach, describe, expect, inject, it } from "vitest";
import { Outbox, type OutboxEntry, type OutboxView } from "../../src/client/outbox";
import { registerUser, uniqueName, waitUntil } from "./helpers";
import {
  enterRoom,
  frames,
  type Member,
  OpenSockets,
  type Post,
  post,
  push,
  QUICK_RECONNECT,
  received,
  recordingTransport,
  storedPosts,
  type Wire,
} from "./phoenix";

const baseUrl = inject("baseUrl");
const sockets = new OpenSockets();
afterEach(() => sockets.disconnectAll());

/** Waits until `member` has the broadcast of `barrier`; any broadcast before it has arrived by then. */
async function through(member: Member, barrier: Post): Promise<void> {
  await waitUntil(`the broadcast of ${barrier.id}`, () =>
    received<Post>(member, "new_post").some((p) => p.id === barrier.id),
  );
}

function broadcastsOf(member: Member, message: string): Post[] {
  return received<Post>(member, "new_post").filter((p) => p.message === message);
}

async function rowsWith(room: string, token: string, message: string): Promise<Post[]> {
  return (await storedPosts(baseUrl, room, token)).filter((p) => p.message === message);
}

describe("the same client_id twice", () => {
  it("is one row, one broadcast and the same reply, also when retried after a reconnect", async () => {
    const ann = await registerUser(baseUrl, uniqueName("ann"));
    const ben = await registerUser(baseUrl, uniqueName("ben"));
    const room = uniqueName("e2e");
    const writer = await enterRoom({ baseUrl, room, token: ann.token, sockets });
    const reader = await enterRoom({ baseUrl, room, token: ben.token, sockets });
    const clientId = randomUUID();

    const first = await push(writer.channel, "new_post", { message: "only once", client_id: clientId });
    expect(first.status).toBe("ok");
    const again = await push(writer.channel, "new_post", { message: "only once", client_id: clientId });
    expect(again).toEqual(first);

    // Reconnect (a new connection, the channel rejoined), then retry once more.
    writer.socket.disconnect();
    writer.socket.connect();
    await waitUntil("the writer rejoined", () => writer.channel.state === "joined");
    const afterReconnect = await push(writer.channel, "new_post", { message: "only once", client_id: clientId });
    expect(afterReconnect).toEqual(first);

    await through(reader, await post(writer.channel, "barrier"));
    expect(broadcastsOf(reader, "only once")).toEqual([first.response]);
    expect(await rowsWith(room, ann.token, "only once")).toEqual([first.response]);
  });
});

/** An outbox on its own socket, wired to the channel as the room page wires it. */
async function outboxMember(room: string, token: string) {
  const wire: Wire = { sent: [], received: [] };
  const stored: Array<{ entry: OutboxEntry; post: Post }> = [];
  const refused: Array<{ entry: OutboxEntry; error: string }> = [];
  let sessionEnded = false;
  const view: OutboxView = {
    added: () => {},
    stored: (entry, post) => stored.push({ entry, post }),
    refused: (entry, error) => refused.push({ entry, error }),
    sessionEnded: () => {
      sessionEnded = true;
    },
  };
  const outbox = new Outbox(view, { timeoutMs: 5_000, retryDelaysMs: [200] });
  let joinedChannel: Channel | undefined;
  const member = await enterRoom({
    baseUrl,
    room,
    token,
    sockets,
    socket: { ...QUICK_RECONNECT, transport: recordingTransport(wire) },
    prepare: (channel) => {
      joinedChannel = channel;
      channel.onError(() => outbox.left());
    },
    onEveryJoin: () => {
      if (joinedChannel) outbox.joined(joinedChannel);
    },
  });
  const newPostsSent = () => frames(wire.sent).filter(([, , , event]) => event === "new_post");
  return { member, wire, outbox, stored, refused, newPostsSent, sessionEnded: () => sessionEnded };
}

describe("the room page's Outbox", () => {
  it("stores a post once when its reply is lost with the connection, re-sending it with the same client_id", async () => {
    const ann = await registerUser(baseUrl, uniqueName("ann"));
    const ben = await registerUser(baseUrl, uniqueName("ben"));
    const room = uniqueName("e2e");
    const reader = await enterRoom({ baseUrl, room, token: ben.token, sockets });
    const writer = await outboxMember(room, ann.token);

    // The first reply to a new_post never reaches the client: the connection drops as it would arrive.
    let lostRef: string | null = null;
    let cutOnce = false;
    let current: WebSocket | undefined;
    writer.wire.onSend = (frame, socket) => {
      current = socket;
      const [, ref, , event] = JSON.parse(frame) as [unknown, string, string, string];
      if (event === "new_post" && lostRef === null) lostRef = ref;
    };
    writer.wire.loseIncoming = (frame) => {
      const [, ref, , event] = JSON.parse(frame) as [unknown, string, string, string];
      if (cutOnce || event !== "phx_reply" || ref !== lostRef) return false;
      cutOnce = true;
      current?.close();
      return true;
    };

    const entry = writer.outbox.submit("sent through a cut");
    await waitUntil("the outbox settles the post", () => writer.stored.length === 1, 15_000);
    const [settled] = writer.stored;
    expect(cutOnce).toBe(true);
    expect(settled?.entry.clientId).toBe(entry.clientId);
    expect(settled?.post.message).toBe("sent through a cut");
    expect(writer.outbox.pending).toEqual([]);
    // Sent on the first connection, whose reply was lost, and again after the rejoin: same client_id.
    const sends = writer.newPostsSent();
    expect(sends.length).toBeGreaterThanOrEqual(2);
    expect(new Set(sends.map(([, , , , payload]) => payload.client_id))).toEqual(new Set([entry.clientId]));

    await through(reader, await post(reader.channel, "barrier"));
    expect(broadcastsOf(reader, "sent through a cut")).toEqual([settled?.post]);
    expect(await rowsWith(room, ann.token, "sent through a cut")).toEqual([settled?.post]);
  });

  it("holds posts written while the socket is down and sends each once, in order, after the rejoin", async () => {
    const ann = await registerUser(baseUrl, uniqueName("ann"));
    const room = uniqueName("e2e");
    const writer = await outboxMember(room, ann.token);

    writer.member.socket.disconnect();
    await waitUntil("the channel is not joined", () => writer.member.channel.state !== "joined");
    const messages = ["offline one", "offline two", "offline three"];
    for (const message of messages) writer.outbox.submit(message);
    expect(writer.outbox.pending.map((entry) => entry.message)).toEqual(messages);
    expect(writer.newPostsSent()).toEqual([]);

    writer.member.socket.connect();
    await waitUntil("all three are stored", () => writer.stored.length === 3, 15_000);
    expect(writer.newPostsSent()).toHaveLength(3);
    const rows = (await storedPosts(baseUrl, room, ann.token)).map((p) => p.message);
    expect(rows).toEqual(messages);
  });

  it("gives a refused post back (invalid) instead of sending it again", async () => {
    const ann = await registerUser(baseUrl, uniqueName("ann"));
    const room = uniqueName("e2e");
    const writer = await outboxMember(room, ann.token);

    writer.outbox.submit("   ");
    await waitUntil("the post is refused", () => writer.refused.length === 1);
    expect(writer.refused[0]?.error).toBe("Message can't be blank.");
    expect(writer.outbox.pending).toEqual([]);
    await push(writer.member.channel, "typing", {}); // a round trip: any resend would have gone out by now
    expect(writer.newPostsSent()).toHaveLength(1);
    expect(writer.stored).toEqual([]);
    expect(writer.sessionEnded()).toBe(false);
  });
});
