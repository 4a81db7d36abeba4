/**
 * docs/bad-input.md, "Read positions": what `mark_read` and `mark_unread` answer to what they should never
 * be sent. Each refusal leaves the sender's read position where it was (asked again after it) and each
 * test ends with a witness post reaching another member. The same answers on a multiplexed socket and
 * LongPoll: test/realtime/room/read-positions.test.ts ("on every way in").
 */
import { afterEach, describe, expect, it } from "vitest";
import { closeAll, type Frame, type TestSocket } from "../helpers/socket";
import { binaryPush } from "./frames";
import { freshRoom, joinedSubject, witnessedRoom } from "./witness";

const open: TestSocket[] = [];
afterEach(() => closeAll(open));

/** Sends `event` with `payload` on the subject's join and returns the reply's `{status, response}`. */
async function send(socket: TestSocket, joinRef: string, topic: string, event: string, payload: unknown) {
  const ref = socket.nextRef();
  socket.send([joinRef, ref, topic, event, payload as Record<string, unknown>]);
  return (await socket.waitFor((f) => f[1] === ref && f[3] === "phx_reply"))[4];
}

const invalid = (errors: Record<string, string>) => ({ status: "error", response: { reason: "invalid", errors } });
const at = (lastReadId: number) => ({ status: "ok", response: { last_read_id: lastReadId } });

/** A room with three posts (the witness's), and a subject who has read up to post 2. */
async function roomWithPosts(prefix: string) {
  const witnessed = await witnessedRoom(freshRoom(prefix), open);
  const { room, topic, stillServes } = witnessed;
  for (let n = 0; n < 3; n++) await stillServes();
  const { socket, joinRef } = await joinedSubject(room, open);
  expect(await send(socket, joinRef, topic, "mark_unread", { from_id: 3 })).toEqual(at(2));
  /** The subject's position is still 2 (a mark_read of 0 moves nothing and answers it). */
  const unchanged = async () => expect(await send(socket, joinRef, topic, "mark_read", { up_to_id: 0 })).toEqual(at(2));
  return { room, topic, stillServes, socket, joinRef, unchanged };
}

describe("mark_read and mark_unread", () => {
  it("up_to_id beyond the last post: invalid, saying the room's last seq; from_id likewise", async () => {
    const { topic, stillServes, socket, joinRef, unchanged } = await roomWithPosts("beyond");
    expect(await send(socket, joinRef, topic, "mark_read", { up_to_id: 4 })).toEqual(
      invalid({ up_to_id: "must be at most 3, the room's last seq" }),
    );
    expect(await send(socket, joinRef, topic, "mark_unread", { from_id: 1_000_000 })).toEqual(
      invalid({ from_id: "must be at most 3, the room's last seq" }),
    );
    await unchanged();
    await stillServes([socket]);
  });

  it("up_to_id negative or not a number: invalid, must be a non-negative integer", async () => {
    const { topic, stillServes, socket, joinRef, unchanged } = await roomWithPosts("up_to_bad");
    for (const up_to_id of [-1, "3", 1.5, null, true, [2], undefined]) {
      expect(await send(socket, joinRef, topic, "mark_read", { up_to_id }), JSON.stringify(up_to_id)).toEqual(
        invalid({ up_to_id: "must be a non-negative integer" }),
      );
    }
    await unchanged();
    await stillServes([socket]);
  });

  it("from_id zero, negative or not a number: invalid, must be a positive integer", async () => {
    const { topic, stillServes, socket, joinRef, unchanged } = await roomWithPosts("from_bad");
    for (const from_id of [0, -1, "3", 2.5, null, {}, undefined]) {
      expect(await send(socket, joinRef, topic, "mark_unread", { from_id }), JSON.stringify(from_id)).toEqual(
        invalid({ from_id: "must be a positive integer" }),
      );
    }
    await unchanged();
    await stillServes([socket]);
  });

  it("a binary push: invalid, must be sent as JSON; the socket stays joined", async () => {
    const { topic, stillServes, socket, joinRef, unchanged } = await roomWithPosts("binary_mark");
    socket.sendRaw(binaryPush(joinRef, "bin-read", topic, "mark_read", new TextEncoder().encode('{"up_to_id":3}')));
    socket.sendRaw(binaryPush(joinRef, "bin-unread", topic, "mark_unread", new TextEncoder().encode('{"from_id":1}')));
    const reply = (ref: string) => socket.waitFor((f: Frame) => f[1] === ref && f[3] === "phx_reply");
    expect((await reply("bin-read"))[4]).toEqual(invalid({ up_to_id: "must be sent as JSON, not binary" }));
    expect((await reply("bin-unread"))[4]).toEqual(invalid({ from_id: "must be sent as JSON, not binary" }));
    await unchanged();
    await stillServes([socket]);
  });
});
