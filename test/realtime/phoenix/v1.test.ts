/**
 * The V1 serializer (phoenix/v1.ts): `{topic, event, payload, ref, join_ref?}` objects, in text and binary
 * frames, read as Phoenix's `Message.from_map!` reads them; the server's frames written as Phoenix's V1
 * serializer writes them, `{topic, event, payload, ref}` without a join_ref.
 */
import { describe, expect, it } from "vitest";
import type { Ref } from "../../../src/realtime/phoenix/protocol";
import { v1Json } from "../../../src/realtime/phoenix/v1";

const decode = (raw: string | ArrayBuffer) => v1Json.decode(raw);
const SHAPE = "a V1 frame is a JSON object {topic, event, payload, ref, join_ref?}";

describe("V1 JSON serializer: decode", () => {
  it("decodes a V1 client's frame, with no join_ref (null)", () => {
    expect(decode('{"topic":"room:lobby","event":"phx_join","payload":{"last_seen_id":4},"ref":"1"}')).toEqual({
      kind: "message",
      message: { joinRef: null, ref: "1", topic: "room:lobby", event: "phx_join", payload: { last_seen_id: 4 } },
    });
  });

  it("reads a join_ref when there is one, and keys in any order, extra keys ignored", () => {
    expect(decode('{"ref":2,"join_ref":1,"payload":{},"event":"new_post","topic":"room:x","extra":[1]}')).toEqual({
      kind: "message",
      message: { joinRef: 1, ref: 2, topic: "room:x", event: "new_post", payload: {} },
    });
  });

  it("reads a binary frame as JSON text, as Phoenix's V1 decoder does", () => {
    const bytes = new TextEncoder().encode('{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"é"}');
    expect(decode(bytes.slice().buffer)).toEqual({
      kind: "message",
      message: { joinRef: null, ref: "é", topic: "phoenix", event: "heartbeat", payload: {} },
    });
    expect(decode(new Uint8Array([0x7b, 0xff, 0x7d]).buffer)).toEqual({
      kind: "undecodable",
      detail: "binary frame is not UTF-8 text: V1 reads it as JSON",
    });
  });

  it.each([
    ["numbers", 3, 7],
    ["objects and arrays", { n: 1 }, [1, "a"]],
    ["booleans", false, true],
  ])("reads refs that are %s as they came", (_, joinRef, ref) => {
    const frame = JSON.stringify({ topic: "room:x", event: "new_post", payload: {}, ref, join_ref: joinRef });
    expect(decode(frame)).toMatchObject({ kind: "message", message: { joinRef, ref } });
  });

  it.each([
    ["not JSON", "{oops", "frame is not valid JSON"],
    ["a JSON array (a V2 frame)", '[null,"1","room:x","new_post",{}]', `frame must be a JSON object: ${SHAPE}`],
    ["null", "null", `frame must be a JSON object: ${SHAPE}`],
    ["a string", '"phx_join"', `frame must be a JSON object: ${SHAPE}`],
    ["no topic", '{"event":"new_post","payload":{},"ref":"1"}', `frame has no "topic": ${SHAPE}`],
    ["no event", '{"topic":"room:x","payload":{},"ref":"1"}', `frame has no "event": ${SHAPE}`],
    ["no payload", '{"topic":"room:x","event":"new_post","ref":"1"}', `frame has no "payload": ${SHAPE}`],
    [
      "no ref (null is a ref: none)",
      '{"topic":"room:x","event":"new_post","payload":{}}',
      `frame has no "ref": ${SHAPE}`,
    ],
    [
      "bad types and a null ref",
      '{"topic":"room:x","event":"new_post","payload":"hi","ref":null}',
      "payload must be a JSON object",
    ],
  ])("cannot decode %s: the socket will be closed", (_, raw, detail) => {
    expect(decode(raw)).toEqual({ kind: "undecodable", detail });
  });

  it.each([
    ["topic is a number", { topic: 3 }, "topic must be a non-empty string", "phoenix"],
    ["event is empty", { event: "" }, "event must be a non-empty string", "room:x"],
    ["payload is an array", { payload: [] }, "payload must be a JSON object", "room:x"],
    ["join_ref is too long", { join_ref: "j".repeat(256) }, "join_ref must be at most 255 characters", "room:x"],
  ])("answers a frame with a ref whose %s", (_, fields, detail, topic) => {
    const frame = { topic: "room:x", event: "new_post", payload: {}, ref: 5, ...fields };
    expect(decode(JSON.stringify(frame))).toEqual({
      kind: "invalid",
      joinRef: "join_ref" in fields ? fields.join_ref : null,
      ref: 5,
      topic,
      detail,
    });
  });
});

describe("V1 JSON serializer: encode", () => {
  it("writes {topic, event, payload, ref}: a reply carries the client's ref as it came, never a join_ref", () => {
    const cases: Array<[Ref, Ref]> = [
      ["1", "3"],
      [null, 7],
      [4, { r: [1] }],
    ];
    for (const [joinRef, ref] of cases) {
      expect(JSON.parse(v1Json.reply(joinRef, ref, "room:x", { status: "ok", response: { a: 1 } }))).toEqual({
        topic: "room:x",
        event: "phx_reply",
        payload: { status: "ok", response: { a: 1 } },
        ref,
      });
    }
    expect(v1Json.reply("1", 3, "room:x", { status: "ok", responseJson: '{"posts":[]}' })).toBe(
      '{"topic":"room:x","event":"phx_reply","payload":{"status":"ok","response":{"posts":[]}},"ref":3}',
    );
  });

  it('writes a broadcast and a push with "ref": null (the same frame: V1 has no join_ref), a close with the join ref', () => {
    const broadcast = v1Json.broadcast("room:x", "new_post", '{"id":1}');
    expect(broadcast).toBe('{"topic":"room:x","event":"new_post","payload":{"id":1},"ref":null}');
    expect(v1Json.push("9", "room:x", "new_post", '{"id":1}')).toBe(broadcast);
    expect(JSON.parse(v1Json.close("4", "room:x"))).toEqual({
      topic: "room:x",
      event: "phx_close",
      payload: {},
      ref: "4",
    });
  });

  it("tells a frame it wrote without a ref without parsing it, whatever the ref that is not null", () => {
    expect(v1Json.withoutRef(v1Json.broadcast("room:x", "new_post", '{"ref":null}'))).toBe(true);
    expect(v1Json.withoutRef(v1Json.push(5, "room:x", "phx_close", "{}"))).toBe(true);
    const refs: Ref[] = ["3", 3, "null}", { ref: null }, [null], ',"ref":null}', false];
    for (const ref of refs) {
      expect(v1Json.withoutRef(v1Json.reply(null, ref, "room:x", { status: "ok", response: {} }))).toBe(false);
    }
    expect(v1Json.withoutRef(v1Json.close(null, "room:x"))).toBe(true);
  });
});
