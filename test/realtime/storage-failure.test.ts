/**
 * When D1 fails, the room says so and does not pretend: no broadcast, nothing acknowledged that is not
 * stored. Failures are real D1 errors, raised by a trigger or a missing table in the test's own database.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { closeAll, connect, connectAndJoin, type TestSocket } from "../helpers/socket";
import { makeUser } from "../helpers/users";

const open: TestSocket[] = [];
afterEach(async () => {
  await closeAll(open);
  await env.DB.exec("DROP TRIGGER IF EXISTS fail_post_inserts");
});

async function joinedAs(username: string, room: string) {
  const { socket } = await connectAndJoin(await makeUser(username), room);
  open.push(socket);
  return socket;
}

describe("D1 failures", () => {
  it("answers a post that could not be stored with `unavailable`, broadcasts nothing, and recovers", async () => {
    const writer = await joinedAs("failing_writer", "d1_down");
    const reader = await joinedAs("failing_reader", "d1_down");
    await env.DB.exec(
      "CREATE TRIGGER fail_post_inserts BEFORE INSERT ON posts BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
    );

    const failed = await writer.push("room:d1_down", "new_post", { message: "lost?" });
    expect(failed.status).toBe("error");
    expect(failed.response).toEqual({ reason: "unavailable" });
    await reader.barrier();
    await writer.barrier();
    expect(reader.broadcasts("new_post")).toEqual([]);
    expect(writer.broadcasts("new_post")).toEqual([]);
    const { results } = await env.DB.prepare("SELECT count(*) AS n FROM posts WHERE room = 'd1_down'").all();
    expect(results[0]?.n).toBe(0);

    await env.DB.exec("DROP TRIGGER fail_post_inserts");
    const retried = await writer.push("room:d1_down", "new_post", { message: "lost?" });
    expect(retried.status).toBe("ok");
    const frame = await reader.waitFor((f) => f[3] === "new_post");
    expect(frame[4]).toEqual(retried.response);
  });

  it("answers heartbeats without touching storage, even with D1 failing", async () => {
    const socket = await joinedAs("heartbeat_no_db", "heartbeat_no_db");
    await env.DB.exec("ALTER TABLE posts RENAME TO posts_elsewhere");
    await env.DB.exec("ALTER TABLE users RENAME TO users_elsewhere");
    try {
      await socket.barrier(); // a heartbeat and its ok reply
      await socket.barrier();
    } finally {
      await env.DB.exec("ALTER TABLE posts_elsewhere RENAME TO posts");
      await env.DB.exec("ALTER TABLE users_elsewhere RENAME TO users");
    }
  });

  it("answers a join whose history cannot be read with `unavailable`, leaving the socket usable", async () => {
    const socket = await connect(await makeUser("history_down"), "history_down");
    open.push(socket);
    await env.DB.exec("ALTER TABLE posts RENAME TO posts_elsewhere");
    try {
      const refused = await socket.join("history_down");
      expect(refused.status).toBe("error");
      expect(refused.response).toEqual({ reason: "unavailable" });
    } finally {
      await env.DB.exec("ALTER TABLE posts_elsewhere RENAME TO posts");
    }
    const retried = await socket.join("history_down");
    expect(retried.status).toBe("ok");
  });
});
