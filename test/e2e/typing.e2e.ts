/**
 * Typing indicators through the official phoenix client against a real `wrangler dev`: the room relays
 * `typing` to the others (never to the typist's own sockets) at most once per 2 s per member, and the
 * room page's `TypingNotifier` (src/client/typing.ts) sends at most one `typing` per 2 s however fast the
 * person types.
 */
import { afterEach, describe, expect, inject, it } from "vitest";
import { TYPING_SEND_INTERVAL_MS, TypingNotifier } from "../../src/client/typing";
import { TYPING_RELAY_INTERVAL_MS, type TypingPayload } from "../../src/shared/room-contract";
import { registerUser, uniqueName, waitUntil } from "./helpers";
import {
  enterRoom,
  frames,
  OpenSockets,
  type Post,
  post,
  push,
  received,
  recordingTransport,
  type Wire,
} from "./phoenix";

const baseUrl = inject("baseUrl");
const sockets = new OpenSockets();
afterEach(() => sockets.disconnectAll());

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function threeMembers() {
  const ann = await registerUser(baseUrl, uniqueName("ann"));
  const ben = await registerUser(baseUrl, uniqueName("ben"));
  const room = uniqueName("e2e");
  const wire: Wire = { sent: [], received: [] };
  const typist = await enterRoom({
    baseUrl,
    room,
    token: ann.token,
    sockets,
    socket: { transport: recordingTransport(wire) },
  });
  const typistOtherTab = await enterRoom({ baseUrl, room, token: ann.token, sockets });
  const reader = await enterRoom({ baseUrl, room, token: ben.token, sockets });
  return { ann, ben, room, wire, typist, typistOtherTab, reader };
}

describe("typing", () => {
  it("is relayed to the others, not to the typist's own tabs, at most once per 2 s", async () => {
    const { ann, typist, typistOtherTab, reader } = await threeMembers();

    expect(await push(typist.channel, "typing", {})).toEqual({ status: "ok", response: {} });
    await waitUntil("ben is told ann is typing", () => received(reader, "typing").length === 1);
    const [relay] = received<TypingPayload>(reader, "typing");
    expect(relay).toEqual({ user: { id: expect.any(Number), username: ann.username } });

    // Again at once: acknowledged, not relayed. A post pushed after it is the barrier: anything relayed
    // for the second push would reach ben before the post's broadcast.
    expect(await push(typist.channel, "typing", {})).toEqual({ status: "ok", response: {} });
    const barrier = await post(typist.channel, "done typing");
    await waitUntil("ben has the post", () => received<Post>(reader, "new_post").some((p) => p.id === barrier.id));
    await waitUntil("ann's other tab has the post", () =>
      received<Post>(typistOtherTab, "new_post").some((p) => p.id === barrier.id),
    );
    expect(received(reader, "typing")).toHaveLength(1);
    expect(received(typistOtherTab, "typing")).toHaveLength(0);
    expect(received(typist, "typing")).toHaveLength(0);

    await sleep(TYPING_RELAY_INTERVAL_MS + 100);
    expect(await push(typist.channel, "typing", {})).toEqual({ status: "ok", response: {} });
    await waitUntil("ben is told again after 2 s", () => received(reader, "typing").length === 2);
    expect(received(typistOtherTab, "typing")).toHaveLength(0);
  });

  it("is sent by the page's TypingNotifier at most once per interval (a little over 2 s) while keys keep coming", async () => {
    const { typist, wire, reader } = await threeMembers();
    const notifier = new TypingNotifier(() => {
      typist.channel.push("typing", {});
      return true;
    });
    const typingFramesSent = () => frames(wire.sent).filter(([, , , event]) => event === "typing").length;

    // A keystroke every 50 ms for 1.5 intervals: one push at the start, one an interval later.
    expect(TYPING_SEND_INTERVAL_MS).toBeGreaterThanOrEqual(TYPING_RELAY_INTERVAL_MS);
    const startedAt = Date.now();
    let passedOn = 0;
    while (Date.now() - startedAt < TYPING_SEND_INTERVAL_MS * 1.5) {
      if (notifier.typed()) passedOn++;
      await sleep(50);
    }
    expect(passedOn).toBe(2);
    await waitUntil("both pushes are on the wire", () => typingFramesSent() === 2);
    await waitUntil("ben got both relays", () => received(reader, "typing").length === 2);

    // After a post, the next keystroke is passed on at once.
    notifier.reset();
    expect(notifier.typed()).toBe(true);
    expect(notifier.typed()).toBe(false);
    await waitUntil("the third push is on the wire", () => typingFramesSent() === 3);
  });

  it("does not count a keystroke it could not send (not joined), so the next one tries again", () => {
    let joined = false;
    let pushes = 0;
    const notifier = new TypingNotifier(() => {
      if (joined) pushes++;
      return joined;
    });
    expect(notifier.typed(1_000)).toBe(false);
    joined = true;
    expect(notifier.typed(1_010)).toBe(true);
    expect(notifier.typed(1_010 + TYPING_SEND_INTERVAL_MS - 1)).toBe(false);
    expect(notifier.typed(1_010 + TYPING_SEND_INTERVAL_MS)).toBe(true);
    expect(pushes).toBe(2);
  });
});
