/** Typing indicators: acknowledged always, relayed to the others at most once per 2 s per member, never stored. */

import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { posts } from "../../../src/db/schema";
import { TYPING_RELAY_INTERVAL_MS } from "../../../src/shared/room-contract";
import { closeAll, connectAndJoin, type TestSocket } from "../../helpers/socket";
import { db, makeUser } from "../../helpers/users";

const open: TestSocket[] = [];
afterEach(() => closeAll(open));

async function join(username: string, room: string) {
  const user = await makeUser(username);
  const result = await connectAndJoin(user, room);
  open.push(result.socket);
  return { user, ...result };
}

describe("typing", () => {
  it("relays `typing {user}` to the other members, not to the typist's own sockets, and stores nothing", async () => {
    const typist = await join("typist", "typing_room");
    const typistTab = await connectAndJoin(typist.user, "typing_room");
    open.push(typistTab.socket);
    const reader = await join("typing_reader", "typing_room");

    const reply = await typist.socket.push("room:typing_room", "typing", {}, typist.joinRef);
    expect(reply.status).toBe("ok");
    const relayed = await reader.socket.waitFor((f) => f[3] === "typing");
    expect(relayed).toEqual([
      null,
      null,
      "room:typing_room",
      "typing",
      { user: { id: typist.user.id, username: "typist" } },
    ]);
    await typist.socket.barrier();
    await typistTab.socket.barrier();
    expect(typist.socket.received("typing")).toEqual([]);
    expect(typistTab.socket.received("typing")).toEqual([]);
    expect(await db.select().from(posts).where(eq(posts.room, "typing_room"))).toEqual([]);
  });

  it("acknowledges every push but relays at most one per member per interval", async () => {
    const typist = await join("fast_typist", "typing_throttle");
    const reader = await join("throttle_reader", "typing_throttle");
    for (let n = 0; n < 5; n++) {
      expect((await typist.socket.push("room:typing_throttle", "typing", {})).status).toBe("ok");
    }
    await reader.socket.barrier();
    expect(reader.socket.received("typing")).toHaveLength(1);

    await new Promise((resolve) => setTimeout(resolve, TYPING_RELAY_INTERVAL_MS + 50));
    expect((await typist.socket.push("room:typing_throttle", "typing", {})).status).toBe("ok");
    await reader.socket.waitFor((f) => f[3] === "typing" && reader.socket.received("typing").length === 2);
  });

  it("is answered unmatched topic before a join, like any push", async () => {
    const typist = await join("unjoined_typist", "typing_unjoined");
    const leave = await typist.socket.push("room:typing_unjoined", "phx_leave", {}, typist.joinRef);
    expect(leave.status).toBe("ok");
    const reply = await typist.socket.push("room:typing_unjoined", "typing", {});
    expect(reply.response).toEqual({ reason: "unmatched topic" });
  });
});
