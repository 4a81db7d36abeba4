/**
 * Post rate limits: a token bucket per user per room. A member may post `burst` times at once and then
 * `perSecond` times a second; a post over the limit is answered `rate_limited` with how long to wait,
 * and is neither stored nor broadcast. All of a user's sockets in the room share one bucket, so opening
 * more tabs does not buy more posts.
 *
 * The room keeps the buckets in memory and writes each one into the attachment of the socket that last
 * spent from it; after an eviction the newest copy per user wins, so the limit survives hibernation.
 */
import type { Connection } from "./connection";

export interface RatePolicy {
  perSecond: number;
  burst: number;
}

export interface BucketState {
  tokens: number;
  /** Milliseconds since the epoch when `tokens` was computed. */
  at: number;
}

export type Take = { ok: true; bucket: BucketState } | { ok: false; bucket: BucketState; retryAfterMs: number };

/** Spends one token if there is one, after refilling for the time since `bucket.at`. */
export function takeToken(policy: RatePolicy, bucket: BucketState | undefined, now: number): Take {
  const elapsed = bucket ? Math.max(0, now - bucket.at) : Number.POSITIVE_INFINITY;
  const tokens = Math.min(policy.burst, (bucket?.tokens ?? policy.burst) + (elapsed * policy.perSecond) / 1000);
  if (tokens >= 1) return { ok: true, bucket: { tokens: tokens - 1, at: now } };
  return {
    ok: false,
    bucket: { tokens, at: now },
    retryAfterMs: Math.ceil(((1 - tokens) * 1000) / policy.perSecond),
  };
}

/** How often (in posts) the buckets of users who have stopped posting are dropped. */
const SWEEP_EVERY = 1_000;

export class PostRateLimits {
  readonly #buckets = new Map<number, BucketState>();
  #takesSinceSweep = 0;

  constructor(readonly policy: RatePolicy) {}

  /** Adopts the buckets found in restored attachments; the most recent per user wins. */
  restore(connections: Iterable<Connection>): void {
    for (const { state } of connections) {
      const bucket = state.postBucket;
      const known = this.#buckets.get(state.user.id);
      if (bucket && (!known || bucket.at > known.at)) this.#buckets.set(state.user.id, bucket);
    }
  }

  /** Takes a token for a post from `connection`; ok, or how long until the next one is allowed. */
  take(connection: Connection, now = Date.now()): { ok: true } | { ok: false; retryAfterMs: number } {
    if (++this.#takesSinceSweep >= SWEEP_EVERY) this.#sweep(now);
    const userId = connection.state.user.id;
    const result = takeToken(this.policy, this.#buckets.get(userId), now);
    this.#buckets.set(userId, result.bucket);
    connection.update({ postBucket: result.bucket });
    return result.ok ? { ok: true } : { ok: false, retryAfterMs: result.retryAfterMs };
  }

  /** A bucket that has refilled is the same as none: forget it, so a busy room's memory stays bounded. */
  #sweep(now: number): void {
    this.#takesSinceSweep = 0;
    const refillMs = (this.policy.burst * 1000) / this.policy.perSecond;
    for (const [userId, bucket] of this.#buckets) if (now - bucket.at >= refillMs) this.#buckets.delete(userId);
  }
}
