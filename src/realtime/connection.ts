/**
 * One member's connection to a room: the hibernatable WebSocket plus what the room knows about it.
 *
 * All of that state lives in the socket's attachment (merge-written on every change), so a room that was
 * evicted from memory and woken by the next frame rebuilds every connection from `getWebSockets()` and
 * loses nothing (the workers-chat-demo idiom).
 */
import { closeQuietly, sendQuietly } from "./transport";

export interface Member {
  id: number;
  username: string;
}

/** What the verified token granted: revoked when the user's generation moves on, over at `expiresAt`. */
export interface TokenGrant {
  generation: number;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

export interface ConnectionState {
  room: string;
  user: Member;
  token: TokenGrant;
  /** The join_ref of the current join of the room's topic; null while not joined. */
  joinRef: string | null;
  /** Joined with `mentions_only: true`: receives only posts that mention `user.username`. */
  mentionsOnly: boolean;
}

export class Connection {
  #state: ConnectionState;

  private constructor(
    readonly ws: WebSocket,
    state: ConnectionState,
  ) {
    this.#state = state;
  }

  /** A new socket: writes its first attachment. */
  static open(ws: WebSocket, room: string, user: Member, token: TokenGrant): Connection {
    const connection = new Connection(ws, { room, user, token, joinRef: null, mentionsOnly: false });
    ws.serializeAttachment(connection.#state);
    return connection;
  }

  /** A socket accepted earlier, maybe by an instance that has since been evicted. */
  static restore(ws: WebSocket): Connection | undefined {
    const state: unknown = ws.deserializeAttachment();
    return isConnectionState(state) ? new Connection(ws, state) : undefined;
  }

  get state(): Readonly<ConnectionState> {
    return this.#state;
  }

  get joined(): boolean {
    return this.#state.joinRef !== null;
  }

  update(patch: Partial<ConnectionState>): void {
    this.#state = { ...this.#state, ...patch };
    this.ws.serializeAttachment(this.#state);
  }

  send(text: string): boolean {
    return sendQuietly(this.ws, text);
  }

  close(code: number, reason: string): void {
    closeQuietly(this.ws, code, reason);
  }
}

export function isMember(value: unknown): value is Member {
  const member = value as Partial<Member> | null;
  return typeof member?.id === "number" && typeof member.username === "string";
}

export function isTokenGrant(value: unknown): value is TokenGrant {
  const grant = value as Partial<TokenGrant> | null;
  return typeof grant?.generation === "number" && typeof grant.expiresAt === "number";
}

function isConnectionState(value: unknown): value is ConnectionState {
  const state = value as Partial<ConnectionState> | null;
  return (
    typeof state?.room === "string" &&
    isMember(state.user) &&
    isTokenGrant(state.token) &&
    (state.joinRef === null || typeof state.joinRef === "string") &&
    typeof state.mentionsOnly === "boolean"
  );
}
