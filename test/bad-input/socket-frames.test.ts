/**
 * docs/bad-input.md, "Socket frames": what the room answers to a frame a client should never send, over
 * real sockets to the real Room. Each test is one row of the table (its name starts with the row's case)
 * and ends with a witness: another member's post made after the bad input still reaches the room.
 */
import { afterEach, describe, expect, it } from "vitest";
import { closeAll, type TestSocket } from "../helpers/socket";
import { binaryPush, utf8Bytes } from "./frames";
import { connectedSubject, errorReply, freshRoom, joinedSubject, storedMessages, witnessedRoom } from "./witness";

const open: TestSocket[] = [];
afterEach(() => closeAll(open));

const NOT_A_5_ARRAY = "frame must be a JSON array [join_ref, ref, topic, event, payload]";

describe("socket frames that close the sender's socket", () => {
  it("non-JSON frame: closes that socket with 1007 'frame is not valid JSON'", async () => {
    const { room, stillServes } = await witnessedRoom(freshRoom("nonjson"), open);
    const { socket } = await joinedSubject(room, open);
    socket.sendRaw("hello?");
    expect(await socket.closed).toEqual({ code: 1007, reason: "frame is not valid JSON" });
    await stillServes();
  });

  it.each([
    ["an object", '{"event":"new_post"}'],
    ["an empty array", "[]"],
    ["a 3-array", '["1","2","room:x"]'],
    ["a 6-array", '[null,"1","room:x","new_post",{},"extra"]'],
    ["a number", "42"],
    ["a string", '"phx_join"'],
    ["null", "null"],
  ])("JSON that is not a 5-array (%s): closes that socket with 1007", async (_, raw) => {
    const { room, stillServes } = await witnessedRoom(freshRoom("not5"), open);
    const { socket } = await joinedSubject(room, open);
    socket.sendRaw(raw);
    expect(await socket.closed).toEqual({ code: 1007, reason: NOT_A_5_ARRAY });
    await stillServes();
  });

  it("wrong element types without a ref (a string payload): closes that socket with 1007 naming the field", async () => {
    const { room, stillServes } = await witnessedRoom(freshRoom("noref_types"), open);
    const { socket } = await joinedSubject(room, open);
    socket.sendRaw(`[null,null,"room:${room}","new_post","hi"]`);
    expect(await socket.closed).toEqual({ code: 1007, reason: "payload must be a JSON object" });
    expect(await storedMessages(room)).toEqual([]);
    await stillServes();
  });

  it("oversized frame (> 64 KiB): closes that socket with 1009 'frame exceeds 65536 bytes', storing nothing", async () => {
    const { room, stillServes } = await witnessedRoom(freshRoom("oversized"), open);
    const { socket, joinRef } = await joinedSubject(room, open);
    const frame = [joinRef, "5", `room:${room}`, "new_post", { message: "hi", pad: "" }];
    const overhead = utf8Bytes(JSON.stringify(frame));
    (frame[4] as { pad: string }).pad = "p".repeat(64 * 1024 + 1 - overhead);
    const raw = JSON.stringify(frame);
    expect(utf8Bytes(raw)).toBe(64 * 1024 + 1);
    socket.sendRaw(raw);
    expect(await socket.closed).toEqual({ code: 1009, reason: "frame exceeds 65536 bytes" });
    expect(await storedMessages(room)).toEqual([]);
    await stillServes();
  });

  it("binary frame that is not a V2 push: closes that socket with 1007 naming the format", async () => {
    const { room, stillServes } = await witnessedRoom(freshRoom("binary_junk"), open);
    const { socket } = await joinedSubject(room, open);
    socket.sendRaw(new Uint8Array([1, 2, 3]).buffer);
    expect(await socket.closed).toEqual({
      code: 1007,
      reason: "binary frames must be Phoenix V2 binary pushes (kind 0)",
    });
    await stillServes();
  });
});

describe("socket frames answered with an error reply (the socket stays)", () => {
  it.each([
    ["a numeric event", (topic: string) => `[null,"5","${topic}",7,{}]`, "event must be a non-empty string"],
    ["an empty event", (topic: string) => `[null,"5","${topic}","",{}]`, "event must be a non-empty string"],
  ])("wrong element types (%s): replies malformed frame naming the field", async (_, build, detail) => {
    const { room, topic, stillServes } = await witnessedRoom(freshRoom("types"), open);
    const { socket } = await joinedSubject(room, open);
    socket.sendRaw(build(topic));
    expect(await socket.waitFor((f) => f[1] === "5")).toEqual(
      errorReply(null, "5", topic, { reason: "malformed frame", detail }),
    );
    await stillServes([socket]);
  });

  it("a ref or join_ref that is not a string: read as it came, as Phoenix reads it; a post is stored, a join_ref not the current one is stale", async () => {
    const { room, topic, stillServes } = await witnessedRoom(freshRoom("any_refs"), open);
    const { socket } = await joinedSubject(room, open);
    socket.sendRaw(`[null,5,"${topic}","new_post",{"message":"numbered"}]`);
    expect((await socket.waitFor((f) => f[1] === 5))[4]).toMatchObject({ status: "ok" });
    socket.sendRaw(`[null,{"n":[1]},"${topic}","typing",{}]`);
    expect(await socket.waitFor((f) => JSON.stringify(f[1]) === '{"n":[1]}')).toEqual([
      null,
      { n: [1] },
      topic,
      "phx_reply",
      { status: "ok", response: {} },
    ]);
    socket.sendRaw(`[true,"7","${topic}","new_post",{"message":"not this join"}]`);
    expect(await socket.waitFor((f) => f[1] === "7")).toEqual(
      errorReply(true, "7", topic, { reason: "stale join_ref" }),
    );
    expect(await storedMessages(room)).toEqual(["numbered"]);
    await stillServes([socket]);
  });

  it("wrong element types (an empty topic): replies malformed frame on the empty topic", async () => {
    const { room, stillServes } = await witnessedRoom(freshRoom("empty_topic"), open);
    const { socket } = await joinedSubject(room, open);
    socket.sendRaw('["1","5","","new_post",{}]');
    expect(await socket.waitFor((f) => f[1] === "5")).toEqual(
      errorReply("1", "5", "", { reason: "malformed frame", detail: "topic must be a non-empty string" }),
    );
    await stillServes([socket]);
  });

  it.each([
    ["an array", "[]"],
    ["null", "null"],
    ["a number", "42"],
  ])("payload not an object (%s): replies malformed frame 'payload must be a JSON object'", async (_, payload) => {
    const { room, topic, stillServes } = await witnessedRoom(freshRoom("payload"), open);
    const { socket, joinRef } = await joinedSubject(room, open);
    socket.sendRaw(`["${joinRef}","5","${topic}","new_post",${payload}]`);
    expect(await socket.waitFor((f) => f[1] === "5")).toEqual(
      errorReply(joinRef, "5", topic, { reason: "malformed frame", detail: "payload must be a JSON object" }),
    );
    expect(await storedMessages(room)).toEqual([]);
    await stillServes([socket]);
  });

  it("unknown event: replies 'unknown event' naming it when joined, 'unmatched topic' before a join", async () => {
    const { room, topic, stillServes } = await witnessedRoom(freshRoom("unknown"), open);
    const { socket, joinRef } = await joinedSubject(room, open);
    socket.send([joinRef, "5", topic, "delete_everything", {}]);
    expect(await socket.waitFor((f) => f[1] === "5")).toEqual(
      errorReply(joinRef, "5", topic, { reason: "unknown event", event: "delete_everything" }),
    );
    // On the socket-level topic, only heartbeat is an event: anything else there is not this room's.
    socket.send([null, "6", "phoenix", "delete_everything", {}]);
    expect(await socket.waitFor((f) => f[1] === "6")).toEqual(
      errorReply(null, "6", "phoenix", { reason: "unmatched topic" }),
    );
    const early = await connectedSubject(room, open);
    early.send([null, "7", topic, "delete_everything", {}]);
    expect(await early.waitFor((f) => f[1] === "7")).toEqual(
      errorReply(null, "7", topic, { reason: "unmatched topic" }),
    );
    await stillServes([socket]);
  });

  it("push before join: replies 'unmatched topic' with a null join_ref, storing nothing", async () => {
    const { room, topic, stillServes } = await witnessedRoom(freshRoom("early"), open);
    const socket = await connectedSubject(room, open);
    socket.send([null, "5", topic, "new_post", { message: "too soon" }]);
    expect(await socket.waitFor((f) => f[1] === "5")).toEqual(
      errorReply(null, "5", topic, { reason: "unmatched topic" }),
    );
    expect(await storedMessages(room)).toEqual([]);
    await stillServes();
    // Still usable: it can join its own room afterwards.
    expect((await socket.join(room)).status).toBe("ok");
  });

  it("join of another room's topic: replies 'unmatched topic'; the socket can still join its own", async () => {
    const { room, stillServes } = await witnessedRoom(freshRoom("bound"), open);
    const other = await witnessedRoom(freshRoom("elsewhere"), open);
    const socket = await connectedSubject(room, open);
    socket.send(["5", "5", other.topic, "phx_join", {}]);
    expect(await socket.waitFor((f) => f[1] === "5")).toEqual(
      errorReply(null, "5", other.topic, { reason: "unmatched topic" }),
    );
    socket.send(["6", "6", other.topic, "new_post", { message: "sneaking in" }]);
    expect(await socket.waitFor((f) => f[1] === "6")).toEqual(
      errorReply(null, "6", other.topic, { reason: "unmatched topic" }),
    );
    expect(await storedMessages(other.room)).toEqual([]);
    expect((await socket.join(room)).status).toBe("ok");
    await stillServes([socket]);
    await other.stillServes();
  });

  it("binary frame that is a V2 push: new_post answers invalid (message must be text), phx_join invalid (params)", async () => {
    const { room, topic, stillServes } = await witnessedRoom(freshRoom("binary_push"), open);
    const { socket, joinRef } = await joinedSubject(room, open);
    socket.sendRaw(binaryPush(joinRef, "5", topic, "new_post", new TextEncoder().encode('{"message":"hi"}')));
    expect(await socket.waitFor((f) => f[1] === "5")).toEqual(
      errorReply(joinRef, "5", topic, { reason: "invalid", errors: { message: "must be text, not binary" } }),
    );
    expect(await storedMessages(room)).toEqual([]);
    await stillServes([socket]);

    // A join ends the socket's current join first (Phoenix's rule for a second join), so a refused rejoin
    // leaves the socket connected but not joined: phx_close for the old join, then the error.
    socket.sendRaw(binaryPush("9", "9", topic, "phx_join", new Uint8Array([123, 125])));
    expect(await socket.waitFor((f) => f[1] === "9")).toEqual(
      errorReply("9", "9", topic, { reason: "invalid", errors: { params: "must be a JSON object, not binary" } }),
    );
    expect(socket.frames).toContainEqual([joinRef, joinRef, topic, "phx_close", {}]);
    await stillServes();
    await socket.barrier();
    expect(socket.received("new_post")).toHaveLength(1);
  });
});
