/**
 * Seed and run count of the fuzzers. A fixed seed by default, so `npm test` checks the same frames every
 * time and a failure replays exactly; override for a longer or different search with
 * `VITE_FUZZ_SEED=123 VITE_FUZZ_RUNS=500 npx vitest run test/fuzz`. The Workers pool passes only Vite's
 * `VITE_`-prefixed variables into workerd (as `import.meta.env`), hence the prefix.
 */

export const DEFAULT_SEED = 20_260_801;

const variables = (import.meta as ImportMeta & { env?: Record<string, string | undefined> }).env ?? {};

function wholeNumber(name: string): number | undefined {
  const raw = variables[name];
  if (raw === undefined || raw === "") return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} must be a whole number, not ${raw}`);
  return value;
}

export const FUZZ_SEED = wholeNumber("VITE_FUZZ_SEED") ?? DEFAULT_SEED;

/** Runs per property: the file's default unless VITE_FUZZ_RUNS says otherwise. */
export function runsOr(defaultRuns: number): number {
  return wholeNumber("VITE_FUZZ_RUNS") ?? defaultRuns;
}

/** True when the run count is the file's own, so its frame-count guarantee applies. */
export const RUNS_OVERRIDDEN = wholeNumber("VITE_FUZZ_RUNS") !== undefined;
