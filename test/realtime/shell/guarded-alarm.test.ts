/** The one rule for alarms (shell/guarded-alarm.ts): a failure is logged with where it came from, then rethrown. */
import { describe, expect, it } from "vitest";
import { guardedAlarm } from "../../../src/realtime/shell/guarded-alarm";

function recordingLog() {
  const entries: Array<[where: string, problem: unknown]> = [];
  return { entries, log: (where: string, problem: unknown) => void entries.push([where, problem]) };
}

describe("guardedAlarm", () => {
  it("runs a job that succeeds, waits for it, and logs nothing", async () => {
    const { entries, log } = recordingLog();
    const done: string[] = [];
    await guardedAlarm("Room:alarm", () => void done.push("sync"), log);
    await guardedAlarm(
      "Room:alarm",
      async () => {
        await new Promise((resolve) => setTimeout(resolve, 1));
        done.push("async");
      },
      log,
    );
    expect(done).toEqual(["sync", "async"]);
    expect(entries).toEqual([]);
  });

  it("logs an async failure once, with where, then rejects with the same error so the runtime retries", async () => {
    const { entries, log } = recordingLog();
    const problem = new Error("D1 unavailable");
    const running = guardedAlarm(
      "Room:alarm",
      async () => {
        await Promise.resolve();
        throw problem;
      },
      log,
    );
    await expect(running).rejects.toBe(problem);
    expect(entries).toEqual([["Room:alarm", problem]]);
  });

  it("turns a job that throws synchronously into a rejection, logged first, never a synchronous throw", async () => {
    const { entries, log } = recordingLog();
    const problem = new TypeError("bug");
    let running: Promise<void> | undefined;
    expect(() => {
      running = guardedAlarm(
        "UserSockets:alarm",
        () => {
          throw problem;
        },
        log,
      );
    }).not.toThrow();
    // Logged before the caller sees the rejection.
    let loggedWhenRejected: number | undefined;
    await running?.catch(() => {
      loggedWhenRejected = entries.length;
    });
    expect(loggedWhenRejected).toBe(1);
    expect(entries).toEqual([["UserSockets:alarm", problem]]);
  });

  it("rethrows whatever was thrown, not only Errors", async () => {
    const { entries, log } = recordingLog();
    await expect(guardedAlarm("Room:alarm", () => Promise.reject("plain string"), log)).rejects.toBe("plain string");
    expect(entries).toEqual([["Room:alarm", "plain string"]]);
  });
});
