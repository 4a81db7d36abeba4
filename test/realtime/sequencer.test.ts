import { describe, expect, it } from "vitest";
import { Sequencer } from "../../src/realtime/sequencer";

/** A promise the test resolves by hand, to make tasks finish in any order it likes. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe("Sequencer", () => {
  it("starts each task only after the previous one finished, whatever order their I/O completes in", async () => {
    const sequencer = new Sequencer();
    const slow = deferred();
    const fast = deferred();
    const events: string[] = [];
    const first = sequencer.run(async () => {
      events.push("first started");
      await slow.promise;
      events.push("first done");
    });
    const second = sequencer.run(async () => {
      events.push("second started");
      await fast.promise;
      events.push("second done");
    });
    fast.resolve(); // the second task's I/O would finish first...
    await Promise.resolve();
    expect(events).toEqual(["first started"]); // ...but it has not even started
    slow.resolve();
    await Promise.all([first, second]);
    expect(events).toEqual(["first started", "first done", "second started", "second done"]);
  });

  it("keeps going after a task fails, and gives that failure to its caller only", async () => {
    const sequencer = new Sequencer();
    const failed = sequencer.run(async () => {
      throw new Error("boom");
    });
    const next = sequencer.run(async () => "still running");
    await expect(failed).rejects.toThrow("boom");
    await expect(next).resolves.toBe("still running");
  });
});
