/**
 * The Room Durable Object: one per chat room, holding its members' WebSockets through the Hibernatable
 * WebSockets API. It is a thin shell: it admits sockets, decodes frames and hands them to the socket layer
 * (socket.ts), which routes them to the room channel (room-channel.ts).
 *
 * Every runtime entry point is guarded (partyserver's rule): an error is logged with where it came from
 * and costs at most the one socket involved, never the room.
 */
import { DurableObject } from "cloudflare:workers";
import { createDatabase, type Database } from "../db/client";
import { roomTopic } from "../shared/rooms";
import { readAdmission } from "./admission";
import { Connection } from "./connection";
import { handleOut } from "./room-channel";
import { Sequencer } from "./sequencer";
import { decode, encodeBroadcast } from "./serializer";
import { handleMalformed, handleMessage, type SocketContext } from "./socket";
import { CloseCode, closeQuietly, frameBytes, MAX_FRAME_BYTES } from "./transport";

export class Room extends DurableObject<Env> {
  /** Built lazily from `getWebSockets()` and attachments, so it is whole again after hibernation. */
  #connections: Map<WebSocket, Connection> | undefined;
  #database: Database | undefined;
  readonly #sequencer = new Sequencer();

  override async fetch(request: Request): Promise<Response> {
    try {
      if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
        return new Response("A room only accepts WebSocket upgrades", { status: 426 });
      }
      const admission = readAdmission(request);
      if (!admission) return new Response("Not an admission from the socket endpoint", { status: 400 });

      // Rebuild the map before accepting: a socket accepted first would be found without its attachment.
      const members = this.#members();
      const { 0: client, 1: server } = new WebSocketPair();
      this.ctx.acceptWebSocket(server);
      members.set(server, Connection.open(server, admission.room, admission.user, admission.token));
      const headers = admission.phoenixSubprotocol ? { "Sec-WebSocket-Protocol": "phoenix" } : undefined;
      return new Response(null, { status: 101, webSocket: client, headers });
    } catch (problem) {
      this.#log("Room:fetch", problem);
      return new Response("The room could not accept the connection", { status: 500 });
    }
  }

  override async webSocketMessage(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
    try {
      const connection = this.#members().get(ws);
      if (!connection) {
        closeQuietly(ws, CloseCode.internalError, "unknown connection; reconnect");
        return;
      }
      if (frameBytes(raw) > MAX_FRAME_BYTES) {
        this.#drop(connection, CloseCode.messageTooBig, `frame exceeds ${MAX_FRAME_BYTES} bytes`);
        return;
      }
      const decoded = decode(raw);
      switch (decoded.kind) {
        case "undecodable":
          this.#drop(connection, CloseCode.invalidPayload, decoded.detail);
          return;
        case "invalid":
          handleMalformed(connection, decoded);
          return;
        case "message":
          await handleMessage(connection, decoded.message, this.#context(connection.state.room));
      }
    } catch (problem) {
      this.#log("Room:webSocketMessage", problem);
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    try {
      this.#members().delete(ws);
      closeQuietly(ws, code, reason); // completes the closing handshake
    } catch (problem) {
      this.#log("Room:webSocketClose", problem);
    }
  }

  override async webSocketError(ws: WebSocket, problem: unknown): Promise<void> {
    this.#log("Room:webSocketError", problem);
    try {
      this.#members().delete(ws);
    } catch (cleanupProblem) {
      this.#log("Room:webSocketError cleanup", cleanupProblem);
    }
  }

  #members(): Map<WebSocket, Connection> {
    if (this.#connections) return this.#connections;
    const connections = new Map<WebSocket, Connection>();
    for (const ws of this.ctx.getWebSockets()) {
      const connection = Connection.restore(ws);
      if (connection) connections.set(ws, connection);
      else closeQuietly(ws, CloseCode.internalError, "lost connection state; reconnect");
    }
    this.#connections = connections;
    return connections;
  }

  #drop(connection: Connection, code: number, reason: string): void {
    this.#members().delete(connection.ws);
    connection.close(code, reason);
  }

  #context(room: string): SocketContext {
    this.#database ??= createDatabase(this.env.DB);
    return {
      room,
      db: this.#database,
      broadcast: (event, payload) => this.#broadcast(room, event, payload),
      serially: (task) => this.#sequencer.run(task),
      drop: (connection, code, reason) => this.#drop(connection, code, reason),
      log: (where, problem) => this.#log(where, problem),
    };
  }

  /** Encodes once and sends the same string to every joined member the channel's handle_out accepts. */
  #broadcast(room: string, event: string, payload: object): void {
    const text = encodeBroadcast(roomTopic(room), event, payload);
    for (const connection of this.#members().values()) {
      if (connection.joined && handleOut(event, payload, connection.state)) connection.send(text);
    }
  }

  #log(where: string, problem: unknown): void {
    console.error(`[pyre] ${where} (room ${this.ctx.id.name ?? this.ctx.id.toString()}):`, problem);
  }
}
