/**
 * The one way into a room: after the worker has verified the token and the Origin (and taken a socket
 * slot for the user), it builds an admission request carrying only what the room needs. It is a fresh
 * Request, never the client's, so no header a client sent can reach the room or pose as an identity.
 */
import { isMember, isTokenGrant, type Member, type TokenGrant } from "./connection";

const ADMISSION_HEADER = "x-pyre-admission";

export interface Admission {
  room: string;
  user: Member;
  token: TokenGrant;
  /** The user's socket slot, which the room gives back when the socket ends; null for a relayed socket. */
  slot: string | null;
  /** The client offered Phoenix's `phoenix` subprotocol (authToken); the room must select it. */
  phoenixSubprotocol: boolean;
}

export function admissionRequest(admission: Admission): Request {
  return new Request("https://room.internal/socket", {
    headers: { Upgrade: "websocket", [ADMISSION_HEADER]: JSON.stringify(admission) },
  });
}

export function readAdmission(request: Request): Admission | undefined {
  const header = request.headers.get(ADMISSION_HEADER);
  if (header === null) return undefined;
  let value: Partial<Admission>;
  try {
    value = JSON.parse(header);
  } catch {
    return undefined;
  }
  if (
    typeof value.room !== "string" ||
    !isMember(value.user) ||
    !isTokenGrant(value.token) ||
    (value.slot !== null && typeof value.slot !== "string") ||
    typeof value.phoenixSubprotocol !== "boolean"
  ) {
    return undefined;
  }
  return {
    room: value.room,
    user: { id: value.user.id, username: value.user.username },
    token: { generation: value.token.generation, expiresAt: value.token.expiresAt },
    slot: value.slot,
    phoenixSubprotocol: value.phoenixSubprotocol,
  };
}
