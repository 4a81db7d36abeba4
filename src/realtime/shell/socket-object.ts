/**
 * The Durable Object shell, written once (partyserver's `Server`): the Room and the SocketSession extend it
 * and implement hooks. Every runtime entry point is guarded, so an error costs at most the socket involved;
 * the closing handshake is always completed; teardown noise from a socket already going away is not logged;
 * a socket silent for the idle time is closed (idle.ts).
 */
import { DurableObject } from "cloudflare:workers";
import { configOf } from "../../config";
import { logError } from "../../log";
import { HEARTBEAT_FRAME, HEARTBEAT_REPLY } from "../../shared/heartbeat";
import { CloseCode, closeQuietly } from "../phoenix/transport";
import { forgetAlarm, wakeBy } from "./alarms";
import { guardedAlarm } from "./guarded-alarm";
import { IdleWatch } from "./idle";

export interface ObjectKind {
  /** The class, as logs name it: "Room", "SocketSession". */
  label: string;
  /** What a refusal calls it: "room", "socket session". */
  noun: string;
}

export abstract class SocketObject extends DurableObject<Env> {
  protected abstract readonly kind: ObjectKind;
  #idleWatch: IdleWatch | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // pyre's own client heartbeats with one constant frame; the runtime answers it without waking us.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(HEARTBEAT_FRAME, HEARTBEAT_REPLY));
  }

  /** An admission from the worker: answers 101 with a socket accepted by {@link acceptSocket}, or refuses. */
  protected abstract onAdmission(request: Request): Response | Promise<Response>;
  protected abstract onMessage(ws: WebSocket, raw: string | ArrayBuffer): void | Promise<void>;
  /**
   * The socket closed or failed, or the shell closed it for silence: forget it. Idempotent: after the shell's
   * close, the close that answers it calls this again.
   */
  protected abstract onSocketEnd(ws: WebSocket): void | Promise<void>;
  protected abstract onAlarm(): void | Promise<void>;
  /**
   * Writes `at` as the socket's `lastFrameAt` (idle.ts `FrameClock`) into its attachment, keeping the rest;
   * called now and then, not on every frame. A socket whose attachment holds `lastFrameAt: null`, or none,
   * is one the idle rule leaves alone.
   */
  protected abstract recordLastFrame(ws: WebSocket, at: number): void;

  override async fetch(request: Request): Promise<Response> {
    try {
      if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
        return new Response(`A ${this.kind.noun} only accepts WebSocket upgrades`, { status: 426 });
      }
      return await this.onAdmission(request);
    } catch (problem) {
      this.log(`${this.kind.label}:fetch`, problem);
      return new Response(`The ${this.kind.noun} could not accept the connection`, { status: 500 });
    }
  }

  override async webSocketMessage(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
    try {
      this.#idle.heard(ws, Date.now());
    } catch (problem) {
      this.log(`${this.kind.label}:idle`, problem);
    }
    try {
      await this.onMessage(ws, raw);
    } catch (problem) {
      this.log(`${this.kind.label}:webSocketMessage`, problem);
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    try {
      await this.onSocketEnd(ws);
    } catch (problem) {
      this.log(`${this.kind.label}:webSocketClose`, problem);
    } finally {
      closeQuietly(ws, code, reason); // completes the closing handshake
    }
  }

  override async webSocketError(ws: WebSocket, problem: unknown): Promise<void> {
    if (!isBenignTeardownError(ws, problem)) this.log(`${this.kind.label}:webSocketError`, problem);
    try {
      await this.onSocketEnd(ws);
    } catch (cleanupProblem) {
      this.log(`${this.kind.label}:webSocketError cleanup`, cleanupProblem);
    }
  }

  /**
   * The object's one alarm (alarms.ts): the idle sweep, then the object's own jobs. The alarm's time is
   * read again from storage once the run begins (it is spent) and once it ends (a failed run is retried).
   */
  override async alarm(): Promise<void> {
    await forgetAlarm(this.ctx.storage);
    try {
      await guardedAlarm(
        `${this.kind.label}:alarm`,
        async () => {
          try {
            await this.#sweepIdle();
          } finally {
            await this.onAlarm();
          }
        },
        (where, problem) => this.log(where, problem),
      );
    } finally {
      await forgetAlarm(this.ctx.storage);
    }
  }

  /**
   * Accepts a hibernatable socket, with `tags` to find it by (`getWebSockets(tag)`), lets `attach` write its
   * first attachment (with `lastFrameAt` now, or null for a socket the idle rule leaves alone), and answers 101.
   */
  protected acceptSocket(
    phoenixSubprotocol: boolean,
    attach: (server: WebSocket) => void,
    tags: string[] = [],
  ): Response {
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server, tags);
    attach(server);
    const now = Date.now();
    if (this.#idle.opened(server, now)) {
      // Nothing can be idle before then; the sweep asks again for as long as it finds sockets.
      wakeBy(this.ctx.storage, now + this.#idle.idleMs).catch((problem) =>
        this.log(`${this.kind.label}:idle`, problem),
      );
    }
    // The client offered `phoenix` (phoenix.js's authToken): the handshake must select it.
    const headers = phoenixSubprotocol ? { "Sec-WebSocket-Protocol": "phoenix" } : undefined;
    return new Response(null, { status: 101, webSocket: client, headers });
  }

  /**
   * Closes the sockets silent for the idle time (close code 4408, which clients reconnect after) and ends
   * them as any socket end does (presence, rooms, slot), then asks to sweep again while sockets are left.
   */
  async #sweepIdle(): Promise<void> {
    const now = Date.now();
    const { silent, nextAt } = this.#idle.sweep(
      this.ctx.getWebSockets(),
      (ws) => this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? null,
      now,
    );
    for (const ws of silent) {
      // Closed first, so the client is told why (ending a socket may close it with another code).
      closeQuietly(ws, CloseCode.idle, this.#idle.reason);
      try {
        await this.onSocketEnd(ws);
      } catch (problem) {
        this.log(`${this.kind.label}:idle close`, problem);
      }
    }
    if (nextAt !== undefined) await wakeBy(this.ctx.storage, nextAt);
  }

  get #idle(): IdleWatch {
    this.#idleWatch ??= new IdleWatch(configOf(this.env).socketIdleMs, (ws, at) => this.recordLastFrame(ws, at));
    return this.#idleWatch;
  }

  protected log(where: string, problem: unknown): void {
    logError(`${where} (${this.kind.noun} ${this.ctx.id.name ?? this.ctx.id.toString()})`, problem);
  }
}

/**
 * An error on a socket that is already closing or closed, from the peer going away (a closed tab, a lost
 * network): what every socket's end looks like from here, not a failure worth a log line.
 */
export function isBenignTeardownError(ws: WebSocket, problem: unknown): boolean {
  if (ws.readyState !== WebSocket.READY_STATE_CLOSING && ws.readyState !== WebSocket.READY_STATE_CLOSED) return false;
  if (typeof problem !== "object" || problem === null) return false;
  if ((problem as { retryable?: unknown }).retryable === true) return true;
  const message = (problem as { message?: unknown }).message;
  return typeof message === "string" && /Network connection lost|WebSocket peer disconnected/i.test(message);
}
