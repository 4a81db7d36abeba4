/**
 * How a count is shown beside a room or in the top bar: the number, or "99+" once it reaches the cap its
 * query stops at (100 tells "99+" from 99). Shared by the server-rendered pages and the browser, which
 * update the same elements live.
 */

/** The cap the counting queries stop at (src/db/read-states.ts, src/db/mentions.ts). */
export const SHOWN_COUNT_CAP = 100;

export function countLabel(count: number, cap = SHOWN_COUNT_CAP): string {
  return count >= cap ? `${cap - 1}+` : String(count);
}
