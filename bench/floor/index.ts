/**
 * The fan-out floor: `GET /ws?room=NAME` (an upgrade) joins the room's Durable Object, which sends every
 * text frame it receives, unchanged, to every socket of the room, the sender's included. It uses the
 * same Hibernatable WebSockets API as pyre's Room, and nothing else, so what it costs is what fan-out
 * itself costs in workerd.
 */
import { DurableObject } from "cloudflare:workers";

interface Env {
  ROOMS: DurableObjectNamespace<FloorRoom>;
}

export class FloorRoom extends DurableObject<Env> {
  override async fetch(): Promise<Response> {
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server);
    return new Response(null, { status: 101, webSocket: client });
  }

  override async webSocketMessage(_ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    if (typeof message !== "string") return;
    for (const socket of this.ctx.getWebSockets()) {
      try {
        socket.send(message);
      } catch {
        // A socket that is closing misses this frame; the others still get it.
      }
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    try {
      ws.close(code, reason); // completes the closing handshake
    } catch {
      // Already closed, or a reserved code that may not be echoed.
    }
  }
}

export default {
  async fetch(request, env): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/") return new Response("floor\n"); // the readiness probe
    if (url.pathname !== "/ws") return new Response("Not found\n", { status: 404 });
    if (request.headers.get("Upgrade")?.toLowerCase() !== "websocket") {
      return new Response("Upgrade: websocket required\n", { status: 426 });
    }
    const room = url.searchParams.get("room");
    if (!room) return new Response("Missing room\n", { status: 400 });
    return env.ROOMS.get(env.ROOMS.idFromName(room)).fetch(request);
  },
} satisfies ExportedHandler<Env>;
