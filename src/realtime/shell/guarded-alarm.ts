/**
 * The one rule for alarms, in every Durable Object: a failing alarm is logged with where it came from and
 * rethrown, so the runtime retries it (with backoff); every job an alarm runs is therefore idempotent.
 */
export async function guardedAlarm(
  where: string,
  job: () => void | Promise<void>,
  log: (where: string, problem: unknown) => void,
): Promise<void> {
  try {
    await job();
  } catch (problem) {
    log(where, problem);
    throw problem;
  }
}
