import { describe, expect, it } from "vitest";
import { decode, encodeBroadcast, encodeClose, encodeReply } from "../../../src/realtime/phoenix/serializer";

describe("V2 JSON serializer: decode", () => {
  it("decodes a phoenix.js frame", () => {
    expect(decode('["1","2","room:lobby","phx_join",{"mentions_only":true}]')).toEqual({
      kind: "message",
      message: { joinRef: "1", ref: "2", topic: "room:lobby", event: "phx_join", payload: { mentions_only: true } },
    });
  });

  it("accepts null join_ref and null ref (a push that wants no reply)", () => {
    expect(decode('[null,null,"room:lobby","new_post",{}]')).toMatchObject({ kind: "message" });
  });

  it.each([
    ["not JSON", "{oops", "frame is not valid JSON"],
    ["a JSON object", '{"topic":"room:x"}', "frame must be a JSON array [join_ref, ref, topic, event, payload]"],
    ["a 4-array", '[null,"1","room:x","new_post"]', "frame must be a JSON array"],
    ["a 6-array", '[null,"1","room:x","new_post",{},1]', "frame must be a JSON array"],
    ["bad types and no ref", '[null,null,"room:x","new_post","text"]', "payload must be a JSON object"],
    ["a numeric ref", '[null,7,"room:x","new_post",{}]', "ref must be a string or null"],
  ])("cannot decode %s: the socket will be closed", (_, raw, detail) => {
    expect(decode(raw)).toEqual({ kind: "undecodable", detail: expect.stringContaining(detail) });
  });

  it("refuses binary frames", () => {
    expect(decode(new Uint8Array([0, 1, 2]).buffer)).toMatchObject({ kind: "undecodable" });
  });

  it.each([
    ["join_ref is a number", '[5,"1","room:x","new_post",{}]', "join_ref must be a string or null", "room:x"],
    ["topic is a number", '[null,"1",42,"new_post",{}]', "topic must be a non-empty string", "phoenix"],
    ["topic is empty", '[null,"1","","new_post",{}]', "topic must be a non-empty string", ""],
    ["event is null", '[null,"1","room:x",null,{}]', "event must be a non-empty string", "room:x"],
    ["payload is a string", '[null,"1","room:x","new_post","hi"]', "payload must be a JSON object", "room:x"],
    ["payload is an array", '[null,"1","room:x","new_post",[]]', "payload must be a JSON object", "room:x"],
    ["payload is null", '[null,"1","room:x","new_post",null]', "payload must be a JSON object", "room:x"],
  ])("answers a frame with a ref whose %s", (_, raw, detail, topic) => {
    expect(decode(raw)).toEqual({ kind: "invalid", joinRef: null, ref: "1", topic, detail });
  });
});

describe("V2 JSON serializer: encode", () => {
  it("encodes a reply whose response is already JSON exactly as the same reply from an object", () => {
    const response = { posts: [{ id: 1, message: 'a "quote" \\ and \u2028' }], has_more: false };
    for (const [joinRef, ref, topic] of [
      ["1", "3", "room:x"],
      [null, "7", 'room:"odd"'],
    ] as const) {
      expect(encodeReply(joinRef, ref, topic, { status: "ok", responseJson: JSON.stringify(response) })).toBe(
        encodeReply(joinRef, ref, topic, { status: "ok", response }),
      );
    }
  });

  it("encodes replies, broadcasts and closes as phoenix.js expects", () => {
    expect(JSON.parse(encodeReply("1", "3", "room:x", { status: "ok", response: { a: 1 } }))).toEqual([
      "1",
      "3",
      "room:x",
      "phx_reply",
      { status: "ok", response: { a: 1 } },
    ]);
    expect(JSON.parse(encodeBroadcast("room:x", "new_post", { id: 1 }))).toEqual([
      null,
      null,
      "room:x",
      "new_post",
      { id: 1 },
    ]);
    expect(JSON.parse(encodeClose("4", "room:x"))).toEqual(["4", "4", "room:x", "phx_close", {}]);
  });
});
