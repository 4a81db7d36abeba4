/**
 * What an upstream knows of its topic's join, from the frames passing through it: the client's joins and
 * leaves going up, the room's replies and `phx_close` coming down. It tells when the topic is no longer
 * joined and nothing is left to answer, so the upstream can close; broadcasts are never parsed.
 */
import { type Message, PhoenixEvent } from "../phoenix/protocol";
import type { Addressee } from "../phoenix/socket-replies";

/** Frames whose ref is null (`[join_ref, null, ...`): pushes and broadcasts, which need no reading. */
const WITHOUT_REF = /^\[(?:null|"(?:[^"\\]|\\.)*"),null,/;

export class JoinTracker {
  /** The join_ref of the client's latest phx_join on this topic; null once it has left. */
  #clientJoinRef: string | null = null;
  /** The join the room confirmed; null while the topic is not joined. */
  #joinedRef: string | null = null;
  /** Refs the room has yet to answer, and which of them are joins. */
  readonly #unanswered = new Set<string>();
  readonly #joins = new Set<string>();
  /** The client's latest join while the room has not answered it yet. */
  #pendingJoin: Addressee | null = null;

  /** The client's latest join, for telling it `phx_error` if the room connection fails; null once it left. */
  get clientJoinRef(): string | null {
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
      this.#clientJoinRef = joinRef ?? ref;
      // A join without a ref gets no reply to watch for, so it counts as joined.
      if (ref === null) this.#joinedRef = this.#clientJoinRef;
      else {
        this.#joins.add(ref);
        this.#pendingJoin = { joinRef, ref, topic };
      }
    } else if (event === PhoenixEvent.leave && (joinRef === null || joinRef === this.#clientJoinRef)) {
      this.#clientJoinRef = null;
    }
    if (ref !== null) this.#unanswered.add(ref);
  }

  /**
   * A frame from the room: a reply or `phx_close` says something of the join. False for a push or a
   * broadcast, skipped unparsed: it changes nothing. `onReply` hears of every reply, read once here: null
   * for ok, else the error's reason ("" without one).
   */
  received(frame: string | ArrayBuffer, onReply?: (ref: string, refusal: string | null) => void): boolean {
    if (typeof frame !== "string" || WITHOUT_REF.test(frame)) return false;
    let parsed: unknown;
    try {
      parsed = JSON.parse(frame);
    } catch {
      return true;
    }
    if (!Array.isArray(parsed)) return true;
    const [joinRef, ref, , event, payload] = parsed as [unknown, unknown, unknown, unknown, unknown];
    if (event === PhoenixEvent.reply && typeof ref === "string") {
      this.#unanswered.delete(ref);
      if (ref === this.#pendingJoin?.ref) this.#pendingJoin = null;
      const ok = (payload as { status?: unknown } | null)?.status === "ok";
      if (this.#joins.delete(ref)) {
        // A join sent without a join_ref is joined under its ref (the room's rule, and Phoenix's).
        this.#joinedRef = ok ? (typeof joinRef === "string" ? joinRef : ref) : null;
      }
      if (onReply) {
        const reason = (payload as { response?: { reason?: unknown } } | null)?.response?.reason;
        onReply(ref, ok ? null : typeof reason === "string" ? reason : "");
      }
    } else if (event === PhoenixEvent.close && joinRef === this.#joinedRef) {
      this.#joinedRef = null;
    }
    return true;
  }
}
