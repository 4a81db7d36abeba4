/**
 * The room's slices of its posters' allowances across all rooms (user-sockets/allowance.ts). A poster's
 * posts here are taken from a few leased from their UserSockets object, so a post waits for that object
 * only when the slice is spent; a refusal is remembered until it lapses, so a flood is refused here
 * without asking again. Slices live in memory: a room that is evicted forgets them, which costs the poster
 * at most the posts it had been lent, never lets through more.
 */
import type { Lease } from "../user-sockets/client";

/** A post's share of the allowance: taken, refused for `retryAfterMs`, or not known (the holder failed). */
export type AllowanceTake = { ok: true } | { ok: false; retryAfterMs: number } | { ok: false; unavailable: true };

export interface SliceTimings {
  /** Posts lent but not used here within this long lapse, so unused slices cannot pile up across rooms. */
  lapseMs: number;
  /** How long a lease may take before the holder counts as unreachable. */
  leaseTimeoutMs: number;
  /** After a failed lease, how long the poster's posts here are answered `unavailable` without asking. */
  failureBackoffMs: number;
  /**
   * The least time a refusal is held here before the holder is asked again, and the wait the poster is
   * told. The holder's own wait is until its next post, which only one of the poster's rooms will get:
   * with 100 rooms asking again each time, a flood would cost a lease per refused post.
   */
  refusalHoldMs: number;
}

export const SLICE_TIMINGS: SliceTimings = {
  lapseMs: 10_000,
  leaseTimeoutMs: 2_000,
  failureBackoffMs: 1_000,
  refusalHoldMs: 1_000,
};

interface Slice {
  tokens: number;
  /** When the posts lent lapse. */
  lapsesAt: number;
  /** Until when posts are refused without asking: the holder said so, or could not be reached. */
  refusedUntil: number;
  failed: boolean;
  /** The lease on its way, which every post that finds the slice spent waits for. */
  pending: Promise<void> | undefined;
}

const TAKEN: AllowanceTake = { ok: true };

/** How often (in takes) slices that have lapsed are dropped, so a busy room's memory stays bounded. */
const SWEEP_EVERY = 1_000;

export class AllowanceSlices {
  readonly #slices = new Map<number, Slice>();
  #takesSinceSweep = 0;

  constructor(
    private readonly lease: (userId: number) => Promise<Lease>,
    private readonly log: (where: string, problem: unknown) => void,
    private readonly timings: SliceTimings = SLICE_TIMINGS,
  ) {}

  /** Takes one post of `userId`'s allowance: at once from the slice, or after a lease when it is spent. */
  take(userId: number): AllowanceTake | Promise<AllowanceTake> {
    if (++this.#takesSinceSweep >= SWEEP_EVERY) this.#sweep(Date.now());
    const slice = this.#slices.get(userId);
    if (slice && !slice.pending) {
      const answer = takeFrom(slice, Date.now());
      if (answer) return answer;
    }
    return this.#takeAfterLease(userId);
  }

  /** Gives back a post taken for a post the room then refused (its own bucket), so it is not lost. */
  giveBack(userId: number): void {
    const slice = this.#slices.get(userId);
    if (slice) slice.tokens += 1;
  }

  async #takeAfterLease(userId: number): Promise<AllowanceTake> {
    for (;;) {
      let slice = this.#slices.get(userId);
      if (!slice) {
        slice = { tokens: 0, lapsesAt: 0, refusedUntil: 0, failed: false, pending: undefined };
        this.#slices.set(userId, slice);
      }
      const lent = slice.pending ?? this.#fetch(userId, slice);
      await lent;
      // Posts that waited for the same lease take from it in the order they came; once it is spent, the
      // next one asks again.
      const answer = takeFrom(slice, Date.now());
      if (answer) return answer;
    }
  }

  /** Asks the holder for a lease and puts the answer into the slice. */
  #fetch(userId: number, slice: Slice): Promise<void> {
    const fetching = (async () => {
      try {
        const lease = await withTimeout(this.lease(userId), this.timings.leaseTimeoutMs);
        const now = Date.now();
        slice.failed = false;
        if (lease.ok) {
          slice.tokens = lease.granted;
          slice.lapsesAt = now + this.timings.lapseMs;
        } else {
          slice.tokens = 0;
          slice.refusedUntil = now + Math.max(lease.retryAfterMs, this.timings.refusalHoldMs);
        }
      } catch (problem) {
        this.log("Room: post allowance lease", problem);
        slice.tokens = 0;
        slice.failed = true;
        slice.refusedUntil = Date.now() + this.timings.failureBackoffMs;
      } finally {
        slice.pending = undefined;
      }
    })();
    slice.pending = fetching;
    return fetching;
  }

  #sweep(now: number): void {
    this.#takesSinceSweep = 0;
    for (const [userId, slice] of this.#slices) {
      if (!slice.pending && slice.refusedUntil <= now && (slice.tokens < 1 || slice.lapsesAt <= now))
        this.#slices.delete(userId);
    }
  }
}

/** The slice's answer now, or undefined when it has nothing to say without a lease. */
function takeFrom(slice: Slice, now: number): AllowanceTake | undefined {
  if (slice.refusedUntil > now) {
    return slice.failed ? { ok: false, unavailable: true } : { ok: false, retryAfterMs: slice.refusedUntil - now };
  }
  if (slice.tokens >= 1 && slice.lapsesAt > now) {
    slice.tokens -= 1;
    return TAKEN;
  }
  return undefined;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
