/** Logs an error with where it came from. */
export function logError(where: string, problem: unknown): void {
  console.error(`[pyre] ${where}:`, problem);
}
