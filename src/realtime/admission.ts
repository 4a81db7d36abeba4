/**
 * The one way into a room: after the worker has verified the token and the Origin, it builds an
 * admission request carrying only what the room needs. It is a fresh Request, never the client's, so
 * no header a client sent can reach the room or pose as an identity.
 */
import type { Member } from "./connection";

const ADMISSION_HEADER = "x-pyre-admission";

export interface Admission {
  room: string;
  user: Member;
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
  try {
    const value = JSON.parse(header) as Partial<Admission>;
    if (
      typeof value.room === "string" &&
      typeof value.user?.id === "number" &&
      typeof value.user.username === "string" &&
      typeof value.phoenixSubprotocol === "boolean"
    ) {
      return {
        room: value.room,
        user: { id: value.user.id, username: value.user.username },
        phoenixSubprotocol: value.phoenixSubprotocol,
      };
    }
  } catch {
    // Falls through: not an admission.
  }
  return undefined;
}
