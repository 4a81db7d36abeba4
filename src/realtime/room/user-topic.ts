/**
 * The room's side of the `user:ID` topic (user-sockets/user-topic.ts): a room-bound socket may join its
 * user's topic besides its room's, so the room page's own socket carries the sidebar's counts. The room
 * keeps each socket's join in its attachment (connection.ts), and finds a user's sockets by their tag
 * without waking the live room, so a `read_state` for a hibernating room costs only that user's sockets.
 */
import type { Message } from "../phoenix/protocol";
import { answerUnmatchedTopic } from "../phoenix/socket-replies";
import type { ReadStatePush } from "../user-sockets/client";
import { deliverReadStates, UserChannel } from "../user-sockets/user-topic";
import type { Connection } from "./connection";

/** The tag a room gives each socket of user `userId` when it accepts it (`getWebSockets(tag)`). */
export function userSocketTag(userId: number): string {
  return `user:${userId}`;
}

export class RoomUserTopics {
  /**
   * Each connection's channel, made from its attachment when first needed. Keyed by the connection, not the
   * socket: a channel writes the join through its connection, and only the live room's connection of a
   * socket may write its attachment (another one's older state would overwrite the live room's).
   */
  readonly #channels = new WeakMap<Connection, UserChannel>();

  constructor(
    private readonly env: Env,
    private readonly log: (where: string, problem: unknown) => void,
  ) {}

  /** A frame for a `user:` topic on `connection`. A session's upstream (no slot) never carries one. */
  handle(connection: Connection, message: Message): Promise<void> {
    if (connection.state.slot === null) {
      answerUnmatchedTopic(connection, message);
      return Promise.resolve();
    }
    return this.#channelOf(connection)?.handle(message) ?? Promise.resolve();
  }

  /** Pushes each `read_state` to its user's sockets here on `user:ID`; answers the watches that took one. */
  push(connections: Iterable<Connection>, pushes: readonly ReadStatePush[]): string[] {
    const channels: UserChannel[] = [];
    for (const connection of connections) {
      const channel = this.#channelOf(connection);
      if (channel) channels.push(channel);
    }
    return deliverReadStates(channels, pushes);
  }

  #channelOf(connection: Connection): UserChannel | undefined {
    const known = this.#channels.get(connection);
    if (known) return known;
    const { slot, user } = connection.state;
    if (slot === null) return undefined;
    const channel = new UserChannel(
      {
        env: this.env,
        user,
        slot,
        client: connection,
        save: (join) => connection.update({ userTopic: join }),
        gone: () => connection.gone || connection.ws.readyState !== WebSocket.READY_STATE_OPEN,
        log: this.log,
      },
      connection.state.userTopic,
    );
    this.#channels.set(connection, channel);
    return channel;
  }
}
