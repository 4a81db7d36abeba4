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

export interface ConnectionState {
  room: string;
  user: Member;
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
  static open(ws: WebSocket, room: string, user: Member): Connection {
    const connection = new Connection(ws, { room, user, joinRef: null, mentionsOnly: false });
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

function isConnectionState(value: unknown): value is ConnectionState {
  if (typeof value !== "object" || value === null) return false;
  const state = value as Partial<ConnectionState>;
  return (
    typeof state.room === "string" &&
    typeof state.user?.id === "number" &&
    typeof state.user.username === "string" &&
    (state.joinRef === null || typeof state.joinRef === "string") &&
    typeof state.mentionsOnly === "boolean"
  );
}
