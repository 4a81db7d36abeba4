/**
 * How the load generator talks to each target: connect and join one member, post one message, read one
 * incoming frame. Everything else (pacing, counting, timing) is the same for every target, in load.ts.
 * To measure another way in (e.g. pyre's multiplexed socket), add an adapter here and a target in
 * targets.ts.
 */
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

/**
 * pyre through its real path: a signed token in the `phoenix` + bearer subprotocols (as phoenix.js's
 * `authToken` sends it), the upgrade at `/socket/websocket?room=ROOM`, then `phx_join` on `room:ROOM`.
 * Posts are `new_post` pushes; the room replies to the sender once the post is stored and broadcasts
 * `new_post` to every member. Every other event (presence, typing, ...) is ignored.
 */
export async function pyreAdapter(config: LoadConfig, tokenSecret: string): Promise<Adapter> {
  const topic = `room:${config.room}`;
  const url = `${config.wsBase}/socket/websocket?vsn=2.0.0&room=${encodeURIComponent(config.room)}`;
  // Signed before anything is timed: signing is the app's work at login, not the room's.
  const userIds = [
    config.senderUserId,
    ...Array.from({ length: config.members }, (_, i) => config.firstMemberUserId + i),
  ];
  const tokens = new Map<number, string>();
  await Promise.all(userIds.map(async (id) => tokens.set(id, await signSocketToken(id, tokenSecret))));
  const joinRef = "1";

  return {
    confirmation: "ack",
    async connect(who, onIncoming, timeoutMs) {
      const userId = who.role === "sender" ? config.senderUserId : config.firstMemberUserId + who.index;
      const token = tokens.get(userId);
      if (token === undefined) throw new Error(`no token for user ${userId}`);
      const bearer = `base64url.bearer.phx.${Buffer.from(token).toString("base64url")}`;
      const started = performance.now();
      const ws = await openSocket(url, ["phoenix", bearer], timeoutMs);
      const left = Math.max(1, timeoutMs - (performance.now() - started));

      await new Promise<void>((resolve, reject) => {
        let joined = false;
        const timer = setTimeout(() => finish(new Error(`no phx_join reply within ${timeoutMs} ms`)), left);
        const finish = (problem?: Error) => {
          clearTimeout(timer);
          if (problem) {
            ws.removeAllListeners("message");
            ws.terminate();
            reject(problem);
          } else resolve();
        };
        ws.once("close", (code, reason) => {
          if (!joined) finish(new Error(`closed before the join reply: ${code} ${reason.toString()}`));
        });
        ws.on("message", (data) => {
          const receivedAt = performance.now();
          let frame: PhoenixFrame;
          try {
            frame = JSON.parse(frameText(data)) as PhoenixFrame;
          } catch {
            return;
          }
          const [, ref, frameTopic, event, payload] = frame;
          if (frameTopic !== topic) return;
          if (event === "new_post") {
            if (!joined) return;
            const body = typeof payload.message === "string" ? decodeBody(payload.message) : undefined;
            if (body) onIncoming({ kind: "delivery", ...body }, receivedAt);
            return;
          }
          if (event !== "phx_reply" || ref === null) return;
          const status = payload.status;
          if (ref === joinRef) {
            if (status === "ok") {
              joined = true;
              finish();
            } else finish(new Error(`phx_join answered ${JSON.stringify(payload)}`));
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
        });
        ws.send(JSON.stringify([joinRef, joinRef, topic, "phx_join", {}]));
      });

      return {
        post: (seq) =>
          ws.send(
            JSON.stringify([
              joinRef,
              `p${seq}`,
              topic,
              "new_post",
              { message: encodeBody(seq), client_id: `b-${seq}` },
            ]),
          ),
        close: (closeTimeoutMs) => closeSocket(ws, closeTimeoutMs),
      };
    },
  };
}

/** The adapter for a target; a new target (e.g. pyre over a multiplexed socket) adds its case here. */
export function adapterFor(config: LoadConfig, tokenSecret: string): Promise<Adapter> {
  switch (config.target) {
    case "pyre":
      return pyreAdapter(config, tokenSecret);
    case "floor":
    case "ws":
      return Promise.resolve(rawAdapter(config));
  }
}
