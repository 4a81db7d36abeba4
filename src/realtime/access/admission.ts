/**
 * The one way into a room: after the worker has verified the token and the Origin (and taken a socket
 * slot for the user), it builds an admission request carrying only what the room needs. It is a fresh
 * Request, never the client's, so no header a client sent can reach the room or pose as an identity.
 */
import type { SerializerVersion } from "../phoenix/serializer";
import { isSerializerVersion } from "../phoenix/vsn";
import { type Identity, isIdentity, isTokenGrant, type TokenGrant } from "./identity";

export { TOKEN_REVOKED } from "./identity";

const ADMISSION_HEADER = "x-pyre-admission";

export interface Admission {
  room: string;
  user: Identity;
  token: TokenGrant;
  /** The user's socket slot, which the room gives back when the socket ends; null for a relayed socket. */
  slot: string | null;
  /** The client offered Phoenix's `phoenix` subprotocol (authToken); the room must select it. */
  phoenixSubprotocol: boolean;
  /**
   * The serializer the client speaks (its `vsn`). A socket session admits itself to each room with its
   * client's, so the room encodes for that client and the session relays frames as they are.
   */
  vsn: SerializerVersion;
  /**
   * The room takes the user's slot itself (`slot` is then null): the worker's room-bound sockets, whose
   * slots a room asks for together when many arrive at once (user-sockets/client.ts `SlotBatches`).
   */
  takeSlot?: boolean;
}

/**
 * The same terms without a room: what the worker hands a socket session (session/), which then
 * admits itself to each room its client joins.
 */
export type SocketGrant = Omit<Admission, "room" | "takeSlot">;

export function admissionRequest(admission: Admission | SocketGrant): Request {
  return new Request("https://room.internal/socket", {
    headers: { Upgrade: "websocket", [ADMISSION_HEADER]: JSON.stringify(admission) },
  });
}

export function readAdmission(request: Request): Admission | undefined {
  const value = readHeader(request);
  if (value === undefined || typeof value.room !== "string") return undefined;
  const grant = toGrant(value);
  return grant && { room: value.room, ...grant, takeSlot: value.takeSlot === true && grant.slot === null };
}

export function readSocketGrant(request: Request): SocketGrant | undefined {
  const value = readHeader(request);
  return value === undefined ? undefined : toGrant(value);
}

function readHeader(request: Request): Partial<Admission> | undefined {
  const header = request.headers.get(ADMISSION_HEADER);
  if (header === null) return undefined;
  try {
    const value: unknown = JSON.parse(header);
    return typeof value === "object" && value !== null ? value : undefined;
  } catch {
    return undefined;
  }
}

function toGrant(value: Partial<Admission>): SocketGrant | undefined {
  if (
    !isIdentity(value.user) ||
    !isTokenGrant(value.token) ||
    (value.slot !== null && typeof value.slot !== "string") ||
    typeof value.phoenixSubprotocol !== "boolean" ||
    (value.vsn !== undefined && !isSerializerVersion(value.vsn))
  ) {
    return undefined;
  }
  return {
    user: { id: value.user.id, username: value.user.username },
    token: { generation: value.token.generation, expiresAt: value.token.expiresAt },
    slot: value.slot,
    phoenixSubprotocol: value.phoenixSubprotocol,
    // From a worker of a deploy before V1, which admitted only V2 sockets.
    vsn: value.vsn ?? "2.0.0",
  };
}
