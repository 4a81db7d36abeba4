/**
 * Rate limits (docs/protocol.md#limits): a token bucket per user per room, shared by all of the user's
 * sockets in the room, so more tabs buy no more. The room keeps one set for posts and one for joins. A post
 * over the limit is answered `rate_limited` with how long to wait, and is neither stored nor broadcast; a
 * join over it is answered the same, before it reads or sends any history.
 */
export interface RatePolicy {
  /** Actions (posts, joins) a second, once the burst is spent. */
  perSecond: number;
  /** Actions at once. */
  burst: number;
}

export interface BucketState {
  tokens: number;
  /** Milliseconds since the epoch when `tokens` was computed. */
  at: number;
}

export type Take = { ok: true; bucket: BucketState } | { ok: false; bucket: BucketState; retryAfterMs: number };

/**
 * Floating-point slack, in tokens (and milliseconds for the wait): without it, drift made a client that
 * waited exactly `retryAfterMs` be refused again, or told to wait 1 ms longer than needed.
 */
const SLACK = 1e-6;

/** Spends one token if there is one, after refilling for the time since `bucket.at`. */
export function takeToken(policy: RatePolicy, bucket: BucketState | undefined, now: number): Take {
  const elapsed = bucket ? Math.max(0, now - bucket.at) : Number.POSITIVE_INFINITY;
  const tokens = Math.min(policy.burst, (bucket?.tokens ?? policy.burst) + (elapsed * policy.perSecond) / 1000);
  if (tokens >= 1 - SLACK) return { ok: true, bucket: { tokens: Math.max(0, tokens - 1), at: now } };
  return {
    ok: false,
    bucket: { tokens, at: now },
    retryAfterMs: Math.max(1, Math.ceil(((1 - tokens) * 1000) / policy.perSecond - SLACK)),
  };
}

/** How often (in takes) the buckets of users who have stopped are dropped. */
const SWEEP_EVERY = 1_000;

/** One bucket per user: the room's post limits, or its join limits. */
export class RateLimits {
  readonly #buckets = new Map<number, BucketState>();
  #takesSinceSweep = 0;

  constructor(readonly policy: RatePolicy) {}

  /**
   * Adopts buckets found in restored attachments (the room writes each bucket into the attachment of the
   * socket that last spent from it); the most recent per user wins, so the limit survives hibernation.
   */
  restore(buckets: Iterable<{ userId: number; bucket: BucketState | null }>): void {
    for (const { userId, bucket } of buckets) {
      const known = this.#buckets.get(userId);
      if (bucket && (!known || bucket.at > known.at)) this.#buckets.set(userId, bucket);
    }
  }

  /**
   * Whether `bucket` is worth an attachment write (what keeps a limit across an eviction): only once half
   * spent. A fuller bucket left unwritten costs nothing: the one restored is an older true state, which
   * refills to at least the true tokens, so it is never stricter, and at most half a burst more lenient.
   * A member posting now and then thus costs no write per post.
   */
  worthKeeping(bucket: BucketState): boolean {
    return bucket.tokens < this.policy.burst / 2;
  }

  /** Takes a token for an action by `userId`: ok, or how long until the next one; either way the bucket now. */
  take(userId: number, now = Date.now()): Take {
    if (++this.#takesSinceSweep >= SWEEP_EVERY) this.#sweep(now);
    const result = takeToken(this.policy, this.#buckets.get(userId), now);
    this.#buckets.set(userId, result.bucket);
    return result;
  }

  /** A bucket that has refilled is the same as none: forget it, so a busy room's memory stays bounded. */
  #sweep(now: number): void {
    this.#takesSinceSweep = 0;
    const refillMs = (this.policy.burst * 1000) / this.policy.perSecond;
    for (const [userId, bucket] of this.#buckets) if (now - bucket.at >= refillMs) this.#buckets.delete(userId);
  }
}
