/**
 * How fast a room answers, through the official phoenix client over real WebSockets: a heartbeat (the
 * transport alone), a post's round trip (D1 write included), a post's fan-out to every member, and a
 * join with history. The baseline for later work such as group-committed D1 writes.
 */
import { type Channel, Socket } from "phoenix";
import { describe, inject, test } from "vitest";
import { registerUser, uniqueName } from "../test/e2e/helpers";

const baseUrl = inject("baseUrl");
const socketUrl = `${baseUrl.replace(/^http/, "ws")}/socket`;
const FAN_OUT_MEMBERS = 20;
/** Each bench runs for 2 s after 300 ms of warm-up (tinybench options, given to `run`). */
const OPTIONS = { time: 2_000, warmupTime: 300 };

interface Post {
  id: number;
  message: string;
}

function connect(room: string, token: string): Socket {
  const socket = new Socket(socketUrl, { authToken: token, params: { room }, heartbeatIntervalMs: 3_600_000 });
  socket.connect();
  return socket;
}

function joined(channel: Channel): Promise<{ posts: Post[] }> {
  return new Promise((resolve, reject) => {
    channel.join().receive("ok", resolve).receive("error", reject).receive("timeout", reject);
  });
}

function push<T>(channel: Channel, event: string, payload: object): Promise<T> {
  return new Promise((resolve, reject) => {
    channel.push(event, payload).receive("ok", resolve).receive("error", reject).receive("timeout", reject);
  });
}

const room = uniqueName("bench");
const poster = await registerUser(baseUrl, uniqueName("poster"));
const posterSocket = connect(room, poster.token);
const posterChannel = posterSocket.channel(`room:${room}`, {});
await joined(posterChannel);

// Members who receive every post; a waiter, keyed by message, counts the members still to receive it.
// Keyed by message, not id: the room broadcasts before it replies, so members may have it first.
const waiters = new Map<string, { left: number; done: () => void }>();
const members = await Promise.all(
  Array.from({ length: FAN_OUT_MEMBERS }, async () => {
    const user = await registerUser(baseUrl, uniqueName("member"));
    const socket = connect(room, user.token);
    const channel = socket.channel(`room:${room}`, {});
    channel.on("new_post", (post: Post) => {
      const waiter = waiters.get(post.message);
      if (waiter && --waiter.left === 0) waiter.done();
    });
    await joined(channel);
    return socket;
  }),
);

// A reader on its own socket for the join bench: a second channel on the poster's socket would make the
// phoenix client leave the poster's (one channel per topic per socket).
const readerSocket = connect(room, poster.token);
let counter = 0;
for (let n = 0; n < 50; n++) await push<Post>(posterChannel, "new_post", { message: `history ${n}` });

describe("room", () => {
  // Vitest 5: `bench` is a test's fixture; each test registers one bench and runs it.
  test("heartbeat round trip (transport only)", async ({ bench }) => {
    await bench(
      "heartbeat round trip (transport only)",
      () =>
        new Promise<void>((resolve) => {
          const ref = posterSocket.makeRef();
          const off = posterSocket.onMessage((message: object) => {
            if ((message as { ref?: string }).ref === ref) {
              posterSocket.off([off]);
              resolve();
            }
          });
          posterSocket.push({ topic: "phoenix", event: "heartbeat", payload: {}, ref });
        }),
    ).run(OPTIONS);
  });

  test("new_post round trip (stored in D1, then replied)", async ({ bench }) => {
    await bench("new_post round trip (stored in D1, then replied)", async () => {
      await push<Post>(posterChannel, "new_post", { message: `bench ${++counter}` });
    }).run(OPTIONS);
  });

  test(`new_post delivered to all ${FAN_OUT_MEMBERS} members`, async ({ bench }) => {
    await bench(`new_post delivered to all ${FAN_OUT_MEMBERS} members`, async () => {
      const message = `fan-out ${++counter}`;
      const delivered = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${message} did not reach every member`)), 10_000);
        waiters.set(message, {
          left: FAN_OUT_MEMBERS,
          done: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
      await push<Post>(posterChannel, "new_post", { message });
      await delivered;
      waiters.delete(message);
    }).run(OPTIONS);
  });

  test("join with 50 posts of history, then leave", async ({ bench }) => {
    await bench("join with 50 posts of history, then leave", async () => {
      const channel = readerSocket.channel(`room:${room}`, {});
      const reply = await joined(channel);
      if (reply.posts.length !== 50) throw new Error(`expected 50 posts of history, got ${reply.posts.length}`);
      await new Promise<void>((resolve) => channel.leave().receive("ok", () => resolve()));
    }).run(OPTIONS);
  });
});

// Close everything when the file's benches are done, so the run can end.
process.once("beforeExit", () => {
  for (const socket of [posterSocket, readerSocket, ...members]) socket.disconnect();
});
