/**
 * How the worker reaches socket sessions: a new one for each multiplexed socket or LongPoll session, an
 * existing one by the id its LongPoll session token carries; and the answers a LongPoll session gives.
 */
import { admissionRequest, type SocketGrant } from "../access/admission";
import { type SlotHolder, sessionSlotHolder } from "../user-sockets/client";

export type SessionStub = ReturnType<Env["SESSIONS"]["get"]>;

/** How a long-poll session that is over answers: 403 ends the client, 410 makes it start over and rejoin. */
export type EndedAnswer =
  /** Ended by logout, a password change or an expired token. */
  | { status: 403 }
  /** Over (idle, outbox overflow, a bad frame) or never known here. */
  | { status: 410 };

/** A poll's answer; the worker wraps it as Phoenix's `{status, token, messages}` JSON. */
export type PollAnswer = { status: 200; messages: string[] } | { status: 204 } | EndedAnswer;

/** A publish's answer: 400 when a frame could not be decoded (the session ends, as a WebSocket closes). */
export type PublishAnswer = { status: 200 } | { status: 400; error: string } | EndedAnswer;

export interface NewSession {
  /** Its id, hex: what a LongPoll session token carries. */
  id: string;
  /** How the user's socket slot names it. */
  holder: SlotHolder;
  stub: SessionStub;
}

/** A session nobody has used: each socket without a room, and each LongPoll session, gets its own. */
export function newSession(env: Env): NewSession {
  const id = env.SESSIONS.newUniqueId();
  return { id: id.toString(), holder: sessionSlotHolder(id.toString()), stub: env.SESSIONS.get(id) };
}

/** The session with this id (hex). Throws if it is not a session id. */
export function sessionStub(env: Env, id: string): SessionStub {
  return env.SESSIONS.get(env.SESSIONS.idFromString(id));
}

/** Hands a multiplexed WebSocket to a new session: 101 with the socket, or the session's refusal. */
export function admitToSession(session: NewSession, grant: SocketGrant): Promise<Response> {
  return session.stub.fetch(admissionRequest(grant));
}
