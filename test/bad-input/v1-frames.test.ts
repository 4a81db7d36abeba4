/**
 * docs/bad-input.md, "Socket frames" on a V1 socket (no vsn, or `vsn=1.0.0`): what the room answers to a
 * V1 frame a client should never send, over real sockets to the real Room. Each test is one row of the
 * table (its name starts with the row's case) and ends with a witness: a V2 member's post made after the
 * bad input still reaches the room. Answers to a V1 socket are V1 objects `{topic, event, payload, ref}`.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Ref } from "../../src/realtime/phoenix/protocol";
import { closeAll, connect, connectAndJoin, type Frame, type TestSocket } from "../helpers/socket";
import { freshRoom, freshUser, storedMessages, witnessedRoom } from "./witness";

const open: TestSocket[] = [];
afterEach(() => closeAll(open));

const SHAPE = "a V1 frame is a JSON object {topic, event, payload, ref, join_ref?}";

/** A V1 member who will send the bad input: connected without a vsn, joined with a ref alone. */
async function v1Subject(room: string): Promise<TestSocket> {
  const { socket } = await connectAndJoin(await freshUser("v1_subject"), room, {}, { vsn: null });
  open.push(socket);
  return socket;
}

/**
 * The V1 error reply `{topic, event: "phx_reply", payload: {status, response}, ref}` as the test socket
 * reads it (`[null, ref, …]`: it takes only objects with exactly Phoenix's four V1 keys).
 */
function v1Error(topic: string, ref: Ref, response: Record<string, unknown>): Frame {
  return [null, ref, topic, "phx_reply", { status: "error", response }];
}

describe("V1 frames that close the sender's socket", () => {
  it.each([
    ["a V2 frame: a client that left out vsn", (topic: string) => `[null,"1","${topic}","new_post",{}]`],
    ["a number", () => "42"],
    ["null", () => "null"],
  ])("V1: JSON that is not an object (%s): closes that socket with 1007", async (_, build) => {
    const { room, topic, stillServes } = await witnessedRoom(freshRoom("v1_notobj"), open);
    const socket = await v1Subject(room);
    socket.sendRaw(build(topic));
    expect(await socket.closed).toEqual({ code: 1007, reason: `frame must be a JSON object: ${SHAPE}` });
    await stillServes();
  });

  it("V1: a frame without one of its keys: closes that socket with 1007 naming the first one missing", async () => {
    const { room, topic, stillServes } = await witnessedRoom(freshRoom("v1_nokey"), open);
    const noRef = await v1Subject(room);
    noRef.sendRaw(JSON.stringify({ topic, event: "new_post", payload: { message: "no ref key" } }));
    expect(await noRef.closed).toEqual({ code: 1007, reason: `frame has no "ref": ${SHAPE}` });
    const noTopic = await v1Subject(room);
    noTopic.sendRaw(JSON.stringify({ event: "new_post", payload: {}, ref: "1" }));
    expect(await noTopic.closed).toEqual({ code: 1007, reason: `frame has no "topic": ${SHAPE}` });
    expect(await storedMessages(room)).toEqual([]);
    await stillServes();
  });

  it("V1: wrong field types with a null ref: closes that socket with 1007 naming the field", async () => {
    const { room, topic, stillServes } = await witnessedRoom(freshRoom("v1_noref"), open);
    const socket = await v1Subject(room);
    socket.sendRaw(JSON.stringify({ topic, event: "new_post", payload: "hi", ref: null }));
    expect(await socket.closed).toEqual({ code: 1007, reason: "payload must be a JSON object" });
    await stillServes();
  });

  it("V1: a binary frame that is not UTF-8: closes that socket with 1007", async () => {
    const { room, stillServes } = await witnessedRoom(freshRoom("v1_binary"), open);
    const socket = await v1Subject(room);
    socket.sendRaw(new Uint8Array([0x7b, 0xff, 0x7d]).buffer);
    expect(await socket.closed).toEqual({ code: 1007, reason: "binary frame is not UTF-8 text: V1 reads it as JSON" });
    await stillServes();
  });
});

describe("V1 frames answered with an error reply (the socket stays)", () => {
  it("V1: wrong field types with a ref: replies malformed frame naming the field, in V1", async () => {
    const { room, topic, stillServes } = await witnessedRoom(freshRoom("v1_types"), open);
    const socket = await v1Subject(room);
    socket.sendRaw(JSON.stringify({ topic, event: 7, payload: {}, ref: "5" }));
    expect(await socket.waitFor((f) => f[1] === "5")).toEqual(
      v1Error(topic, "5", { reason: "malformed frame", detail: "event must be a non-empty string" }),
    );
    expect(socket.garbage).toEqual([]);
    await stillServes([socket]);
  });

  it("V1: push before join: replies 'unmatched topic' in V1, storing nothing", async () => {
    const { room, topic, stillServes } = await witnessedRoom(freshRoom("v1_early"), open);
    const socket = await connect(await freshUser("v1_early"), room, { vsn: "1.0.0" });
    open.push(socket);
    socket.sendRaw(JSON.stringify({ topic, event: "new_post", payload: { message: "too soon" }, ref: 5 }));
    expect(await socket.waitFor((f) => f[1] === 5)).toEqual(v1Error(topic, 5, { reason: "unmatched topic" }));
    expect(socket.texts).toHaveLength(1);
    expect(socket.garbage).toEqual([]);
    expect(await storedMessages(room)).toEqual([]);
    await stillServes();
  });

  it("V1: a join_ref of an earlier join: replies 'stale join_ref' in V1, storing nothing", async () => {
    const { room, topic, stillServes } = await witnessedRoom(freshRoom("v1_stale"), open);
    const socket = await v1Subject(room);
    socket.sendRaw(JSON.stringify({ topic, event: "new_post", payload: { message: "late" }, ref: "6", join_ref: "0" }));
    expect(await socket.waitFor((f) => f[1] === "6")).toEqual(v1Error(topic, "6", { reason: "stale join_ref" }));
    expect(await storedMessages(room)).toEqual([]);
    await stillServes([socket]);
  });
});
