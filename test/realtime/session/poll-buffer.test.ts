/** The long-poll outbox: in order, handed over at once, bounded, and never ended by one join's big catch-up. */
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

  it("refuses frames past either bound", async () => {
    const byCount = new PollBuffer({ maxFrames: 2, maxChars: 1_000 });
    expect([byCount.push("1"), byCount.push("2"), byCount.push("3")]).toEqual([true, true, false]);

    const bySize = new PollBuffer({ maxFrames: 10, maxChars: 10 });
    expect([bySize.push("12345"), bySize.push("67890"), bySize.push("!")]).toEqual([true, true, false]);
    expect(await bySize.take(10)).toEqual(["12345", "67890"]);
    expect(bySize.push("x".repeat(11))).toBe(false);
  });

  it("takes one join reply that does not fit at a time beyond the bound, however large; one that fits counts", async () => {
    const buffer = new PollBuffer({ maxFrames: 10, maxChars: 20 });
    expect(buffer.push("0123456789", true)).toBe(true); // a small join reply: within the bound
    expect(buffer.holdsReplyBeyondBound).toBe(false);
    expect(buffer.push("x".repeat(50), true)).toBe(true); // a big catch-up reply, which does not fit
    expect(buffer.holdsReplyBeyondBound).toBe(true);
    // A second one while the first is unpolled counts against the bound (the session holds joins back
    // meanwhile, so only a client that stops polling gets here).
    expect(buffer.push("y".repeat(50), true)).toBe(false);
    expect(buffer.push("!".repeat(10))).toBe(true); // the bound still has room for other frames
    expect(buffer.push("?")).toBe(false);
    expect(await buffer.take(10)).toEqual(["0123456789", "x".repeat(50), "!".repeat(10)]);
    expect(buffer.holdsReplyBeyondBound).toBe(false);
    expect(buffer.push("z".repeat(50), true)).toBe(true);
  });

  it("lets a join reply handed straight to a waiting poll leave nothing held", async () => {
    const buffer = new PollBuffer({ maxFrames: 10, maxChars: 10 });
    const waiting = buffer.take(10_000);
    expect(buffer.push("x".repeat(50), true)).toBe(true);
    expect(await waiting).toEqual(["x".repeat(50)]);
    expect(buffer.holdsReplyBeyondBound).toBe(false);
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
