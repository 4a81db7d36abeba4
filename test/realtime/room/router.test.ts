/**
 * Where pyre once differed from Phoenix 1.8 (a review's findings): binary pushes, pushes with a stale
 * join_ref, and leaves that must never wait for other members' work.
 */
import { evictDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { posts } from "../../../src/db/schema";
import { binaryPush } from "../../bad-input/frames";
import { closeAll, connect, connectAndJoin, roomStub, type TestSocket } from "../../helpers/socket";
import { db, makeUser } from "../../helpers/users";

const open: TestSocket[] = [];
afterEach(() => closeAll(open));

async function stored(room: string): Promise<string[]> {
  return (await db.select().from(posts).where(eq(posts.room, room))).map((row) => row.message);
}

describe("binary frames", () => {
  it("answers a binary new_post with invalid (message must be text) and keeps the socket and its channel", async () => {
    const user = await makeUser("binary_sender");
    const { socket, joinRef } = await connectAndJoin(user, "binary_room");
    open.push(socket);
    socket.sendRaw(binaryPush(joinRef, "50", "room:binary_room", "new_post", new Uint8Array([1, 2, 3])));
    const reply = await socket.waitFor((f) => f[1] === "50");
    expect(reply).toEqual([
      joinRef,
      "50",
      "room:binary_room",
      "phx_reply",
      { status: "error", response: { reason: "invalid", errors: { message: "must be text, not binary" } } },
    ]);
    expect((await socket.push("room:binary_room", "new_post", { message: "text works" }, joinRef)).status).toBe("ok");
    expect(await stored("binary_room")).toEqual(["text works"]);
  });

  it("routes binary pushes like text ones: unknown events and unjoined topics get their usual answers", async () => {
    const { socket, joinRef } = await connectAndJoin(await makeUser("binary_router"), "binary_routes");
    open.push(socket);
    socket.sendRaw(binaryPush(joinRef, "60", "room:binary_routes", "upload", new Uint8Array([0])));
    expect((await socket.waitFor((f) => f[1] === "60"))[4]).toEqual({
      status: "error",
      response: { reason: "unknown event", event: "upload" },
    });
    socket.sendRaw(binaryPush("", "61", "room:elsewhere", "new_post", new Uint8Array([0])));
    expect((await socket.waitFor((f) => f[1] === "61"))[4]).toEqual({
      status: "error",
      response: { reason: "unmatched topic" },
    });
  });

  it.each([
    ["a reply (kind 1)", binaryPush("1", "2", "room:x", "new_post", new Uint8Array(), 1)],
    ["a header longer than the frame", new Uint8Array([0, 9, 9, 9, 9, 65]).buffer],
    ["too short for a header", new Uint8Array([0, 1]).buffer],
    ["a topic that is not UTF-8", new Uint8Array([0, 0, 1, 1, 1, 0x31, 0xff, 0x61]).buffer],
  ])("closes the socket with 1007 for a binary frame that is not a V2 push: %s", async (_, frame) => {
    const { socket } = await connectAndJoin(
      await makeUser(`bad_bin_${Math.random().toString(36).slice(2, 8)}`),
      "bad_binary",
    );
    socket.sendRaw(frame);
    expect((await socket.closed).code).toBe(1007);
  });
});

describe("stale join_ref", () => {
  it("discards a push carrying the join_ref of an earlier join, answering why, storing and broadcasting nothing", async () => {
    const user = await makeUser("stale_pusher");
    const reader = await connectAndJoin(await makeUser("stale_reader"), "stale_room");
    const { socket, joinRef: firstJoin } = await connectAndJoin(user, "stale_room");
    open.push(reader.socket, socket);
    const rejoin = await socket.join("stale_room");
    expect(rejoin.status).toBe("ok");

    const stale = await socket.push("room:stale_room", "new_post", { message: "from the old join" }, firstJoin);
    expect(stale.frame).toEqual([
      firstJoin,
      stale.frame[1],
      "room:stale_room",
      "phx_reply",
      { status: "error", response: { reason: "stale join_ref" } },
    ]);
    const current = await socket.push("room:stale_room", "new_post", { message: "from the new join" }, rejoin.joinRef);
    expect(current.status).toBe("ok");
    // A null join_ref is valid on pushes, as in Phoenix.
    expect((await socket.push("room:stale_room", "new_post", { message: "no join_ref" })).status).toBe("ok");
    await reader.socket.barrier();
    expect(reader.socket.broadcasts("new_post").map((f) => f[4].message)).toEqual(["from the new join", "no join_ref"]);
    expect(await stored("stale_room")).toEqual(["from the new join", "no join_ref"]);
  });
});

describe("leaves never wait for other members' work", () => {
  it("answers a leave and a heartbeat while every other member's join and post is stuck on a failing D1", async () => {
    const leaver = await connectAndJoin(await makeUser("calm_leaver"), "storm");
    open.push(leaver.socket);
    const joiners = await Promise.all(
      Array.from({ length: 20 }, async (_, n) => connect(await makeUser(`storm_${n}`), "storm")),
    );
    open.push(...joiners);
    // A cold room with no usable D1: every join needs the history, every post needs the posts table.
    await evictDurableObject(roomStub("storm"));
    await env.DB.exec("ALTER TABLE posts RENAME TO posts_elsewhere");
    try {
      for (const joiner of joiners) joiner.send(["1", "1", "room:storm", "phx_join", { last_seen_id: 0 }]);
      const post = leaver.socket.push("room:storm", "new_post", { message: "stuck" }, leaver.joinRef);
      await leaver.socket.barrier(); // a heartbeat, answered whatever the room is waiting for
      const leave = await leaver.socket.push("room:storm", "phx_leave", {}, leaver.joinRef);
      expect(leave.status).toBe("ok");
      expect((await post).response).toEqual({ reason: "unavailable" });
      for (const joiner of joiners) {
        const reply = await joiner.waitFor((f) => f[1] === "1" && f[3] === "phx_reply");
        expect(reply[4]).toEqual({ status: "error", response: { reason: "unavailable" } });
      }
    } finally {
      await env.DB.exec("ALTER TABLE posts_elsewhere RENAME TO posts");
    }
  });
});
