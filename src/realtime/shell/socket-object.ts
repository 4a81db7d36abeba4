/**
 * The Durable Object shell, written once (partyserver's `Server`): the Room and the SocketSession extend it
 * and implement hooks. Every runtime entry point is guarded, so an error costs at most the socket involved;
 * the closing handshake is always completed; teardown noise from a socket already going away is not logged.
 */
import { DurableObject } from "cloudflare:workers";
import { logError } from "../../log";
import { HEARTBEAT_FRAME, HEARTBEAT_REPLY } from "../../shared/heartbeat";
import { closeQuietly } from "../phoenix/transport";
import { guardedAlarm } from "./guarded-alarm";

export interface ObjectKind {
  /** The class, as logs name it: "Room", "SocketSession". */
  label: string;
  /** What a refusal calls it: "room", "socket session". */
  noun: string;
}

export abstract class SocketObject extends DurableObject<Env> {
  protected abstract readonly kind: ObjectKind;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // pyre's own client heartbeats with one constant frame; the runtime answers it without waking us.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(HEARTBEAT_FRAME, HEARTBEAT_REPLY));
  }

  /** An admission from the worker: answers 101 with a socket accepted by {@link acceptSocket}, or refuses. */
  protected abstract onAdmission(request: Request): Response | Promise<Response>;
  protected abstract onMessage(ws: WebSocket, raw: string | ArrayBuffer): void | Promise<void>;
  /** The socket closed or failed: forget it. Called once per socket end, whichever way it ended. */
  protected abstract onSocketEnd(ws: WebSocket): void | Promise<void>;
  protected abstract onAlarm(): void | Promise<void>;

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

  override async alarm(): Promise<void> {
    await guardedAlarm(
      `${this.kind.label}:alarm`,
      () => this.onAlarm(),
      (where, problem) => this.log(where, problem),
    );
  }

  /** Accepts a hibernatable socket, lets `attach` write its first attachment, and answers 101. */
  protected acceptSocket(phoenixSubprotocol: boolean, attach: (server: WebSocket) => void): Response {
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server);
    attach(server);
    // The client offered `phoenix` (phoenix.js's authToken): the handshake must select it.
    const headers = phoenixSubprotocol ? { "Sec-WebSocket-Protocol": "phoenix" } : undefined;
    return new Response(null, { status: 101, webSocket: client, headers });
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
