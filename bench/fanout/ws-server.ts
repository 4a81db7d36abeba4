/**
 * The machine's ceiling for `npm run bench:fanout`: a bare Node `ws` server in one process. A client
 * connects to `/ws?room=NAME`; every text frame it sends goes, unchanged, to every client of that room,
 * the sender included. No auth, no storage, no protocol.
 *
 * `node bench/fanout/ws-server.ts PORT` prints `listening PORT` once it accepts connections.
 */
import { createServer } from "node:http";
import { type WebSocket, WebSocketServer } from "ws";

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0 || port > 65_535) {
  console.error("usage: node bench/fanout/ws-server.ts PORT");
  process.exit(2);
}

const rooms = new Map<string, Set<WebSocket>>();
const http = createServer((request, response) => {
  // The readiness probe and anything else that is not an upgrade.
  response.writeHead(request.url === "/" ? 200 : 404, { "Content-Type": "text/plain" }).end("ws\n");
});
const server = new WebSocketServer({ server: http, perMessageDeflate: false });

server.on("connection", (socket, request) => {
  const url = new URL(request.url ?? "/", "http://localhost");
  const room = url.searchParams.get("room");
  if (url.pathname !== "/ws" || !room) {
    socket.close(1008, "connect to /ws?room=NAME");
    return;
  }
  let members = rooms.get(room);
  if (!members) {
    members = new Set();
    rooms.set(room, members);
  }
  const peers = members;
  peers.add(socket);
  socket.on("message", (data, isBinary) => {
    if (isBinary) return;
    for (const peer of peers) {
      if (peer.readyState === peer.OPEN) peer.send(data, { binary: false });
    }
  });
  socket.on("close", () => {
    peers.delete(socket);
    if (peers.size === 0) rooms.delete(room);
  });
});

http.listen(port, "127.0.0.1", () => console.log(`listening ${port}`));
process.on("SIGTERM", () => {
  for (const client of server.clients) client.terminate();
  http.close(() => process.exit(0));
});
