/**
 * The Room Durable Object: one per chat room, holding its members' WebSockets through the Hibernatable
 * WebSockets API. It is a thin shell: it admits sockets, decodes frames and hands them to the socket layer
 * (socket.ts), which routes them to the room channel (room-channel.ts); what the room holds in memory is
 * in room-state.ts.
 *
 * Every runtime entry point is guarded (partyserver's rule): an error is logged with where it came from
 * and costs at most the one socket involved, never the room.
 */
import { DurableObject } from "cloudflare:workers";
import { configOf } from "../../config";
import { logError } from "../../log";
import { HEARTBEAT_FRAME, HEARTBEAT_REPLY } from "../../shared/heartbeat";
import type { Post } from "../../shared/post";
import { SESSION_ENDED_CLOSE_CODE } from "../../shared/room-contract";
import { readAdmission } from "../access/admission";
import { rememberRevocation } from "../access/remembered-revocations";
import { readFrame } from "../phoenix/serializer";
import { CloseCode, closeQuietly } from "../phoenix/transport";
import type { SocketHolder } from "../user-sockets/user-sockets";
import { wakeBy } from "./alarms";
import { type HistoryQuery, RoomState } from "./live-room";
import { handleMalformed, handleMessage } from "./router";

export class Room extends DurableObject<Env> implements SocketHolder {
  #state: RoomState | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // pyre's own client heartbeats with one constant frame; the runtime answers it without waking us.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(HEARTBEAT_FRAME, HEARTBEAT_REPLY));
  }

  override async fetch(request: Request): Promise<Response> {
    try {
      if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
        return new Response("A room only accepts WebSocket upgrades", { status: 426 });
      }
      const admission = readAdmission(request);
      if (!admission) return new Response("Not an admission from the socket endpoint", { status: 400 });
      return this.#room(admission.room).admit(admission);
    } catch (problem) {
      this.#log("Room:fetch", problem);
      return new Response("The room could not accept the connection", { status: 500 });
    }
  }

  override async webSocketMessage(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
    try {
      const room = this.#awake();
      const connection = room?.get(ws);
      if (!room || !connection) {
        closeQuietly(ws, CloseCode.internalError, "unknown connection; reconnect");
        return;
      }
      const frame = readFrame(raw);
      switch (frame.kind) {
        case "close":
          room.drop(connection, frame.code, frame.reason);
          return;
        case "invalid":
          handleMalformed(connection, frame);
          return;
        case "message":
          await handleMessage(connection, frame.message, room);
      }
    } catch (problem) {
      this.#log("Room:webSocketMessage", problem);
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    try {
      const room = this.#awake();
      const connection = room?.get(ws);
      if (room && connection) await room.forget(connection);
      closeQuietly(ws, code, reason); // completes the closing handshake
    } catch (problem) {
      this.#log("Room:webSocketClose", problem);
    }
  }

  override async webSocketError(ws: WebSocket, problem: unknown): Promise<void> {
    this.#log("Room:webSocketError", problem);
    try {
      const room = this.#awake();
      const connection = room?.get(ws);
      if (room && connection) await room.forget(connection);
    } catch (cleanupProblem) {
      this.#log("Room:webSocketError cleanup", cleanupProblem);
    }
  }

  /**
   * The room's one alarm, for every job that asked for it (alarms.ts): closes the sockets whose token has
   * expired, and retries copying posts to D1 after a failure that nothing else has woken the room for.
   */
  override async alarm(): Promise<void> {
    try {
      const room = this.#awake();
      if (!room) return;
      const nextExpiry = room.dropExpired();
      if (nextExpiry !== undefined) await wakeBy(this.ctx.storage, nextExpiry);
      if (room.postLog.uncopied) room.postLog.resume();
    } catch (problem) {
      this.#log("Room:alarm", problem);
    }
  }

  /**
   * RPC from the worker: a page of the room's history, oldest first. The room answers rather than D1
   * alone, because only the room knows the posts it has stored and broadcast but not yet copied to D1.
   */
  async history(query: HistoryQuery): Promise<Post[]> {
    const room = this.#awake();
    if (!room) throw new Error("a room without a name cannot page its history");
    return room.page(query);
  }

  /** RPC from UserSockets: the user's slots this room still holds. */
  async liveSlots(userId: number): Promise<string[]> {
    return this.#awake()?.liveSlots(userId) ?? [];
  }

  /** RPC from UserSockets: the user logged out or changed password; end their older sockets here. */
  async endUserSockets(userId: number, validFrom: number): Promise<void> {
    const room = this.#awake();
    if (room) room.endUserSockets(userId, validFrom, SESSION_ENDED_CLOSE_CODE);
    // No sockets here (yet): still remember, for an admission that is on its way.
    else rememberRevocation(this.ctx.storage, userId, validFrom);
  }

  /** The room's state, built on first use after the room wakes. */
  #room(name: string): RoomState {
    this.#state ??= new RoomState(this.ctx, this.env, name, configOf(this.env).roomLimits, (where, problem) =>
      this.#log(where, problem),
    );
    return this.#state;
  }

  /**
   * The state of a room woken by a socket or a call. Its name is the id's name (rooms are addressed with
   * `idFromName`), or failing that the one its sockets' attachments carry.
   */
  #awake(): RoomState | undefined {
    if (this.#state) return this.#state;
    const name = this.ctx.id.name ?? RoomState.roomOf(this.ctx);
    return name === undefined ? undefined : this.#room(name);
  }

  #log(where: string, problem: unknown): void {
    logError(`${where} (room ${this.ctx.id.name ?? this.ctx.id.toString()})`, problem);
  }
}
