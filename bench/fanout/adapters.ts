/**
 * How the load generator talks to each target: connect and join one member, post one message, read one
 * incoming frame. Everything else (pacing, counting, timing) is the same for every target, in load.ts.
 * pyre is measured three ways in (room-bound, multiplexed, LongPoll); another way in is one more case of
 * `pyreAdapter` and a target in targets.ts.
 */
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import WebSocket from "ws";
import { signSocketToken } from "./pyre-token.ts";
import type { LoadConfig } from "./scenario.ts";

/** What the load generator learns from one frame. */
export type Incoming =
  /** A post reached this socket; `sentAt` is the sender's clock (this process) when it was posted. */
  | { kind: "delivery"; seq: number; sentAt: number }
  /** The server's reply to one of this socket's posts. */
  | { kind: "ack"; seq: number; ok: boolean; detail: string };

export type OnIncoming = (incoming: Incoming, receivedAt: number) => void;

export type Who = { role: "sender" } | { role: "member"; index: number };

export interface Link {
  /** Posts message `seq` now; its body carries `seq` and the send time. */
  post(seq: number): void;
  /** Closes the socket; resolves when it is closed or after `timeoutMs` (then it is terminated). */
  close(timeoutMs: number): Promise<void>;
}

export interface Adapter {
  /**
   * How the sender learns that the server took a post: a reply ("ack": pyre answers once the post is
   * stored) or its own copy of the broadcast ("echo": the floor and the ws server have no replies).
   */
  confirmation: "ack" | "echo";
  /** Opens one socket and joins the room; resolves once this socket will be sent the room's posts. */
  connect(who: Who, onIncoming: OnIncoming, timeoutMs: number): Promise<Link>;
}

/** An upgrade answered with something other than 101; kept apart so the runner can say so loudly. */
export class UpgradeRefused extends Error {
  readonly status: number;
  readonly body: string;
  constructor(status: number, body: string) {
    super(`upgrade refused with HTTP ${status}: ${body.trim().slice(0, 500)}`);
    this.status = status;
    this.body = body;
  }
}

/** The message text every target carries: small JSON the receivers can time without any server clock. */
export function encodeBody(seq: number): string {
  return `{"seq":${seq},"t":${performance.now().toFixed(3)}}`;
}

function decodeBody(text: string): { seq: number; sentAt: number } | undefined {
  try {
    const body = JSON.parse(text) as { seq?: unknown; t?: unknown };
    if (typeof body.seq === "number" && typeof body.t === "number") return { seq: body.seq, sentAt: body.t };
  } catch {
    // Not one of ours (someone else's post in the room): ignored.
  }
  return undefined;
}

/** Opens a client socket, failing on a refused upgrade (with the answer's body), an error or the timeout. */
function openSocket(url: string, protocols: string[], timeoutMs: number): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, { perMessageDeflate: false, handshakeTimeout: timeoutMs });
    const timer = setTimeout(() => fail(new Error(`no open within ${timeoutMs} ms`)), timeoutMs);
    const fail = (problem: Error) => {
      clearTimeout(timer);
      ws.removeAllListeners();
      ws.on("error", () => {}); // a late error on a socket we gave up on must not crash the process
      ws.terminate();
      reject(problem);
    };
    ws.once("unexpected-response", (_request, response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => {
        body = (body + chunk).slice(0, 4_000);
      });
      response.once("end", () => fail(new UpgradeRefused(response.statusCode ?? 0, body)));
      response.once("error", () => fail(new UpgradeRefused(response.statusCode ?? 0, body)));
    });
    ws.once("error", (problem) => fail(problem));
    ws.once("open", () => {
      clearTimeout(timer);
      ws.removeAllListeners("unexpected-response");
      ws.removeAllListeners("error");
      ws.on("error", () => {}); // surfaced as a close; counted as lost deliveries, not a crash
      resolve(ws);
    });
  });
}

function closeSocket(ws: WebSocket, timeoutMs: number): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      ws.terminate();
      resolve();
    }, timeoutMs);
    ws.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
    ws.close(1000, "bench done");
  });
}

function frameText(data: WebSocket.RawData): string {
  if (Buffer.isBuffer(data)) return data.toString();
  return Array.isArray(data) ? Buffer.concat(data).toString() : Buffer.from(data).toString();
}

/**
 * The floor and the bare ws server: `/ws?room=NAME`, no join, every text frame is a post and comes back
 * to every socket of the room unchanged.
 */
export function rawAdapter(config: LoadConfig): Adapter {
  const url = `${config.wsBase}/ws?room=${encodeURIComponent(config.room)}`;
  return {
    confirmation: "echo",
    async connect(_who, onIncoming, timeoutMs) {
      const ws = await openSocket(url, [], timeoutMs);
      ws.on("message", (data, isBinary) => {
        const receivedAt = performance.now();
        if (isBinary) return;
        const body = decodeBody(frameText(data));
        if (body) onIncoming({ kind: "delivery", ...body }, receivedAt);
      });
      return {
        post: (seq) => ws.send(encodeBody(seq)),
        close: (closeTimeoutMs) => closeSocket(ws, closeTimeoutMs),
      };
    },
  };
}

type PhoenixFrame = [string | null, string | null, string, string, Record<string, unknown>];
type V1Frame = { topic: string; event: string; payload: Record<string, unknown>; ref: string | null };

/** How pyre's members listen; the sender always posts over a room-bound socket, the baseline. */
export type PyreWay = "room-bound" | "multiplexed" | "longpoll";

/** The serializer a pyre member speaks: phoenix.js's V2, or V1 (JSON objects), as the `vsn` chose. */
export type Vsn = "1.0.0" | "2.0.0";

const JOIN_REF = "1";

/** A server frame of either serializer as `[join_ref, ref, topic, event, payload]`; undefined if not one. */
function parseFrame(text: string): PhoenixFrame | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (Array.isArray(parsed)) return parsed as PhoenixFrame;
  if (typeof parsed !== "object" || parsed === null) return undefined;
  const { topic, event, payload, ref } = parsed as V1Frame;
  return [null, ref, topic, event, payload];
}

/**
 * Reads pyre's frames for one member: deliveries of `new_post` once joined, the join's reply, and replies to
 * this socket's posts (refs `p<seq>`). Every other event (presence, typing, ...) is ignored.
 */
function pyreFrames(
  topic: string,
  onIncoming: OnIncoming,
  onJoin: (problem?: Error) => void,
  onPostId: (id: number) => void = () => {},
) {
  let joined = false;
  return (text: string, receivedAt: number) => {
    const frame = parseFrame(text);
    if (!frame) return;
    const [, ref, frameTopic, event, payload] = frame;
    if (frameTopic !== topic) return;
    if (event === "new_post") {
      if (!joined) return;
      if (typeof payload.id === "number") onPostId(payload.id);
      const body = typeof payload.message === "string" ? decodeBody(payload.message) : undefined;
      if (body) onIncoming({ kind: "delivery", ...body }, receivedAt);
      return;
    }
    if (event !== "phx_reply" || ref === null) return;
    const status = payload.status;
    if (ref === JOIN_REF) {
      joined = status === "ok";
      onJoin(joined ? undefined : new Error(`phx_join answered ${JSON.stringify(payload)}`));
      return;
    }
    if (!ref.startsWith("p")) return;
    onIncoming(
      {
        kind: "ack",
        seq: Number(ref.slice(1)),
        ok: status === "ok",
        detail: status === "ok" ? "" : JSON.stringify(payload.response),
      },
      receivedAt,
    );
  };
}

/** A join as phoenix.js sends it, or as a V1 client does: its ref alone. */
function joinFrame(topic: string, vsn: Vsn = "2.0.0"): string {
  if (vsn === "1.0.0") return JSON.stringify({ topic, event: "phx_join", payload: {}, ref: JOIN_REF });
  return JSON.stringify([JOIN_REF, JOIN_REF, topic, "phx_join", {}]);
}

/**
 * Whether member `index` speaks V1, for `share` of the members spread evenly among them (0.5: every other
 * one), so V1 and V2 members connect interleaved.
 */
export function speaksV1(index: number, share: number): boolean {
  return Math.floor((index + 1) * share) > Math.floor(index * share);
}

/** Unique to this load generator: a sender's client_ids must not repeat across runs in one pyre. */
const RUN_ID = randomBytes(6).toString("hex");

function postFrame(topic: string, seq: number): string {
  const payload = { message: encodeBody(seq), client_id: `b-${RUN_ID}-${seq}` };
  return JSON.stringify([JOIN_REF, `p${seq}`, topic, "new_post", payload]);
}

/** How often a reading member (`pyre-reading`) reports its read position, as a visible room page does. */
const MARK_READ_EVERY_MS = 2_000;

/**
 * A pyre WebSocket, room-bound (`room=` in the URL) or multiplexed (no room), joined to `topic`. A reading
 * member sends `mark_read` up to the newest post it got every {@link MARK_READ_EVERY_MS} (when there is
 * one newer than the last it sent), starting at a random point of the interval so members spread out.
 */
async function pyreWebSocket(
  url: string,
  token: string,
  topic: string,
  onIncoming: OnIncoming,
  timeoutMs: number,
  vsn: Vsn = "2.0.0",
  reading = false,
) {
  let newest = 0;
  const bearer = `base64url.bearer.phx.${Buffer.from(token).toString("base64url")}`;
  const started = performance.now();
  const ws = await openSocket(url, ["phoenix", bearer], timeoutMs);
  const left = Math.max(1, timeoutMs - (performance.now() - started));
  await new Promise<void>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => finish(new Error(`no phx_join reply within ${timeoutMs} ms`)), left);
    const finish = (problem?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (problem) {
        ws.removeAllListeners("message");
        ws.terminate();
        reject(problem);
      } else resolve();
    };
    ws.once("close", (code, reason) => finish(new Error(`closed before the join reply: ${code} ${reason.toString()}`)));
    const read = pyreFrames(topic, onIncoming, finish, (id) => {
      newest = Math.max(newest, id);
    });
    ws.on("message", (data) => read(frameText(data), performance.now()));
    ws.send(joinFrame(topic, vsn));
  });
  let marker: ReturnType<typeof setInterval> | undefined;
  const start = reading
    ? setTimeout(() => {
        let sent = 0;
        let ref = 0;
        marker = setInterval(() => {
          if (newest <= sent || ws.readyState !== WebSocket.OPEN) return;
          sent = newest;
          ref += 1;
          ws.send(JSON.stringify([JOIN_REF, `r${ref}`, topic, "mark_read", { up_to_id: sent }]));
        }, MARK_READ_EVERY_MS);
      }, Math.random() * MARK_READ_EVERY_MS)
    : undefined;
  return {
    post: (seq: number) => ws.send(postFrame(topic, seq)),
    close: (closeTimeoutMs: number) => {
      clearTimeout(start);
      clearInterval(marker);
      return closeSocket(ws, closeTimeoutMs);
    },
  };
}

interface LongPollAnswer {
  status: number;
  token?: string;
  messages?: string[];
}

/**
 * A member listening over Phoenix's LongPoll, as phoenix.js's `LongPoll` transport does it: a GET opens the
 * session (410 with its token), frames go up in POSTs, and GETs bring down whatever the session holds (or
 * 204 after the poll window). Listens until closed; never posts.
 */
async function pyreLongPoll(
  httpBase: string,
  token: string,
  topic: string,
  onIncoming: OnIncoming,
  timeoutMs: number,
): Promise<Link> {
  const endpoint = `${httpBase}/socket/longpoll?vsn=2.0.0`;
  const stop = new AbortController();
  const headers = { Accept: "application/json", "X-Phoenix-AuthToken": token };
  const call = async (session: string | null, init: RequestInit = {}): Promise<LongPollAnswer> => {
    const url = session === null ? endpoint : `${endpoint}&token=${encodeURIComponent(session)}`;
    const response = await fetch(url, { ...init, headers: { ...headers, ...init.headers }, signal: stop.signal });
    return (await response.json()) as LongPollAnswer;
  };
  const opened = await call(null);
  if (opened.status !== 410 || !opened.token) {
    throw new UpgradeRefused(opened.status, `LongPoll answered ${JSON.stringify(opened)} when opening a session`);
  }
  let session: string = opened.token;
  const joined = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no phx_join reply within ${timeoutMs} ms`)), timeoutMs);
    const read = pyreFrames(topic, onIncoming, (problem) => {
      clearTimeout(timer);
      if (problem) reject(problem);
      else resolve();
    });
    const poll = async () => {
      while (!stop.signal.aborted) {
        let answer: LongPollAnswer;
        try {
          answer = await call(session);
        } catch {
          return; // closed, or the server went away: the deliveries not made count as lost
        }
        if (answer.token) session = answer.token;
        const receivedAt = performance.now();
        if (answer.status === 200) for (const message of answer.messages ?? []) read(message, receivedAt);
        else if (answer.status !== 204) return;
      }
    };
    void poll();
  });
  const posted = await call(session, {
    method: "POST",
    headers: { "Content-Type": "application/x-ndjson" },
    body: joinFrame(topic),
  });
  if (posted.status !== 200) throw new Error(`LongPoll refused the join: ${JSON.stringify(posted)}`);
  await joined;
  return {
    post: () => {
      throw new Error("LongPoll members only listen; the sender posts over a room-bound socket");
    },
    close: async () => stop.abort(),
  };
}

/**
 * pyre through its real path: a signed token in the `phoenix` + bearer subprotocols (as phoenix.js's
 * `authToken` sends it), the upgrade, then `phx_join` on `room:ROOM`. The sender posts `new_post` over a
 * room-bound socket; the room replies once D1 has the post and broadcasts it to every member at once.
 * Members listen through `way`: room-bound sockets, a multiplexed socket (a SocketSession relays the
 * topic), or LongPoll (a SocketSession plus HTTP requests), so the difference between runs is the way in.
 */
export async function pyreAdapter(
  config: LoadConfig,
  tokenSecret: string,
  way: PyreWay,
  v1Share = 0,
  reading = false,
): Promise<Adapter> {
  const topic = `room:${config.room}`;
  const room = `room=${encodeURIComponent(config.room)}`;
  const roomBound = (vsn: Vsn) => `${config.wsBase}/socket/websocket?vsn=${vsn}&${room}`;
  const multiplexed = (vsn: Vsn) => `${config.wsBase}/socket/websocket?vsn=${vsn}`;
  const httpBase = config.wsBase.replace(/^ws/, "http");
  // Signed before anything is timed: signing is the app's work at login, not the room's.
  const userIds = [
    config.senderUserId,
    ...Array.from({ length: config.members }, (_, i) => config.firstMemberUserId + i),
  ];
  const tokens = new Map<number, string>();
  await Promise.all(userIds.map(async (id) => tokens.set(id, await signSocketToken(id, tokenSecret))));

  return {
    confirmation: "ack",
    async connect(who, onIncoming, timeoutMs) {
      const userId = who.role === "sender" ? config.senderUserId : config.firstMemberUserId + who.index;
      const token = tokens.get(userId);
      if (token === undefined) throw new Error(`no token for user ${userId}`);
      if (who.role === "sender") return pyreWebSocket(roomBound("2.0.0"), token, topic, onIncoming, timeoutMs);
      const vsn: Vsn = speaksV1(who.index, v1Share) ? "1.0.0" : "2.0.0";
      if (way === "room-bound") return pyreWebSocket(roomBound(vsn), token, topic, onIncoming, timeoutMs, vsn, reading);
      if (way === "multiplexed") return pyreWebSocket(multiplexed(vsn), token, topic, onIncoming, timeoutMs, vsn);
      return pyreLongPoll(httpBase, token, topic, onIncoming, timeoutMs);
    },
  };
}

/** The adapter for a target. */
export function adapterFor(config: LoadConfig, tokenSecret: string): Promise<Adapter> {
  switch (config.target) {
    case "pyre":
      return pyreAdapter(config, tokenSecret, "room-bound");
    case "pyre-mux":
      return pyreAdapter(config, tokenSecret, "multiplexed");
    case "pyre-longpoll":
      return pyreAdapter(config, tokenSecret, "longpoll");
    case "pyre-mixed":
      return pyreAdapter(config, tokenSecret, "room-bound", config.v1Share);
    case "pyre-mux-mixed":
      return pyreAdapter(config, tokenSecret, "multiplexed", config.v1Share);
    case "pyre-reading":
      return pyreAdapter(config, tokenSecret, "room-bound", 0, true);
    case "floor":
    case "ws":
      return Promise.resolve(rawAdapter(config));
  }
}
