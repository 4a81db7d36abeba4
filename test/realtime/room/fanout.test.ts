/**
 * Fan-out (room/fanout.ts) over real connections: each member is a `Connection` opened on one end of a
 * real `WebSocketPair` (workerd keeps an attachment on such a socket without a Durable Object), and the
 * other end, accepted here, records what the member receives.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import type { SerializerVersion } from "../../../src/realtime/phoenix/serializer";
import { v1Json } from "../../../src/realtime/phoenix/v1";
import { v2Json } from "../../../src/realtime/phoenix/v2";
import { Connection, type ConnectionState } from "../../../src/realtime/room/connection";
import { type Delivery, fanOut, type HandleOut } from "../../../src/realtime/room/fanout";

const TOPIC = "room:fanout";

interface Member {
  connection: Connection;
  /** Text frames the member's client received, raw. */
  received: string[];
  /** Resolves when the client has everything the room sent before now. */
  drained(): Promise<void>;
}

let nextUser = 0;

function member(joinRef: string | null, username = `user${nextUser + 1}`, vsn: SerializerVersion = "2.0.0"): Member {
  nextUser += 1;
  const { 0: client, 1: server } = new WebSocketPair();
  server.accept();
  client.accept();
  const connection = Connection.open(server, {
    room: "fanout",
    user: { id: nextUser, username },
    token: { generation: 0, expiresAt: Date.now() + 3_600_000 },
    slot: `slot-${nextUser}`,
    vsn,
  });
  if (joinRef !== null) connection.update({ joinRef });
  const received: string[] = [];
  const markers = new Map<string, () => void>();
  client.addEventListener("message", (event) => {
    const text = String(event.data);
    const marked = markers.get(text);
    if (marked) marked();
    else received.push(text);
  });
  return {
    connection,
    received,
    drained() {
      // Frames on one socket arrive in order: once a marker sent now is in, so is everything before it.
      const marker = `marker-${crypto.randomUUID()}`;
      const arrived = new Promise<void>((resolve) => markers.set(marker, resolve));
      server.send(marker);
      return arrived;
    },
  };
}

async function drainAll(members: Member[]): Promise<void> {
  await Promise.all(members.map((m) => m.drained()));
}

/** A payload that counts how often it is serialised. */
function countingPayload(fields: Record<string, unknown>): { payload: object; encodings: () => number } {
  let encodings = 0;
  const payload = {
    ...fields,
    toJSON() {
      encodings += 1;
      return fields;
    },
  };
  return { payload, encodings: () => encodings };
}

const always =
  (delivery: Delivery): HandleOut =>
  () =>
    delivery;

afterEach(() => {
  vi.restoreAllMocks();
});

describe("fanOut", () => {
  it("gives every joined member the same broadcast frame, encoded once", async () => {
    const members = [member("1"), member("7"), member("12")];
    const { payload, encodings } = countingPayload({ id: 5, message: "hello", user: { id: 1, username: "ann" } });
    fanOut(
      members.map((m) => m.connection),
      TOPIC,
      "new_post",
      payload,
      always("broadcast"),
    );
    expect(encodings()).toBe(1);
    await drainAll(members);
    const [first] = members[0]?.received ?? [];
    expect(JSON.parse(first ?? "null")).toEqual([
      null,
      null,
      TOPIC,
      "new_post",
      { id: 5, message: "hello", user: { id: 1, username: "ann" } },
    ]);
    for (const m of members) expect(m.received).toEqual([first]);
  });

  it("sends a push member `[join_ref, null, topic, event, payload]` with its own join_ref, the payload encoded once", async () => {
    const members = [member("3"), member("40"), member('we"ird')];
    const { payload, encodings } = countingPayload({ id: 9, message: "@bob hi" });
    fanOut(
      members.map((m) => m.connection),
      TOPIC,
      "new_post",
      payload,
      always("push"),
    );
    expect(encodings()).toBe(1);
    await drainAll(members);
    for (const m of members) {
      expect(m.received).toHaveLength(1);
      expect(JSON.parse(m.received[0] ?? "null")).toEqual([
        m.connection.state.joinRef,
        null,
        TOPIC,
        "new_post",
        { id: 9, message: "@bob hi" },
      ]);
    }
  });

  it("sends nothing to a member its rule skips, or to a member not joined, and does not ask about the latter", async () => {
    const broadcastTo = member("1", "ann");
    const pushTo = member("2", "bob");
    const skipped = member("3", "cid");
    const unjoined = member(null, "dot");
    const left = member("5", "eli");
    left.connection.update({ joinRef: null }); // joined once, then left
    const all = [broadcastTo, pushTo, skipped, unjoined, left];

    const { payload, encodings } = countingPayload({ id: 3 });
    const asked: string[] = [];
    const rule: HandleOut = (event, given, state: Readonly<ConnectionState>) => {
      expect(event).toBe("new_post");
      expect(given).toBe(payload);
      asked.push(state.user.username);
      const deliveries: Record<string, Delivery> = { ann: "broadcast", bob: "push", cid: "skip" };
      return deliveries[state.user.username] ?? "broadcast";
    };
    fanOut(
      all.map((m) => m.connection),
      TOPIC,
      "new_post",
      payload,
      rule,
    );
    expect(asked).toEqual(["ann", "bob", "cid"]);
    expect(encodings()).toBe(1); // once for the broadcast and the push alike, whatever the member count
    await drainAll(all);
    expect(broadcastTo.received.map((f) => JSON.parse(f))).toEqual([[null, null, TOPIC, "new_post", { id: 3 }]]);
    expect(pushTo.received.map((f) => JSON.parse(f))).toEqual([["2", null, TOPIC, "new_post", { id: 3 }]]);
    expect(skipped.received).toEqual([]);
    expect(unjoined.received).toEqual([]);
    expect(left.received).toEqual([]);
  });

  it("encodes nothing when nobody receives it", () => {
    const { payload, encodings } = countingPayload({ id: 1 });
    fanOut(
      [member(null), member("2")].map((m) => m.connection),
      TOPIC,
      "typing",
      payload,
      always("skip"),
    );
    fanOut([], TOPIC, "typing", payload, always("broadcast"));
    expect(encodings()).toBe(0);
  });

  it("goes on past a member whose socket has closed", async () => {
    const gone = member("1");
    const stays = member("2");
    gone.connection.close(1000, "bye");
    const { payload } = countingPayload({ id: 4 });
    expect(() =>
      fanOut(
        [gone, stays].map((m) => m.connection),
        TOPIC,
        "new_post",
        payload,
        always("broadcast"),
      ),
    ).not.toThrow();
    await stays.drained();
    expect(stays.received.map((f) => JSON.parse(f))).toEqual([[null, null, TOPIC, "new_post", { id: 4 }]]);
    expect(gone.received).toEqual([]);
  });

  it("in a mixed room, encodes the payload once and the broadcast once per serializer, never per member", async () => {
    const v2Members = Array.from({ length: 6 }, (_, i) => member(String(i + 1)));
    const v1Members = Array.from({ length: 6 }, (_, i) => member(String(i + 10), undefined, "1.0.0"));
    const pushV2 = member("20", "pat");
    const pushV1 = member("21", "quin", "1.0.0");
    const everyone = [...v2Members, pushV2, ...v1Members, pushV1];
    const v2Frames = vi.spyOn(v2Json, "frame");
    const v1Frames = vi.spyOn(v1Json, "frame");
    const { payload, encodings } = countingPayload({ id: 7, message: "@pat @quin hi" });
    const pushed = new Set(["pat", "quin"]);
    fanOut(
      everyone.map((m) => m.connection),
      TOPIC,
      "new_post",
      payload,
      (_event, _payload, state) => (pushed.has(state.user.username) ? "push" : "broadcast"),
    );
    expect(encodings()).toBe(1);
    // One broadcast per serializer, plus each push member's own (a V2 push carries its join_ref).
    expect(v2Frames).toHaveBeenCalledTimes(2);
    expect(v1Frames).toHaveBeenCalledTimes(2);
    await drainAll(everyone);
    const post = { id: 7, message: "@pat @quin hi" };
    const v1Broadcast = JSON.stringify({ topic: TOPIC, event: "new_post", payload: post, ref: null });
    for (const m of v2Members)
      expect(m.received.map((f) => JSON.parse(f))).toEqual([[null, null, TOPIC, "new_post", post]]);
    for (const m of v1Members) expect(m.received).toEqual([v1Broadcast]);
    expect(pushV2.received.map((f) => JSON.parse(f))).toEqual([["20", null, TOPIC, "new_post", post]]);
    // V1 frames carry no join_ref: a V1 member's push is the broadcast frame.
    expect(pushV1.received).toEqual([v1Broadcast]);
  });
});
