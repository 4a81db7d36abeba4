/**
 * What both serializers share (phoenix/serializer.ts): one socket's intake, `readFrame` (the transport's
 * limit, then the socket's own serializer), and the same frame model whichever encoding carried it.
 */
import { describe, expect, it } from "vitest";
import { readFrame } from "../../../src/realtime/phoenix/serializer";
import { v1Json } from "../../../src/realtime/phoenix/v1";
import { v2Json } from "../../../src/realtime/phoenix/v2";

const v2Frame = '[null,5,"room:x","new_post",{"message":"hi"}]';
const v1Frame = '{"topic":"room:x","event":"new_post","payload":{"message":"hi"},"ref":5}';

describe("readFrame", () => {
  it("reads the same message from a V2 frame on a V2 socket and a V1 frame on a V1 socket", () => {
    const message = { joinRef: null, ref: 5, topic: "room:x", event: "new_post", payload: { message: "hi" } };
    expect(readFrame(v2Frame, v2Json)).toEqual({ kind: "message", message });
    expect(readFrame(v1Frame, v1Json)).toEqual({ kind: "message", message });
  });

  it("closes with 1007 a frame of the other serializer: a socket speaks the one its vsn chose", () => {
    expect(readFrame(v1Frame, v2Json)).toMatchObject({ kind: "close", code: 1007 });
    expect(readFrame(v2Frame, v1Json)).toMatchObject({ kind: "close", code: 1007 });
  });

  it("closes with 1009 a frame over 64 KiB before decoding it, in either serializer", () => {
    const big = `{"topic":"room:x","event":"new_post","payload":{"message":"${"x".repeat(65_536)}"},"ref":1}`;
    expect(readFrame(big, v1Json)).toEqual({ kind: "close", code: 1009, reason: "frame exceeds 65536 bytes" });
    expect(readFrame(new TextEncoder().encode(big).slice().buffer, v1Json)).toMatchObject({
      kind: "close",
      code: 1009,
    });
  });

  it("answers what has a ref and a wrong field, whatever the ref's type", () => {
    expect(readFrame('[null,{"a":1},"room:x","new_post",[]]', v2Json)).toEqual({
      kind: "invalid",
      joinRef: null,
      ref: { a: 1 },
      topic: "room:x",
      detail: "payload must be a JSON object",
    });
  });
});
