/**
 * The user channel, topic `user:ID` (Phoenix.Channel's role for a person's own topic), for one socket: the
 * same on a room-bound socket (room/user-topic.ts, in the Room) and on a socket session's (session/relay.ts,
 * for a multiplexed socket or LongPoll), since it is the socket's holder that answers it, not a room. A join
 * watches the socket's slot in the user's UserSockets, which sends the holder every `read_state` of theirs
 * (`deliverReadStates`); its reply is the user's counts in every room they may read. What outlives memory
 * (the join's ref and its watch) is kept where the socket keeps the rest of its state, by the host.
 */
import { UserErrorReason, UserEvent, userIdOfTopic, userTopic } from "../../shared/user-contract";
import type { Identity } from "../access/identity";
import { error, type Message, ok, PhoenixEvent, type Ref, sameRef } from "../phoenix/protocol";
import { answerUnmatchedTopic, type FrameSink, replyTo } from "../phoenix/socket-replies";
import { type ReadStatePush, unwatchUserTopic, watchUserTopic } from "./client";

/** A socket's join of `user:ID`, as kept with the socket (its attachment, or its session's state). */
export interface UserTopicJoin {
  /** The join_ref of the join, as the client sent it (or its ref, when it sent none). */
  joinRef: Ref;
  /** The watch UserSockets keeps for it on the socket's slot. */
  watch: string;
}

export function isUserTopicJoin(value: unknown): value is UserTopicJoin {
  const join = value as Partial<UserTopicJoin> | null;
  return typeof join === "object" && join !== null && join.joinRef !== undefined && typeof join.watch === "string";
}

/** What the user channel needs of the socket it serves. */
export interface UserChannelHost {
  readonly env: Env;
  readonly user: Identity;
  /** The socket's slot, which carries the watch. */
  readonly slot: string;
  /** The client, in its serializer. */
  readonly client: FrameSink;
  /** Keeps the join (null: none) where the socket's state outlives memory. */
  save(join: UserTopicJoin | null): void;
  /** The socket has gone away: a join that was waiting must send nothing. */
  gone(): boolean;
  log(where: string, problem: unknown): void;
}

/** A join waiting for its counts: the latest `read_state` per room that came meanwhile, sent after the reply. */
interface Joining {
  joinRef: Ref;
  watch: string;
  held: Map<string, string>;
}

export class UserChannel {
  #joined: UserTopicJoin | null;
  #joining: Joining | null = null;
  /** This channel's frames, one after another: a leave waits for the join before it. */
  #inbox: Promise<void> = Promise.resolve();

  constructor(
    private readonly host: UserChannelHost,
    saved: UserTopicJoin | null,
  ) {
    this.#joined = saved;
  }

  /** The topic is joined, or a join of it waits for its reply: it counts among the socket's channels. */
  get occupied(): boolean {
    return this.#joined !== null || this.#joining !== null;
  }

  /** A frame whose topic starts with `user:`: a join, a leave, or anything else (which it does not take). */
  handle(message: Message): Promise<void> {
    const result = this.#inbox.then(() => this.#route(message));
    this.#inbox = result.catch((problem) => {
      this.host.log(`UserChannel:handle ${message.event}`, problem);
      replyTo(this.host.client, message, error(UserErrorReason.internalError));
    });
    return this.#inbox;
  }

  /**
   * `read_state` for this socket, if its user is `userId` and it joined `user:ID`: pushed at once when
   * joined, held (the latest per room) while its join waits for its reply. Answers the join's watch if it
   * took the state, undefined otherwise.
   */
  deliver(userId: number, room: string, stateJson: string): string | undefined {
    if (userId !== this.host.user.id || this.host.gone()) return undefined;
    if (this.#joining) {
      this.#joining.held.set(room, stateJson);
      return this.#joining.watch;
    }
    if (!this.#joined) return undefined;
    this.#push(this.#joined.joinRef, stateJson);
    return this.#joined.watch;
  }

  async #route(message: Message): Promise<void> {
    if (this.host.gone()) return;
    const { client, user } = this.host;
    const { topic, event } = message;
    const id = userIdOfTopic(topic);
    if (event === PhoenixEvent.leave) return this.#leave(message, id === user.id);
    // `user:abc`, `user:007`: no channel has such a topic, as for any topic nothing serves.
    if (id === undefined) return answerUnmatchedTopic(client, message);
    if (event === PhoenixEvent.join) {
      // Another person's counts are theirs alone.
      if (id !== user.id) return replyTo(client, message, error(UserErrorReason.forbidden));
      return this.#join(message);
    }
    const joined = this.#joined;
    if (id !== user.id || !joined) return answerUnmatchedTopic(client, message);
    if (message.joinRef !== null && !sameRef(message.joinRef, joined.joinRef))
      return replyTo(client, message, error(UserErrorReason.staleJoin));
    replyTo(client, message, error(UserErrorReason.unknownEvent, { event }));
  }

  async #join(message: Message): Promise<void> {
    const { env, user, slot, client } = this.host;
    // A join without any ref never gets here: the socket layer closes the socket for it (1007).
    const joinRef = message.joinRef ?? message.ref;
    // A second join of the topic ends the first, whatever becomes of this one (Phoenix's rule).
    this.#end();
    const joining: Joining = { joinRef, watch: crypto.randomUUID(), held: new Map() };
    this.#joining = joining;
    let answer: Awaited<ReturnType<typeof watchUserTopic>>;
    try {
      answer = await watchUserTopic(env, user.id, slot, joining.watch);
    } catch (problem) {
      this.host.log("UserChannel:join", problem);
      answer = { ok: false, reason: "gone" };
    } finally {
      this.#joining = null;
    }
    if (this.host.gone()) return;
    if (!answer.ok) {
      const refusal =
        answer.reason === "rate_limited"
          ? error(UserErrorReason.rateLimited, { retry_after_ms: answer.retryAfterMs })
          : error(UserErrorReason.unavailable);
      return replyTo(client, message, refusal);
    }
    this.#joined = { joinRef, watch: joining.watch };
    this.host.save(this.#joined);
    replyTo(client, message, ok({ rooms: answer.rooms }));
    // What changed while the counts were read goes after them, newer than the reply or as new.
    for (const stateJson of joining.held.values()) this.#push(joinRef, stateJson);
  }

  #leave(message: Message, ownTopic: boolean): void {
    const joined = this.#joined;
    const current = ownTopic && joined && (message.joinRef === null || sameRef(message.joinRef, joined.joinRef));
    // Not joined (or an old join's leave): ok too, as Phoenix answers it.
    replyTo(this.host.client, message, ok());
    if (current) this.#end();
  }

  /** Ends the current join, if any: `phx_close` to its channel instance, and its watch. */
  #end(): void {
    const joined = this.#joined;
    if (!joined) return;
    this.#joined = null;
    this.host.save(null);
    const { env, user, slot, client } = this.host;
    const topic = userTopic(user.id);
    client.send(client.serializer.close(joined.joinRef, topic));
    void unwatchUserTopic(env, user.id, slot, joined.watch, "UserChannel");
  }

  #push(joinRef: Ref, stateJson: string): void {
    const { client, user } = this.host;
    client.send(client.serializer.push(joinRef, userTopic(user.id), UserEvent.readState, stateJson));
  }
}

/**
 * Hands each `read_state` to the channels of a holder's sockets (each pushes it if its socket joined its
 * user's topic), every state encoded once; answers the watches that took one.
 */
export function deliverReadStates(channels: Iterable<UserChannel>, pushes: readonly ReadStatePush[]): string[] {
  const list = [...channels];
  const taken: string[] = [];
  for (const { userId, state } of pushes) {
    const stateJson = JSON.stringify(state);
    for (const channel of list) {
      const watch = channel.deliver(userId, state.room, stateJson);
      if (watch !== undefined) taken.push(watch);
    }
  }
  return taken;
}
