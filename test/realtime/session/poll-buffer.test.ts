/** The long-poll outbox: in order, handed over at once, bounded, and never stuck on one big frame. */
import { describe, expect, it } from "vitest";
import { PollBuffer } from "../../../src/realtime/session/poll-buffer";

describe("PollBuffer", () => {
  it("hands what is queued to the next poll at once, in order, and then starts empty", async () => {
    const buffer = new PollBuffer({ maxFrames: 10, maxChars: 1_000 });
    expect(buffer.push("a")).toBe(true);
    expect(buffer.push("b")).toBe(true);
    expect(await buffer.take(10_000)).toEqual(["a", "b"]);
    expect(await buffer.take(20)).toEqual([]);
  });

  it("wakes a waiting poll with the first frame, and gives nothing after the window", async () => {
    const buffer = new PollBuffer({ maxFrames: 10, maxChars: 1_000 });
    const waiting = buffer.take(10_000);
    expect(buffer.waiting).toBe(true);
    buffer.push("first");
    expect(await waiting).toEqual(["first"]);
    expect(buffer.waiting).toBe(false);

    const started = Date.now();
    expect(await buffer.take(50)).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(40);
  });

  it("gives frames to the newest poll: an older waiting one gets nothing", async () => {
    const buffer = new PollBuffer({ maxFrames: 10, maxChars: 1_000 });
    const older = buffer.take(10_000);
    const newer = buffer.take(10_000);
    expect(await older).toEqual([]);
    buffer.push("x");
    expect(await newer).toEqual(["x"]);
  });

  it("refuses frames past either bound, but always takes one into an empty outbox", async () => {
    const byCount = new PollBuffer({ maxFrames: 2, maxChars: 1_000 });
    expect([byCount.push("1"), byCount.push("2"), byCount.push("3")]).toEqual([true, true, false]);

    const bySize = new PollBuffer({ maxFrames: 10, maxChars: 10 });
    expect(bySize.push("x".repeat(50))).toBe(true); // a big catch-up reply into an empty outbox
    expect(bySize.push("y")).toBe(false);
    expect(await bySize.take(10)).toEqual(["x".repeat(50)]);
    expect([bySize.push("12345"), bySize.push("67890"), bySize.push("!")]).toEqual([true, true, false]);
  });

  it("clear() answers a waiting poll with nothing and drops what was queued", async () => {
    const buffer = new PollBuffer({ maxFrames: 10, maxChars: 1_000 });
    const waiting = buffer.take(10_000);
    buffer.clear();
    expect(await waiting).toEqual([]);
    buffer.push("kept?");
    buffer.clear();
    expect(await buffer.take(10)).toEqual([]);
  });
});
