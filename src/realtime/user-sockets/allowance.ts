/**
 * Each user's post allowance across all rooms and ways in (docs/protocol.md#limits), held in memory by the
 * user's UserSockets object: a token bucket (the room's bucket arithmetic, room/rate-limit.ts) from which
 * rooms lease a few posts at a time. A post asks here only when its room's slice is spent
 * (room/allowance-slices.ts), so the allowance costs no round trip on most posts' path.
 */
import { RateLimits, type RatePolicy } from "../room/rate-limit";

/** What a room is lent: some posts (at most `leaseSize`), or none and how long until there is one. */
export type Lease = { ok: true; granted: number } | { ok: false; retryAfterMs: number };

/** The most posts one lease lends, whatever the burst: what a room holds unused is bounded by it. */
export const MAX_LEASE = 10;

/**
 * Posts lent at once: a tenth of the burst (3 at the default 30), at least 1. Small, because posts a room
 * was lent but its poster did not use there are lost to the poster until they lapse; large enough that a
 * poster busy in a room asks for more only every few posts.
 */
export function leaseSize(policy: RatePolicy): number {
  return Math.min(MAX_LEASE, Math.max(1, Math.floor(policy.burst / 10)));
}

export class PostAllowances {
  readonly #buckets: RateLimits;
  readonly #leaseSize: number;

  constructor(policy: RatePolicy) {
    this.#buckets = new RateLimits(policy);
    this.#leaseSize = leaseSize(policy);
  }

  /**
   * Lends `userId`'s room up to `leaseSize` posts, as many as the bucket holds whole; none, with how long
   * until one, when it is empty. Posts lent are spent here: a room gives nothing back.
   */
  lease(userId: number, now = Date.now()): Lease {
    let granted = 0;
    while (granted < this.#leaseSize) {
      const take = this.#buckets.take(userId, now);
      if (!take.ok) return granted > 0 ? { ok: true, granted } : { ok: false, retryAfterMs: take.retryAfterMs };
      granted += 1;
    }
    return { ok: true, granted };
  }
}
