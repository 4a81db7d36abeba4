/**
 * The V2 serializer (phoenix/v2.ts): `[join_ref, ref, topic, event, payload]` text frames and V2 binary
 * pushes, decoded strictly; refs of any JSON type read and written back as they came.
 */
import { describe, expect, it } from "vitest";
import type { Ref } from "../../../src/realtime/phoenix/protocol";
import { v2Json } from "../../../src/realtime/phoenix/v2";
import { binaryPush } from "../../bad-input/frames";

const decode = (raw: string | ArrayBuffer) => v2Json.decode(raw);

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
    ["numbers", "[3,7,", 3, 7],
    ["objects and arrays", '[{"n":1},[1,"a"],', { n: 1 }, [1, "a"]],
    ["booleans", "[false,true,", false, true],
    ["a float and a negative number", "[1.5,-2,", 1.5, -2],
  ])("reads refs that are %s as they came (Phoenix reads any JSON term)", (_, head, joinRef, ref) => {
    expect(decode(`${head}"room:x","new_post",{}]`)).toEqual({
      kind: "message",
      message: { joinRef, ref, topic: "room:x", event: "new_post", payload: {} },
    });
  });

  it.each([
    ["not JSON", "{oops", "frame is not valid JSON"],
    [
      "a JSON object (a V1 frame)",
      '{"topic":"room:x"}',
      "frame must be a JSON array [join_ref, ref, topic, event, payload]",
    ],
    ["a 4-array", '[null,"1","room:x","new_post"]', "frame must be a JSON array"],
    ["a 6-array", '[null,"1","room:x","new_post",{},1]', "frame must be a JSON array"],
    ["bad types and no ref", '[null,null,"room:x","new_post","text"]', "payload must be a JSON object"],
  ])("cannot decode %s: the socket will be closed", (_, raw, detail) => {
    expect(decode(raw)).toEqual({ kind: "undecodable", detail: expect.stringContaining(detail) });
  });

  it("refuses binary frames that are not V2 pushes, and decodes those that are", () => {
    expect(decode(new Uint8Array([0, 1, 2]).buffer)).toMatchObject({ kind: "undecodable" });
    const push = decode(binaryPush("1", "", "room:x", "new_post", new Uint8Array([9])));
    expect(push).toMatchObject({ kind: "message", message: { joinRef: "1", ref: null, topic: "room:x" } });
  });

  it.each([
    ["topic is a number", '[null,"1",42,"new_post",{}]', "topic must be a non-empty string", null, "phoenix"],
    ["topic is empty", '[null,"1","","new_post",{}]', "topic must be a non-empty string", null, ""],
    ["event is null", '[null,"1","room:x",null,{}]', "event must be a non-empty string", null, "room:x"],
    ["payload is a string", '[5,"1","room:x","new_post","hi"]', "payload must be a JSON object", 5, "room:x"],
    ["payload is an array", '[null,"1","room:x","new_post",[]]', "payload must be a JSON object", null, "room:x"],
    ["payload is null", '[null,"1","room:x","new_post",null]', "payload must be a JSON object", null, "room:x"],
    [
      "join_ref is too long",
      `["${"j".repeat(256)}","1","room:x","new_post",{}]`,
      "join_ref must be at most 255 characters",
      "j".repeat(256),
      "room:x",
    ],
  ])("answers a frame with a ref whose %s", (_, raw, detail, joinRef, topic) => {
    expect(decode(raw)).toEqual({ kind: "invalid", joinRef, ref: "1", topic, detail });
  });

  it("bounds a ref that is not a string by its JSON: 255 characters", () => {
    const fits = `[${"1".repeat(255)}]`.slice(1, -1);
    expect(decode(`[null,${fits},"room:x","new_post",{}]`)).toMatchObject({ kind: "message" });
    expect(decode(`[null,[${"1,".repeat(127)}1],"room:x","new_post",{}]`)).toMatchObject({
      kind: "invalid",
      detail: "ref must be at most 255 characters of JSON",
    });
  });
});

describe("V2 JSON serializer: encode", () => {
  it("encodes a reply whose response is already JSON exactly as the same reply from an object", () => {
    const response = { posts: [{ id: 1, message: 'a "quote" \\ and \u2028' }], has_more: false };
    const cases: Array<[Ref, Ref, string]> = [
      ["1", "3", "room:x"],
      [null, "7", 'room:"odd"'],
      [4, { r: [1] }, "room:x"],
    ];
    for (const [joinRef, ref, topic] of cases) {
      expect(v2Json.reply(joinRef, ref, topic, { status: "ok", responseJson: JSON.stringify(response) })).toBe(
        v2Json.reply(joinRef, ref, topic, { status: "ok", response }),
      );
    }
  });

  it("encodes replies, broadcasts, pushes and closes as phoenix.js expects, refs as they came", () => {
    expect(JSON.parse(v2Json.reply("1", "3", "room:x", { status: "ok", response: { a: 1 } }))).toEqual([
      "1",
      "3",
      "room:x",
      "phx_reply",
      { status: "ok", response: { a: 1 } },
    ]);
    expect(v2Json.reply(2, 9, "room:x", { status: "ok", response: {} })).toBe(
      '[2,9,"room:x","phx_reply",{"status":"ok","response":{}}]',
    );
    expect(v2Json.broadcast("room:x", "new_post", '{"id":1}')).toBe('[null,null,"room:x","new_post",{"id":1}]');
    expect(v2Json.push(7, "room:x", "presence_state", "{}")).toBe('[7,null,"room:x","presence_state",{}]');
    expect(JSON.parse(v2Json.close("4", "room:x"))).toEqual(["4", "4", "room:x", "phx_close", {}]);
  });

  it("tells a frame it wrote without a ref (a broadcast, a push) without parsing it; a reply is read", () => {
    expect(v2Json.withoutRef(v2Json.broadcast("room:x", "new_post", "{}"))).toBe(true);
    expect(v2Json.withoutRef(v2Json.push('we"ird\\', "room:x", "phx_close", "{}"))).toBe(true);
    expect(v2Json.withoutRef(v2Json.reply(null, "3", "room:x", { status: "ok", response: {} }))).toBe(false);
    expect(v2Json.withoutRef(v2Json.close("null", "room:x"))).toBe(false);
    // A push with a join_ref that is not a string is read to be sure: not told without a ref.
    expect(v2Json.withoutRef(v2Json.push(5, "room:x", "new_post", "{}"))).toBe(false);
  });
});
