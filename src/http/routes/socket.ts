/**
 * `GET /socket/websocket`: the Phoenix socket endpoint (Phoenix.Socket's connect/3). It verifies
 * everything before any room is touched: an upgrade, an allowed Origin, a room name, a protocol version
 * it speaks, and a valid, unexpired, unrevoked token. Only then does it admit the socket to the room's
 * Durable Object, passing the verified identity in a request of its own making.
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { verifyUserToken } from "../../auth/token";
import { admissionRequest } from "../../realtime/admission";
import { userSockets } from "../../realtime/user-sockets";
import { isRoomName } from "../../shared/rooms";
import type { AppEnv } from "../env";
import { isAllowedOrigin } from "../origin";
import { readSocketCredentials } from "../socket-credentials";

export const SOCKET_PATH = "/socket/websocket";
const SERIALIZER_VERSION = "2.0.0";

export const socketRoutes = new Hono<AppEnv>();

socketRoutes.get(SOCKET_PATH, async (c) => {
  if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") {
    throw refusal(426, "This is a WebSocket endpoint: connect with a WebSocket client (Upgrade: websocket).", {
      Upgrade: "websocket",
    });
  }
  const origin = c.req.header("Origin");
  if (origin !== undefined && !isAllowedOrigin(origin, c.req.url, c.var.config.allowedOrigins)) {
    throw refusal(403, `Origin ${origin} may not open sockets here.`);
  }
  const room = c.req.query("room");
  if (room === undefined || room === "") throw refusal(400, "Missing room: connect with params {room: NAME}.");
  if (!isRoomName(room)) throw refusal(400, "Invalid room: room names are 1 to 64 of A-Z a-z 0-9 _ -.");
  const vsn = c.req.query("vsn");
  if (vsn !== undefined && vsn !== SERIALIZER_VERSION) {
    throw refusal(400, `Unsupported vsn ${vsn}: pyre speaks the Phoenix V2 JSON serializer (vsn=2.0.0).`);
  }

  const credentials = readSocketCredentials(c.req.raw);
  if (!credentials.ok) throw refusal(403, `Invalid token: ${credentials.problem}.`);
  if (credentials.token === undefined || credentials.token === "") {
    throw refusal(403, "Missing token: pass the page's user_token as authToken or params.token.");
  }
  const verified = await verifyUserToken(credentials.token, c.var.secrets, c.var.db);
  if (!verified.ok) throw refusal(403, `Token ${verified.reason}: reload the page to get a fresh one.`);

  const user = verified.user;
  const slots = userSockets(c.env, user.id);
  const opened = await slots.open(user.id, user.tokenGeneration, `room:${room}`);
  if (!opened.ok) {
    if (opened.reason === "revoked") throw refusal(403, "Token revoked: reload the page to get a fresh one.");
    throw refusal(
      429,
      `Too many open sockets: at most ${opened.limit} per user across all rooms. Close a tab or another app's connection, then try again.`,
    );
  }

  const rooms = c.env.ROOMS;
  const stub = rooms.get(rooms.idFromName(room));
  try {
    return await stub.fetch(
      admissionRequest({
        room,
        user: { id: user.id, username: user.username },
        token: { generation: user.tokenGeneration, expiresAt: verified.expiresAt.getTime() },
        slot: opened.slot,
        phoenixSubprotocol: credentials.phoenixSubprotocol,
      }),
    );
  } catch (problem) {
    // The room never took the socket, so nothing else will give its slot back.
    await slots.close(opened.slot);
    throw problem;
  }
});

/** Socket refusals are plain text: the client is a program, and the status code is what it acts on. */
function refusal(status: 400 | 403 | 426 | 429, message: string, headers: Record<string, string> = {}): HTTPException {
  return new HTTPException(status, {
    res: new Response(message, { status, headers: { "Content-Type": "text/plain; charset=utf-8", ...headers } }),
  });
}
