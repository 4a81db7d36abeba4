/**
 * A room evicted from memory (as the runtime does to idle, hibernating objects) must wake with every
 * member's state intact: who they are, that they joined, with which join ref, and their mention filter.
 */
import { evictDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it } from "vitest";
import { closeAll, connectAndJoin, roomStub, type TestSocket } from "../../helpers/socket";
import { makeUser } from "../../helpers/users";

const open: TestSocket[] = [];
afterEach(() => closeAll(open));

describe("hibernation", () => {
  it("keeps members, joins and mention filters across an eviction", async () => {
    const poster = await makeUser("sleepy_poster");
    const filtered = await makeUser("sleepy_filtered");
    const p = await connectAndJoin(poster, "sleepy");
    const f = await connectAndJoin(filtered, "sleepy", { mentions_only: true });
    open.push(p.socket, f.socket);

    await evictDurableObject(roomStub("sleepy"));

    // The next frames wake a fresh instance, which must rebuild everything from the attachments.
    const plain = await p.socket.push("room:sleepy", "new_post", { message: "after the nap" });
    expect(plain.status).toBe("ok");
    const mention = await p.socket.push("room:sleepy", "new_post", { message: "@sleepy_filtered wake up" });
    expect(mention.response).toMatchObject({ user: { id: poster.id, username: "sleepy_poster" } });
    await f.socket.barrier();
    await p.socket.barrier();
    expect(p.socket.broadcasts("new_post").map((frame) => frame[4].id)).toEqual([
      plain.response.id,
      mention.response.id,
    ]);
    expect(f.socket.received("new_post").map((frame) => frame[4].id)).toEqual([mention.response.id]);

    // The join ref survived too: leaving closes the original join.
    const left = await f.socket.push("room:sleepy", "phx_leave", {}, f.joinRef);
    expect(left.status).toBe("ok");
    expect(await f.socket.waitFor((frame) => frame[3] === "phx_close")).toEqual([
      f.joinRef,
      f.joinRef,
      "room:sleepy",
      "phx_close",
      {},
    ]);
  });

  it("admits new members after waking, alongside the ones from before", async () => {
    const early = await connectAndJoin(await makeUser("early_bird"), "wakeful");
    open.push(early.socket);
    await evictDurableObject(roomStub("wakeful"));
    const late = await connectAndJoin(await makeUser("late_bird"), "wakeful");
    open.push(late.socket);
    const reply = await late.socket.push("room:wakeful", "new_post", { message: "hello early" });
    const frame = await early.socket.waitFor((f) => f[3] === "new_post");
    expect(frame[4]).toEqual(reply.response);
  });
});
