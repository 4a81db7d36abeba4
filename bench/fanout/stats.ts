/** Counting deliveries: who got which post, how late, twice or out of order. */
import type { DeliveryFigures } from "./scenario.ts";

const WITHIN_MS = 1_000;

/** Deliveries of the posts numbered from `firstSeq` on, to `members` receivers. */
export class DeliveryStats {
  readonly firstSeq: number;
  sent = 0;
  #received = 0;
  #duplicates = 0;
  #outOfOrder = 0;
  #within = 0;
  #latencies: number[] = [];
  /** Per member, one byte per post: seen or not. Grown as posts are sent. */
  readonly #seen: Uint8Array[];
  readonly #lastSeq: Float64Array;

  constructor(members: number, firstSeq: number, expectedPosts: number) {
    this.firstSeq = firstSeq;
    this.#seen = Array.from({ length: members }, () => new Uint8Array(Math.max(64, expectedPosts)));
    this.#lastSeq = new Float64Array(members).fill(-1);
  }

  get received(): number {
    return this.#received;
  }

  get expected(): number {
    return this.sent * this.#seen.length;
  }

  get complete(): boolean {
    return this.#received >= this.expected;
  }

  record(member: number, seq: number, latencyMs: number): void {
    const index = seq - this.firstSeq;
    let seen = this.#seen[member];
    if (seen === undefined || index < 0) return;
    if (index >= seen.length) {
      const grown = new Uint8Array(Math.max(index + 1, seen.length * 2));
      grown.set(seen);
      this.#seen[member] = grown;
      seen = grown;
    }
    if (seen[index] === 1) {
      this.#duplicates++;
      return;
    }
    seen[index] = 1;
    this.#received++;
    if (seq < (this.#lastSeq[member] ?? -1)) this.#outOfOrder++;
    else this.#lastSeq[member] = seq;
    this.#latencies.push(latencyMs);
    if (latencyMs <= WITHIN_MS) this.#within++;
  }

  figures(): DeliveryFigures {
    const sorted = Float64Array.from(this.#latencies).sort();
    const expected = this.expected;
    return {
      p50_ms: percentile(sorted, 0.5),
      p90_ms: percentile(sorted, 0.9),
      p99_ms: percentile(sorted, 0.99),
      max_ms: sorted.length > 0 ? round(sorted[sorted.length - 1] ?? 0) : null,
      expected,
      received: this.#received,
      lost: Math.max(0, expected - this.#received),
      duplicates: this.#duplicates,
      out_of_order: this.#outOfOrder,
      within_1s: this.#within,
    };
  }
}

/** Nearest rank: the smallest latency at or below which a fraction `p` of deliveries fall. */
function percentile(sorted: Float64Array, p: number): number | null {
  if (sorted.length === 0) return null;
  return round(sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? 0);
}

export function round(value: number, digits = 2): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
