/**
 * The upstream's ref tracking (session/join-tracker.ts): from the client frames going up and the room's
 * frames coming down, whether the topic is still joined or a reply is still owed, in either serializer (a
 * room speaks the client's to its upstream). The room's frames are built with the room's own encoders, so
 * they are exactly what a room sends.
 */
import { describe, expect, it } from "vitest";
import { error, type Message, ok, type Ref } from "../../../src/realtime/phoenix/protocol";
import { v1Json } from "../../../src/realtime/phoenix/v1";
import { v2Json } from "../../../src/realtime/phoenix/v2";
import { JoinTracker } from "../../../src/realtime/session/join-tracker";

const TOPIC = "room:lobby";

type Sent = Pick<Message, "ref" | "joinRef" | "topic" | "event">;
const join = (joinRef: Ref, ref: Ref): Sent => ({ joinRef, ref, topic: TOPIC, event: "phx_join" });
const leave = (joinRef: Ref, ref: Ref): Sent => ({ joinRef, ref, topic: TOPIC, event: "phx_leave" });
const push = (joinRef: Ref, ref: Ref): Sent => ({ joinRef, ref, topic: TOPIC, event: "new_post" });

describe.each([
  ["V2", v2Json],
  ["V1", v1Json],
])("JoinTracker, %s", (_name, serializer) => {
  /** The room's reply to the message with `ref`, its join_ref echoed as the room echoes it. */
  const okReply = (joinRef: Ref, ref: Ref) => serializer.reply(joinRef, ref, TOPIC, ok({ posts: [] }));
  const errorReply = (joinRef: Ref, ref: Ref) => serializer.reply(joinRef, ref, TOPIC, error("unauthorized"));

  /** A tracker whose client joined with `joinRef` and the room said ok. */
  function joined(joinRef: Ref = "1"): JoinTracker {
    const tracker = new JoinTracker(serializer);
    tracker.sent(join(joinRef, joinRef));
    expect(tracker.received(okReply(joinRef, joinRef))).toBe(true);
    expect(tracker.settled).toBe(false);
    return tracker;
  }

  it("starts settled: nothing joined, nothing owed", () => {
    const tracker = new JoinTracker(serializer);
    expect(tracker.settled).toBe(true);
    expect(tracker.clientJoinRef).toBeNull();
  });

  it("holds the latest join until the room answers it, ok or error (for a join crashed meanwhile)", () => {
    const tracker = new JoinTracker(serializer);
    tracker.sent(join("1", "1"));
    expect(tracker.pendingJoin).toEqual({ joinRef: "1", ref: "1", topic: TOPIC });
    tracker.received(okReply("1", "1"));
    expect(tracker.pendingJoin).toBeNull();
    tracker.sent(join("4", "4"));
    tracker.sent(push("4", "5"));
    tracker.received(okReply("4", "5"));
    expect(tracker.pendingJoin).toEqual({ joinRef: "4", ref: "4", topic: TOPIC });
    tracker.received(errorReply("4", "4"));
    expect(tracker.pendingJoin).toBeNull();
  });

  it("is not settled while a join's reply is owed; an ok reply leaves it joined", () => {
    const tracker = new JoinTracker(serializer);
    tracker.sent(join("1", "1"));
    expect(tracker.clientJoinRef).toBe("1");
    expect(tracker.settled).toBe(false);
    expect(tracker.received(okReply("1", "1"))).toBe(true);
    expect(tracker.settled).toBe(false);
    expect(tracker.clientJoinRef).toBe("1");
  });

  it("settles on an error reply to the join: the topic was never joined", () => {
    const tracker = new JoinTracker(serializer);
    tracker.sent(join("1", "1"));
    expect(tracker.received(errorReply("1", "1"))).toBe(true);
    expect(tracker.settled).toBe(true);
  });

  it("counts a join without a ref as joined at once: no reply will come to say so", () => {
    const tracker = new JoinTracker(serializer);
    tracker.sent(join("5", null));
    expect(tracker.clientJoinRef).toBe("5");
    expect(tracker.settled).toBe(false);
    // And the room's phx_close of that join ends it.
    expect(tracker.received(serializer.close("5", TOPIC))).toBe(true);
    expect(tracker.settled).toBe(true);
  });

  // The room joins `join_ref ?? ref` (router.ts) and echoes the join_ref it was sent, null, in its reply
  // (socket-replies.ts); a multiplexed socket's upstream then closes at once, as if the join had failed:
  // the client holds an ok join that receives nothing, and its next push is answered "unmatched topic".
  it("keeps a join sent with a ref but no join_ref joined after the room's ok reply", () => {
    const tracker = new JoinTracker(serializer);
    tracker.sent(join(null, "3"));
    expect(tracker.clientJoinRef).toBe("3");
    expect(tracker.received(okReply(null, "3"))).toBe(true);
    expect(tracker.settled).toBe(false);
    // The room's phx_close for it names the join_ref the room used.
    expect(tracker.received(serializer.close("3", TOPIC))).toBe(true);
    expect(tracker.settled).toBe(true);
  });

  it("settles on the room's phx_close of the confirmed join, and only of that one", () => {
    const tracker = joined("1");
    expect(tracker.received(serializer.close("0", TOPIC))).toBe(true); // an earlier join's
    expect(tracker.settled).toBe(false);
    expect(tracker.received(serializer.close("1", TOPIC))).toBe(true);
    expect(tracker.settled).toBe(true);
  });

  it("follows a leave through: ok reply first, still joined, then phx_close settles it", () => {
    const tracker = joined("1");
    tracker.sent(leave("1", "2"));
    expect(tracker.clientJoinRef).toBeNull();
    expect(tracker.settled).toBe(false);
    expect(tracker.received(okReply("1", "2"))).toBe(true);
    expect(tracker.settled).toBe(false); // the room still holds the join until its phx_close
    expect(tracker.received(serializer.close("1", TOPIC))).toBe(true);
    expect(tracker.settled).toBe(true);
  });

  it("clears clientJoinRef on a leave only for the current join (or a leave naming none)", () => {
    const tracker = joined("4");
    tracker.sent(leave("2", "5")); // an older join's leave
    expect(tracker.clientJoinRef).toBe("4");
    tracker.sent(leave(null, "6"));
    expect(tracker.clientJoinRef).toBeNull();

    const other = joined("7");
    other.sent(leave("7", "8"));
    expect(other.clientJoinRef).toBeNull();
  });

  it("follows a rejoin: the old join's phx_close does not settle while the new join's reply is owed", () => {
    const tracker = joined("1");
    tracker.sent(join("3", "3"));
    expect(tracker.clientJoinRef).toBe("3");
    // The room ends the old channel, then replies to the new join.
    expect(tracker.received(serializer.close("1", TOPIC))).toBe(true);
    expect(tracker.settled).toBe(false);
    expect(tracker.received(okReply("3", "3"))).toBe(true);
    expect(tracker.settled).toBe(false);
    expect(tracker.received(serializer.close("1", TOPIC))).toBe(true); // stale: changes nothing
    expect(tracker.settled).toBe(false);
    expect(tracker.received(serializer.close("3", TOPIC))).toBe(true);
    expect(tracker.settled).toBe(true);
  });

  it("owes a reply for every pushed ref until it comes, joined or not", () => {
    const tracker = new JoinTracker(serializer);
    tracker.sent(push(null, "9"));
    tracker.sent(push(null, "10"));
    expect(tracker.settled).toBe(false);
    expect(tracker.received(errorReply(null, "9"))).toBe(true);
    expect(tracker.settled).toBe(false);
    expect(tracker.received(errorReply(null, "10"))).toBe(true);
    expect(tracker.settled).toBe(true);

    const member = joined("1");
    member.sent(push("1", "2"));
    member.sent(leave("1", "3"));
    expect(member.received(serializer.close("1", TOPIC))).toBe(true);
    expect(member.settled).toBe(false); // two replies still owed
    expect(member.received(okReply("1", "2"))).toBe(true);
    expect(member.received(okReply("1", "3"))).toBe(true);
    expect(member.settled).toBe(true);
  });

  it("owes nothing for a push without a ref", () => {
    const tracker = new JoinTracker(serializer);
    tracker.sent(push(null, null));
    tracker.sent(leave(null, null));
    expect(tracker.settled).toBe(true);
  });

  it("does not read broadcasts and pushes (ref null): false, and nothing changes, even for a phx_close", () => {
    const tracker = joined("1");
    const unread = [
      serializer.broadcast(TOPIC, "new_post", JSON.stringify({ id: 1, message: "hi" })),
      serializer.push("1", TOPIC, "presence_state", "{}"),
      // Shaped like the join's end, but with a null ref: were it read, the join would end.
      serializer.push("1", TOPIC, "phx_close", "{}"),
      serializer.push('we"ird\\', TOPIC, "phx_close", "{}"),
    ];
    for (const frame of unread) {
      expect(tracker.received(frame)).toBe(false);
      expect(tracker.settled).toBe(false);
    }
    const binary = new TextEncoder().encode(serializer.close("1", TOPIC)).slice().buffer;
    expect(tracker.received(binary)).toBe(false);
    expect(tracker.settled).toBe(false);
  });

  it("says it read unparsable or non-array text, and changes nothing for it", () => {
    const tracker = joined("1");
    tracker.sent(push("1", "2"));
    for (const frame of ["not json", '["1","2"', '{"event":"phx_close"}', "42", '"phx_reply"']) {
      expect(tracker.received(frame)).toBe(true);
    }
    expect(tracker.settled).toBe(false);
    expect(tracker.received(okReply("1", "2"))).toBe(true);
    expect(tracker.settled).toBe(false); // still joined
  });

  it("ignores a reply to a ref it never sent, and a second reply to a join", () => {
    const tracker = new JoinTracker(serializer);
    expect(tracker.received(okReply("1", "1"))).toBe(true);
    expect(tracker.settled).toBe(true); // an unasked ok does not make it joined

    const member = joined("1");
    expect(member.received(errorReply("1", "1"))).toBe(true); // the join was answered already
    expect(member.settled).toBe(false);
  });

  it("tells onReply of every reply, once read: null for ok, else its reason; pushes and closes it does not", () => {
    const tracker = joined("1");
    tracker.sent(push("1", "2"));
    tracker.sent(push("1", "3"));
    const heard: Array<[Ref, string | null]> = [];
    const onReply = (ref: Ref, refusal: string | null) => heard.push([ref, refusal]);
    tracker.received(okReply("1", "2"), onReply);
    tracker.received(errorReply("1", "3"), onReply);
    tracker.received(serializer.broadcast(TOPIC, "new_post", JSON.stringify({ id: 1 })), onReply);
    tracker.received(serializer.push("1", TOPIC, "new_post", '{"id":2}'), onReply);
    tracker.received(serializer.close("1", TOPIC), onReply);
    expect(heard).toEqual([
      ["2", null],
      ["3", "unauthorized"],
    ]);
  });

  it("follows refs of any JSON type as the client sent them: numbers and objects", () => {
    const tracker = new JoinTracker(serializer);
    tracker.sent(join(7, 7));
    expect(tracker.pendingJoin).toEqual({ joinRef: 7, ref: 7, topic: TOPIC });
    expect(tracker.received(okReply(7, 7))).toBe(true);
    expect(tracker.pendingJoin).toBeNull();
    expect(tracker.clientJoinRef).toBe(7);
    tracker.sent(push(7, { a: 1, b: [2] }));
    const heard: Ref[] = [];
    tracker.received(okReply(7, { a: 1, b: [2] }), (ref) => heard.push(ref));
    expect(heard).toEqual([{ a: 1, b: [2] }]);
    expect(tracker.received(serializer.close("7", TOPIC))).toBe(true); // the string "7" is not the number 7
    expect(tracker.settled).toBe(false);
    expect(tracker.received(serializer.close(7, TOPIC))).toBe(true);
    expect(tracker.settled).toBe(true);
  });
});
