/**
 * Length as a person counts characters: Unicode code points, so "🔥" is one, not the two UTF-16 units
 * `String.length` sees. Every length rule in pyre (messages, passwords) uses this one measure.
 */
export function codePointLength(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}
