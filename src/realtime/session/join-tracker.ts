/**
 * What an upstream knows of its topic's join, from the frames passing through it: the client's joins and
 * leaves going up, the room's replies and `phx_close` coming down. It tells when the topic is no longer
 * joined and nothing is left to answer, so the upstream can close; broadcasts are never parsed.
 */
import { type Message, PhoenixEvent, type Ref, refKey, sameRef } from "../phoenix/protocol";
import type { Serializer } from "../phoenix/serializer";
import type { Addressee } from "../phoenix/socket-replies";

export class JoinTracker {
  /** The join_ref of the client's latest phx_join on this topic; null once it has left. */
  #clientJoinRef: Ref = null;
  /** The join the room confirmed; null while the topic is not joined. */
  #joinedRef: Ref = null;
  /** Refs the room has yet to answer (as `refKey`s), and which of them are joins, with their join refs. */
  readonly #unanswered = new Set<string>();
  readonly #joins = new Map<string, Ref>();
  /** The client's latest join while the room has not answered it yet. */
  #pendingJoin: Addressee | null = null;

  /** `serializer`: the one the client and the room speak on this topic (the client's). */
  constructor(private readonly serializer: Serializer) {}

  /** The client's latest join, for telling it `phx_error` if the room connection fails; null once it left. */
  get clientJoinRef(): Ref {
    return this.#clientJoinRef;
  }

  /** The client's latest join if the room has not answered it: a failure now is Phoenix's "join crashed". */
  get pendingJoin(): Addressee | null {
    return this.#pendingJoin;
  }

  /** The topic is not joined and the room owes no reply: nothing more can come through for the client. */
  get settled(): boolean {
    return this.#joinedRef === null && this.#unanswered.size === 0;
  }

  /** A client frame on its way to the room. */
  sent({ ref, joinRef, topic, event }: Pick<Message, "ref" | "joinRef" | "topic" | "event">): void {
    if (event === PhoenixEvent.join) {
      // A join sent without a join_ref is joined under its ref (the room's rule, and Phoenix's).
      this.#clientJoinRef = joinRef ?? ref;
      // A join without a ref gets no reply to watch for, so it counts as joined.
      if (ref === null) this.#joinedRef = this.#clientJoinRef;
      else {
        this.#joins.set(refKey(ref), this.#clientJoinRef);
        this.#pendingJoin = { joinRef, ref, topic };
      }
    } else if (event === PhoenixEvent.leave && (joinRef === null || sameRef(joinRef, this.#clientJoinRef))) {
      this.#clientJoinRef = null;
    }
    if (ref !== null) this.#unanswered.add(refKey(ref));
  }

  /**
   * A frame from the room: a reply or `phx_close` says something of the join. False for a push or a
   * broadcast, skipped unparsed: it changes nothing. `onReply` hears of every reply, read once here: null
   * for ok, else the error's reason ("" without one).
   */
  received(frame: string | ArrayBuffer, onReply?: (ref: Ref, refusal: string | null) => void): boolean {
    if (typeof frame !== "string" || this.serializer.withoutRef(frame)) return false;
    const decoded = this.serializer.decode(frame);
    if (decoded.kind !== "message") return true;
    const { joinRef, ref, event, payload } = decoded.message;
    if (event === PhoenixEvent.reply && ref !== null) {
      const key = refKey(ref);
      this.#unanswered.delete(key);
      if (this.#pendingJoin && sameRef(ref, this.#pendingJoin.ref)) this.#pendingJoin = null;
      const reply = payload as { status?: unknown; response?: { reason?: unknown } };
      const ok = reply.status === "ok";
      const join = this.#joins.get(key);
      if (join !== undefined) {
        this.#joins.delete(key);
        this.#joinedRef = ok ? join : null;
      }
      if (onReply) {
        const reason = reply.response?.reason;
        onReply(ref, ok ? null : typeof reason === "string" ? reason : "");
      }
    } else if (event === PhoenixEvent.close && this.#joinedRef !== null && sameRef(joinRef ?? ref, this.#joinedRef)) {
      // V2's phx_close carries the join ref twice; V1's only as its ref.
      this.#joinedRef = null;
    }
    return true;
  }
}
