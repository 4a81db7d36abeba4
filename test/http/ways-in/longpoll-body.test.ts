/**
 * readCapped: a LongPoll POST's body counted as it streams, kept up to the cap and never beyond it. The
 * refusal through the worker is in longpoll.test.ts ("refuses a chunked body past the cap").
 */
import { describe, expect, it } from "vitest";
import { readCapped } from "../../../src/http/ways-in/longpoll-body";

/** A body of `count` pulls of `chunk`, the same bytes each time, so the test itself holds one chunk. */
function repeated(chunk: Uint8Array, count: number) {
  let pulls = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulls === count) {
        controller.close();
        return;
      }
      pulls += 1;
      controller.enqueue(chunk);
    },
  });
  return { body, pulls: () => pulls };
}

describe("readCapped", () => {
  it("gives back a body of several chunks, up to and including the cap, byte for byte", async () => {
    const source = repeated(new TextEncoder().encode("abc"), 4);
    expect(new TextDecoder().decode(await readCapped(source.body, 12))).toBe("abcabcabcabc");
    expect(await readCapped(null, 12)).toEqual(new Uint8Array(0));
  });

  it("refuses a body one byte past the cap", async () => {
    expect(await readCapped(repeated(new Uint8Array(5), 3).body, 14)).toBeUndefined();
  });

  it("refuses a 4 GiB chunked body holding at most the cap: nothing of it is kept, the rest is read and dropped", async () => {
    // 4,096 pulls of one MiB: reading it whole first, as before, needs 4 GiB and fails; counted as it streams,
    // the cap (8 MiB here) is the most ever held, and the rest is drained for wrangler dev's proxy.
    const source = repeated(new Uint8Array(1024 * 1024), 4096);
    expect(await readCapped(source.body, 8 * 1024 * 1024)).toBeUndefined();
    expect(source.pulls()).toBe(4096);
  });

  it("refuses a body over the cap that breaks off before its end", async () => {
    let pulls = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulls += 1;
        if (pulls > 3) controller.error(new Error("client went away"));
        else controller.enqueue(new Uint8Array(10));
      },
    });
    expect(await readCapped(body, 15)).toBeUndefined();
  });
});
