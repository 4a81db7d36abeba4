/**
 * `GET /socket/websocket`: the Phoenix socket endpoint (Phoenix.Socket's connect/3). Everything is checked
 * before any Durable Object is touched; then the socket goes, with the verified identity, to its room
 * (`room=ROOM`), which takes the user's socket slot itself, or with a slot to a new SocketSession
 * (docs/protocol.md#the-upgrade, docs/ways-in.md).
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { isKnownRoomId } from "../../realtime/access/room-id";
import { admitToRoom, NO_SUCH_ROOM } from "../../realtime/room/client";
import { admitToSession, newSession } from "../../realtime/session/client";
import type { SlotHolder } from "../../realtime/user-sockets/client";
import { isRoomId } from "../../shared/rooms";
import type { AppEnv } from "../env";
import {
  checkOrigin,
  checkToken,
  checkVsn,
  handOverWithSlot,
  type Refusal,
  socketGrant,
  type VerifiedToken,
} from "./checks";
import { readSocketCredentials } from "./credentials";

export const SOCKET_PATH = "/socket/websocket";

export const socketRoutes = new Hono<AppEnv>();

socketRoutes.get(SOCKET_PATH, async (c) => {
  if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") {
    throw refusal(426, "This is a WebSocket endpoint: connect with a WebSocket client (Upgrade: websocket).", {
      Upgrade: "websocket",
    });
  }
  const badOrigin = checkOrigin(c, "open sockets");
  if (badOrigin) throw refused(badOrigin);
  const room = c.req.query("room");
  if (room !== undefined && !isRoomId(room)) {
    throw refusal(400, "Invalid room: room names are 1 to 64 of A-Z a-z 0-9 _ -.");
  }
  const vsn = checkVsn(c);
  if (!vsn.ok) throw refusal(400, vsn.message);

  const credentials = readSocketCredentials(c.req.raw);
  if (!credentials.ok) throw refusal(403, `Invalid token: ${credentials.problem}.`);
  const verified = await checkToken(c, credentials.token, "authToken or params.token");
  if (!verified.ok) throw refused(verified.refusal);
  const grant = (slot: string | null) => socketGrant(verified, slot, credentials.phoenixSubprotocol, vsn.serializer);

  if (room === undefined) {
    const session = newSession(c.env);
    return admit(c.env, verified, session.holder, (slot) => admitToSession(session, grant(slot)));
  }
  // An id nobody minted never reaches a Durable Object; a non-member of a real one gets the same answer there.
  if (!(await isKnownRoomId(c.env, room))) throw refusal(404, NO_SUCH_ROOM);
  // The room takes the user's slot itself, with those of the sockets arriving at once (one call for a burst);
  // its refusals (revoked, at the cap, not a member) come back as they are.
  return admitToRoom(c.env, { room, ...grant(null), takeSlot: true });
});

/** Hands the socket to a session with one of the user's slots; the slot comes back unless it upgraded (101). */
async function admit(
  env: Env,
  token: VerifiedToken,
  holder: SlotHolder,
  handOver: (slot: string) => Promise<Response>,
): Promise<Response> {
  const admitted = await handOverWithSlot(
    env,
    token,
    holder,
    `GET ${SOCKET_PATH}`,
    handOver,
    (response) => response.status === 101,
  );
  if (!admitted.ok) throw refused(admitted.refusal);
  return admitted.result;
}

function refused({ status, message }: Refusal): HTTPException {
  return refusal(status, message);
}

/** Socket refusals are plain text: the client is a program, and the status code is what it acts on. */
function refusal(
  status: 400 | 403 | 404 | 426 | 429,
  message: string,
  headers: Record<string, string> = {},
): HTTPException {
  return new HTTPException(status, {
    res: new Response(message, { status, headers: { "Content-Type": "text/plain; charset=utf-8", ...headers } }),
  });
}
