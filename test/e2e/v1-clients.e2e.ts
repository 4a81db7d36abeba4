/**
 * A V1 client and the official phoenix client in the same room, against a real `wrangler dev`, on each way
 * in: a room-bound socket, a multiplexed socket and LongPoll. The V1 client is V1 frames of our own over
 * Node's WebSocket and fetch (`{topic, event, payload, ref}` objects, integer refs as some V1 clients send
 * them, no join_ref), as the npm and Python V1 clients speak it; each sees the other's posts and presence,
 * and the V1 client catches up after a reconnect by joining with `last_seen_id`.
 */
import { type Channel, LongPoll, Presence, Socket } from "phoenix";
import { afterEach, describe, expect, inject, it } from "vitest";
import { type RegisteredUser, registerUser, uniqueName, waitUntil } from "./helpers";

interface Post {
  id: number;
  message: string;
  user: { id: number; username: string };
}

interface V1Frame {
  topic: string;
  event: string;
  payload: Record<string, unknown>;
  ref: unknown;
}

interface Reply {
  status: string;
  response: Record<string, unknown>;
}

type Way = "room-bound" | "multiplexed" | "longpoll";

const baseUrl = inject("baseUrl");
const wsBase = baseUrl.replace(/^http/, "ws");

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** A V1 client: frames in, V1 objects out, integer refs; one transport under it (a WebSocket or LongPoll). */
class V1Client {
  readonly frames: V1Frame[] = [];
  /** Every frame that was not exactly Phoenix's V1 object (never expected). */
  readonly strange: string[] = [];
  #ref = 0;
  #waiters: Array<() => void> = [];

  private constructor(private readonly send: (text: string) => Promise<void>) {}

  /** `room`: a room-bound socket; undefined: a socket for many rooms. `vsn=1.0.0` as phoenix-channels sends it. */
  static async webSocket(token: string, room?: string): Promise<V1Client & { close(): Promise<void> }> {
    const query = new URLSearchParams({ token, vsn: "1.0.0", ...(room ? { room } : {}) });
    const ws = new WebSocket(`${wsBase}/socket/websocket?${query}`);
    const client = new V1Client(async (text) => ws.send(text));
    ws.addEventListener("message", (event) => client.#receive(String(event.data)));
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener("open", () => resolve(), { once: true });
      ws.addEventListener("error", () => reject(new Error("the V1 WebSocket did not open")), { once: true });
    });
    const closed = new Promise<void>((resolve) => ws.addEventListener("close", () => resolve(), { once: true }));
    return Object.assign(client, {
      close: async () => {
        ws.close(1000, "done");
        await closed;
      },
    });
  }

  /**
   * Phoenix's LongPoll as a V1 client uses it, without a vsn (Phoenix then speaks V1): a GET opens the session,
   * each frame is POSTed alone as JSON, GETs bring `{status, token, messages}` whose messages are V1 frames.
   */
  static async longPoll(token: string): Promise<V1Client & { close(): Promise<void> }> {
    const endpoint = `${baseUrl}/socket/longpoll?token=${encodeURIComponent(token)}`;
    const stop = new AbortController();
    const opened = (await (await fetch(endpoint)).json()) as { status: number; token: string };
    expect(opened.status).toBe(410);
    let session = opened.token;
    const at = () => `${endpoint}&token=${encodeURIComponent(session)}`;
    const client = new V1Client(async (text) => {
      const answer = await fetch(at(), { method: "POST", headers: { "Content-Type": "application/json" }, body: text });
      expect(await answer.json()).toEqual({ status: 200 });
    });
    const polling = (async () => {
      while (!stop.signal.aborted) {
        let answer: { status: number; token?: string; messages?: string[] };
        try {
          answer = (await (await fetch(at(), { signal: stop.signal })).json()) as typeof answer;
        } catch {
          return; // stopped
        }
        if (answer.token) session = answer.token;
        for (const message of answer.messages ?? []) client.#receive(message);
        if (answer.status !== 200 && answer.status !== 204) return;
      }
    })();
    return Object.assign(client, {
      close: async () => {
        stop.abort();
        await polling;
      },
    });
  }

  #receive(text: string): void {
    const frame = JSON.parse(text) as V1Frame;
    if (Object.keys(frame).sort().join(",") === "event,payload,ref,topic") this.frames.push(frame);
    else this.strange.push(text);
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** Sends a frame with the next integer ref; resolves with its reply. */
  async request(topic: string, event: string, payload: Record<string, unknown> = {}): Promise<Reply> {
    this.#ref += 1;
    const ref = this.#ref;
    await this.send(JSON.stringify({ topic, event, payload, ref }));
    const reply = await this.waitFor(`a reply to ref ${ref}`, (f) => f.event === "phx_reply" && f.ref === ref);
    return reply.payload as unknown as Reply;
  }

  async waitFor(what: string, match: (frame: V1Frame) => boolean, timeoutMs = 10_000): Promise<V1Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.find(match);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`V1 client: no ${what} in ${timeoutMs} ms; got ${JSON.stringify(this.frames)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  posts(topic: string): Post[] {
    return this.frames
      .filter((f) => f.topic === topic && f.event === "new_post" && f.ref === null)
      .map((f) => f.payload as unknown as Post);
  }

  /** Who is here by username, from `presence_state` and the diffs after it, as a V1 client keeps it. */
  online(topic: string): string[] {
    const metas = new Map<string, string>();
    for (const { topic: at, event, payload } of this.frames) {
      if (at !== topic) continue;
      type Entries = Record<string, { metas: Array<{ username: string; phx_ref: string }> }>;
      const apply = (entries: Entries, joining: boolean) => {
        for (const { metas: list } of Object.values(entries)) {
          for (const meta of list) {
            if (joining) metas.set(meta.phx_ref, meta.username);
            else metas.delete(meta.phx_ref);
          }
        }
      };
      if (event === "presence_state") {
        metas.clear();
        apply(payload as Entries, true);
      } else if (event === "presence_diff") {
        apply((payload.joins ?? {}) as Entries, true);
        apply((payload.leaves ?? {}) as Entries, false);
      }
    }
    return [...new Set(metas.values())].sort();
  }
}

/** The official client on the same way in, with `Presence` attached as the room page attaches it. */
async function phoenixMember(user: RegisteredUser, room: string, way: Way) {
  const socket = new Socket(`${wsBase}/socket`, {
    params: way === "room-bound" ? { room, token: user.token } : { token: user.token },
    ...(way === "longpoll" ? { transport: LongPoll } : {}),
    timeout: 10_000,
    reconnectAfterMs: () => 60_000,
    rejoinAfterMs: () => 60_000,
  });
  cleanups.push(() => socket.disconnect());
  socket.connect();
  const channel = socket.channel(`room:${room}`, {});
  const presence = new Presence(channel);
  let online: string[] = [];
  presence.onSync(() => {
    online = presence.list(
      (_key: string, { metas }: { metas: Array<{ username: string }> }) => metas[0]?.username ?? "",
    );
  });
  const posts: Post[] = [];
  channel.on("new_post", (post: Post) => {
    posts.push(post);
  });
  expect((await answer(channel.join())).status).toBe("ok");
  return { channel, posts, online: () => [...online].sort() };
}

function answer(push: ReturnType<Channel["push"]>): Promise<Reply> {
  return new Promise((resolve) => {
    push
      .receive("ok", (response: Record<string, unknown>) => resolve({ status: "ok", response }))
      .receive("error", (response: Record<string, unknown>) => resolve({ status: "error", response }))
      .receive("timeout", () => resolve({ status: "timeout", response: {} }));
  });
}

async function v1Client(way: Way, token: string, room: string) {
  const client =
    way === "longpoll"
      ? await V1Client.longPoll(token)
      : await V1Client.webSocket(token, way === "room-bound" ? room : undefined);
  cleanups.push(() => client.close());
  return client;
}

describe.each<Way>(["room-bound", "multiplexed", "longpoll"])("a V1 client and the phoenix client, %s", (way) => {
  it("see each other's posts and presence, and the V1 client catches up after a reconnect", async () => {
    const room = uniqueName("v1e2e");
    const topic = `room:${room}`;
    const [official, legacy] = await Promise.all([
      registerUser(baseUrl, uniqueName("v1e2e_new")),
      registerUser(baseUrl, uniqueName("v1e2e_old")),
    ]);
    const modern = await phoenixMember(official, room, way);

    const v1 = await v1Client(way, legacy.token, room);
    const joined = await v1.request(topic, "phx_join", {});
    expect(joined.status).toBe("ok");
    await waitUntil(
      "the V1 client sees both in presence",
      () => JSON.stringify(v1.online(topic)) === JSON.stringify([official.username, legacy.username].sort()),
    );
    await waitUntil(
      "the phoenix client sees both in presence",
      () => JSON.stringify(modern.online()) === JSON.stringify([official.username, legacy.username].sort()),
    );

    const fromV1 = await v1.request(topic, "new_post", { message: "hello from V1", client_id: "v1-e2e-1" });
    expect(fromV1).toMatchObject({ status: "ok", response: { message: "hello from V1" } });
    await waitUntil("the phoenix client gets the V1 post", () =>
      modern.posts.some((p) => p.message === "hello from V1"),
    );
    const fromModern = await answer(modern.channel.push("new_post", { message: "hello from phoenix.js" }));
    expect(fromModern.status).toBe("ok");
    const seen = await v1.waitFor(
      "the phoenix client's post",
      (f) => f.event === "new_post" && f.payload.message === "hello from phoenix.js",
    );
    expect(seen.ref).toBeNull();
    const lastSeen = Math.max(...v1.posts(topic).map((p) => p.id));

    // The V1 client goes away; the phoenix client sees it leave, and posts twice while it is gone. A WebSocket
    // just closes; a LongPoll client leaves first, since a session nobody polls ends only LONGPOLL_IDLE_MS later.
    if (way === "longpoll") expect((await v1.request(topic, "phx_leave")).status).toBe("ok");
    await v1.close();
    await waitUntil(
      "the phoenix client sees the V1 client leave",
      () => JSON.stringify(modern.online()) === JSON.stringify([official.username]),
    );
    const missed: Post[] = [];
    for (const message of ["while you were away 1", "while you were away 2"]) {
      const reply = await answer(modern.channel.push("new_post", { message }));
      missed.push(reply.response as unknown as Post);
    }

    const back = await v1Client(way, legacy.token, room);
    const caughtUp = await back.request(topic, "phx_join", { last_seen_id: lastSeen });
    expect(caughtUp).toEqual({
      status: "ok",
      // Its read position, made when it first joined the empty room, has not moved.
      response: { posts: missed, has_more: false, seq: missed.at(-1)?.id, changes: [], last_read_id: 0 },
    });
    await waitUntil(
      "the phoenix client sees the V1 client back",
      () => JSON.stringify(modern.online()) === JSON.stringify([official.username, legacy.username].sort()),
    );
    expect(back.strange).toEqual([]);
    expect(v1.strange).toEqual([]);
  });
});
