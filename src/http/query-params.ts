/** Reading a JSON endpoint's query string: whole numbers, and whether the asker wants JSON at all. */

/** undefined when absent, null when present but not a whole number of at least `least` (0 or 1). */
export function integerFrom(raw: string | undefined, least: 0 | 1): number | undefined | null {
  if (raw === undefined) return undefined;
  if (!/^(0|[1-9][0-9]{0,15})$/.test(raw)) return null;
  const value = Number(raw);
  return Number.isSafeInteger(value) && value >= least ? value : null;
}

/** An app asking for JSON (`Accept: application/json`), where a browser asks for a page. */
export function wantsJson(accept: string | undefined): boolean {
  return /\bapplication\/json\b/i.test(accept ?? "");
}
