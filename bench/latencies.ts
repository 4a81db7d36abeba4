/**
 * Latencies timed by the HTTP benches (home, search) and the flood, grouped by what was asked, and the
 * percentile they all print: the nearest rank, NaN for no samples.
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

export class Latencies {
  readonly #byKind = new Map<string, number[]>();

  add(kind: string, ms: number): void {
    const list = this.#byKind.get(kind) ?? [];
    list.push(ms);
    this.#byKind.set(kind, list);
  }

  /** One line per kind: `<bench>: <kind>: p50 … ms, p99 … ms (<n> <noun>)`. */
  lines(bench: string, noun: string): string[] {
    return [...this.#byKind].map(([kind, list]) => {
      const sorted = [...list].sort((a, b) => a - b);
      const at = (p: number) => percentile(sorted, p).toFixed(1);
      return `${bench}: ${kind}: p50 ${at(50)} ms, p99 ${at(99)} ms (${sorted.length} ${noun})`;
    });
  }
}
