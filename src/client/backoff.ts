/** How long the page waits before trying again, by how many times in a row it has failed so far. */
export const RETRY_DELAYS_MS: readonly number[] = [1_000, 2_000, 5_000, 10_000];

/** The wait after `failures` failures in a row: the schedule's step, then its last step for ever. */
export function retryDelay(failures: number, delays: readonly number[] = RETRY_DELAYS_MS): number {
  return delays[Math.min(failures, delays.length - 1)] ?? 1_000;
}
