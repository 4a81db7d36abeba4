/**
 * A socket session's own check on its user's posts, before it relays them. The allowance across rooms
 * (USER_POSTS_*) is kept by UserSockets and enforced by each room, for every way in; but a post the room
 * refuses has already cost the hop to the room and back, which under a flood on one socket costs everyone
 * else as much as storing it would (measured: bench/flood). Every post of this socket passes here, so one
 * past the allowance from this socket alone is past it for certain: refused here, with the room's own
 * answer (`rate_limited`, `retry_after_ms`), without being relayed. What counts is posts attempted: a post
 * the room refused as `rate_limited` counts (were it given back, a flood the rooms refuse would pass here
 * forever), one it refused for anything else (bad input, unavailable) gives its token back. The rooms stay
 * the authority: only they see the user's other sockets.
 */
import { RoomErrorReason } from "../../shared/room-contract";
import { type Ref, refKey } from "../phoenix/protocol";
import { type BucketState, type RatePolicy, takeToken } from "../room/rate-limit";

export type Admit = { ok: true } | { ok: false; retryAfterMs: number };

export class PostGate {
  #bucket: BucketState | undefined;
  /** Posts relayed and not answered yet, as `topic` and ref (its JSON: refs may be any JSON value). */
  readonly #unanswered = new Map<string, Set<string>>();

  constructor(private readonly policy: RatePolicy) {}

  /** A post for `topic`: relay it, or how long until this socket may post again. */
  admit(topic: string, ref: Ref, now = Date.now()): Admit {
    const take = takeToken(this.policy, this.#bucket, now);
    this.#bucket = take.bucket;
    if (!take.ok) return { ok: false, retryAfterMs: take.retryAfterMs };
    if (ref !== null) {
      const refs = this.#unanswered.get(topic) ?? new Set<string>();
      refs.add(refKey(ref));
      this.#unanswered.set(topic, refs);
    }
    return { ok: true };
  }

  /**
   * The room answered `ref` on `topic` (`refusal`: null for ok, else the error's reason): a post refused
   * for anything but a limit gives its token back.
   */
  answered(topic: string, ref: Ref, refusal: string | null): void {
    const refs = this.#unanswered.get(topic);
    if (!refs?.delete(refKey(ref)) || refusal === null || refusal === RoomErrorReason.rateLimited || !this.#bucket)
      return;
    this.#bucket = { tokens: Math.min(this.policy.burst, this.#bucket.tokens + 1), at: this.#bucket.at };
  }

  /** The topic's room connection is gone: its posts will not be answered by the room. */
  forget(topic: string): void {
    this.#unanswered.delete(topic);
  }
}
