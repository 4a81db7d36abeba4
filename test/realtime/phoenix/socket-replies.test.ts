/**
 * The answers Phoenix.Socket gives before any channel is involved (phoenix/socket-replies.ts), read back
 * off the wire: each frame a sink is handed is decoded as a client would decode it, in the sink's
 * serializer (V2 unless a test says V1).
 */
import { describe, expect, it } from "vitest";
import { error, type Message, ok } from "../../../src/realtime/phoenix/protocol";
import type { InvalidFrame, Serializer } from "../../../src/realtime/phoenix/serializer";
import {
  answerHeartbeat,
  answerMalformed,
  answerUnmatchedTopic,
  type FrameSink,
  replyTo,
} from "../../../src/realtime/phoenix/socket-replies";
import { v1Json } from "../../../src/realtime/phoenix/v1";
import { v2Json } from "../../../src/realtime/phoenix/v2";

/** A sink that keeps what it is sent, parsed: `[join_ref, ref, topic, event, payload]` in V2. */
function recordingSink<Parsed = unknown[]>(serializer: Serializer = v2Json): FrameSink & { frames: Parsed[] } {
  const frames: Parsed[] = [];
  return {
    serializer,
    frames,
    send(frame) {
      frames.push(JSON.parse(frame) as Parsed);
    },
  };
}

function message(fields: Partial<Message>): Message {
  return { joinRef: null, ref: null, topic: "room:lobby", event: "new_post", payload: {}, ...fields };
}

function invalid(text: string): InvalidFrame {
  const decoded = v2Json.decode(text);
  if (decoded.kind !== "invalid") throw new Error(`expected an invalid frame, got ${JSON.stringify(decoded)}`);
  return decoded;
}

describe("replyTo", () => {
  it("sends nothing to a message without a ref (Phoenix's ref nil asks for no reply)", () => {
    const sink = recordingSink();
    replyTo(sink, message({ joinRef: "1", ref: null }), ok({ id: 1 }));
    replyTo(sink, message({ joinRef: null, ref: null }), error("nope"), "7");
    expect(sink.frames).toEqual([]);
  });

  it("answers with the message's refs and topic, or the join_ref it is given", () => {
    const sink = recordingSink();
    replyTo(sink, message({ joinRef: "3", ref: "9", topic: "room:a" }), ok({ id: 12 }));
    replyTo(sink, message({ joinRef: null, ref: "10", topic: "room:b" }), error("invalid", { errors: {} }));
    replyTo(sink, message({ joinRef: "3", ref: "11", topic: "room:a" }), ok(), null);
    replyTo(sink, message({ joinRef: null, ref: "12", topic: "room:a" }), ok(), "5");
    expect(sink.frames).toEqual([
      ["3", "9", "room:a", "phx_reply", { status: "ok", response: { id: 12 } }],
      [null, "10", "room:b", "phx_reply", { status: "error", response: { errors: {}, reason: "invalid" } }],
      [null, "11", "room:a", "phx_reply", { status: "ok", response: {} }],
      ["5", "12", "room:a", "phx_reply", { status: "ok", response: {} }],
    ]);
  });
});

describe("answerHeartbeat", () => {
  it("answers a heartbeat on topic phoenix with ok at once, joined or not, and says it was one", () => {
    const sink = recordingSink();
    expect(answerHeartbeat(sink, message({ topic: "phoenix", event: "heartbeat", ref: "4" }))).toBe(true);
    expect(answerHeartbeat(sink, message({ topic: "phoenix", event: "heartbeat", ref: "5", joinRef: "2" }))).toBe(true);
    expect(sink.frames).toEqual([
      [null, "4", "phoenix", "phx_reply", { status: "ok", response: {} }],
      ["2", "5", "phoenix", "phx_reply", { status: "ok", response: {} }],
    ]);
  });

  it("recognises a heartbeat without a ref, and sends it nothing", () => {
    const sink = recordingSink();
    expect(answerHeartbeat(sink, message({ topic: "phoenix", event: "heartbeat", ref: null }))).toBe(true);
    expect(sink.frames).toEqual([]);
  });

  it("leaves alone a heartbeat event on any other topic, and any other event on topic phoenix", () => {
    const sink = recordingSink();
    for (const topic of ["room:lobby", "Phoenix", "phoenix:x", ""]) {
      expect(answerHeartbeat(sink, message({ topic, event: "heartbeat", ref: "1" }))).toBe(false);
    }
    for (const event of ["phx_join", "Heartbeat", "new_post"]) {
      expect(answerHeartbeat(sink, message({ topic: "phoenix", event, ref: "1" }))).toBe(false);
    }
    expect(sink.frames).toEqual([]);
  });
});

describe("answerMalformed", () => {
  it("answers an error naming what is wrong, to the frame's refs and topic", () => {
    const sink = recordingSink();
    const frame = invalid('["2","8","room:lobby",42,{}]');
    answerMalformed(sink, frame);
    expect(sink.frames).toEqual([
      [
        "2",
        "8",
        "room:lobby",
        "phx_reply",
        { status: "error", response: { reason: "malformed frame", detail: frame.detail } },
      ],
    ]);
    expect(frame.detail).toBe("event must be a non-empty string");
  });

  it("keeps a null join_ref, a numeric one, and a topic the decoder had to replace, as the decoder read them", () => {
    const sink = recordingSink();
    const noJoinRef = invalid('[null,"3","room:lobby","new_post",[]]');
    const badJoinRefAndTopic = invalid('[7,"4",null,"new_post",{}]');
    answerMalformed(sink, noJoinRef);
    answerMalformed(sink, badJoinRefAndTopic);
    expect(sink.frames).toEqual([
      [
        null,
        "3",
        "room:lobby",
        "phx_reply",
        { status: "error", response: { reason: "malformed frame", detail: noJoinRef.detail } },
      ],
      [
        badJoinRefAndTopic.joinRef,
        "4",
        badJoinRefAndTopic.topic,
        "phx_reply",
        { status: "error", response: { reason: "malformed frame", detail: badJoinRefAndTopic.detail } },
      ],
    ]);
    expect(badJoinRefAndTopic.joinRef).toBe(7);
    expect(badJoinRefAndTopic.topic).toBe("phoenix");
  });
});

describe("the answers in V1", () => {
  it("are objects {topic, event, payload, ref} with the client's ref as it came, and no join_ref", () => {
    const sink = recordingSink<Record<string, unknown>>(v1Json);
    answerHeartbeat(sink, message({ topic: "phoenix", event: "heartbeat", ref: 41 }));
    replyTo(sink, message({ joinRef: 3, ref: { n: [1, "x"] }, topic: "room:a" }), ok({ id: 12 }));
    answerUnmatchedTopic(sink, message({ joinRef: "6", ref: "7", topic: "room:elsewhere" }));
    expect(sink.frames).toEqual([
      { topic: "phoenix", event: "phx_reply", payload: { status: "ok", response: {} }, ref: 41 },
      { topic: "room:a", event: "phx_reply", payload: { status: "ok", response: { id: 12 } }, ref: { n: [1, "x"] } },
      {
        topic: "room:elsewhere",
        event: "phx_reply",
        payload: { status: "error", response: { reason: "unmatched topic" } },
        ref: "7",
      },
    ]);
  });
});

describe("answerUnmatchedTopic", () => {
  it("answers unmatched topic with no join_ref, even when the message carried one, as Phoenix does", () => {
    const sink = recordingSink();
    answerUnmatchedTopic(sink, message({ joinRef: "6", ref: "7", topic: "room:elsewhere" }));
    answerUnmatchedTopic(sink, { joinRef: null, ref: "8", topic: "nowhere" });
    expect(sink.frames).toEqual([
      [null, "7", "room:elsewhere", "phx_reply", { status: "error", response: { reason: "unmatched topic" } }],
      [null, "8", "nowhere", "phx_reply", { status: "error", response: { reason: "unmatched topic" } }],
    ]);
  });

  it("sends nothing to a message without a ref", () => {
    const sink = recordingSink();
    answerUnmatchedTopic(sink, message({ joinRef: "6", ref: null, topic: "room:elsewhere" }));
    expect(sink.frames).toEqual([]);
  });
});
