/**
 * The WebSocket transport's helpers (phoenix/transport.ts) on real workerd sockets: a `WebSocketPair` with
 * both ends accepted, `near` playing the server's socket and `far` the peer that watches what arrives.
 *
 * What workerd itself does, as these tests pin it (workerd 1.20261103.1, of @cloudflare/vitest-plugin
 * 1.5.1): `close(code)` throws InvalidAccessError for 1004, 1005, 1006 and 1015 (and outside 1000-4999), and
 * SyntaxError for a reason over 123 UTF-8 bytes; `close()` with no code sends no status, which the peer
 * reads as 1005; `send()` after `close()` throws TypeError; a peer's close leaves this end CLOSED by the
 * time its close event fires (the runtime answers the close itself); binary frames arrive as a Blob.
 */
import { describe, expect, it } from "vitest";
import {
  closeQuietly,
  frameBytes,
  MAX_FRAME_BYTES,
  sendQuietly,
  truncateReason,
} from "../../../src/realtime/phoenix/transport";

interface Closed {
  code: number;
  reason: string;
}

function openPair(): { near: WebSocket; far: WebSocket; farClosed: Promise<Closed>; received: string[] } {
  const { 0: near, 1: far } = new WebSocketPair();
  near.accept();
  far.accept();
  const received: string[] = [];
  far.addEventListener("message", (event) => {
    if (typeof event.data === "string") received.push(event.data);
  });
  const farClosed = new Promise<Closed>((resolve) =>
    far.addEventListener("close", (event) => resolve({ code: event.code, reason: event.reason })),
  );
  return { near, far, farClosed, received };
}

/** Resolves when `far` has had every frame `near` sent before now: a marker sent after them arrives after them. */
async function drained(near: WebSocket, far: WebSocket): Promise<void> {
  const marker = `marker-${crypto.randomUUID()}`;
  const seen = new Promise<void>((resolve) =>
    far.addEventListener("message", (event) => {
      if (event.data === marker) resolve();
    }),
  );
  near.send(marker);
  await seen;
}

const utf8Bytes = (text: string) => new TextEncoder().encode(text).byteLength;

describe("truncateReason", () => {
  it("returns a reason of at most 123 UTF-8 bytes unchanged, multi-byte characters included", () => {
    for (const reason of [
      "",
      "session ended",
      "a".repeat(123),
      "€".repeat(41),
      `${"😀".repeat(30)}abc`,
      "é".repeat(61),
    ]) {
      expect(utf8Bytes(reason)).toBeLessThanOrEqual(123);
      expect(truncateReason(reason)).toBe(reason);
    }
  });

  it("cuts a longer reason to at most 123 bytes, at a character boundary, keeping as much as it can", () => {
    // Every alignment of 2-, 3- and 4-byte characters against the cut, behind 0-3 ASCII characters.
    for (const character of ["é", "€", "😀"]) {
      for (let ascii = 0; ascii < 4; ascii++) {
        const reason = "a".repeat(ascii) + character.repeat(70);
        expect(utf8Bytes(reason)).toBeGreaterThan(123);
        const cut = truncateReason(reason);
        expect(utf8Bytes(cut)).toBeLessThanOrEqual(123);
        expect(reason.startsWith(cut)).toBe(true);
        expect(cut).not.toContain("\uFFFD");
        expect(/[\uD800-\uDBFF]$/.test(cut)).toBe(false); // never half of a surrogate pair
        // Not cut short: at most the character straddling the unit's 120-byte mark is dropped.
        expect(utf8Bytes(cut)).toBeGreaterThan(120 - utf8Bytes(character));
      }
    }
  });

  it("cuts a long ASCII reason to a prefix that the runtime accepts as a close reason", async () => {
    const reason = `lost connection state; ${"x".repeat(300)}`;
    const cut = truncateReason(reason);
    expect(reason.startsWith(cut)).toBe(true);
    expect(utf8Bytes(cut)).toBeLessThanOrEqual(123);
    const { near, farClosed } = openPair();
    near.close(4000, cut); // would throw SyntaxError if it were too long
    expect(await farClosed).toEqual({ code: 4000, reason: cut });
  });
});

describe("closeQuietly", () => {
  it("workerd refuses the reserved codes 1005, 1006 and 1015 in close() itself, leaving the socket open", () => {
    for (const code of [1005, 1006, 1015]) {
      const { near } = openPair();
      expect(() => near.close(code, "")).toThrow(/Invalid WebSocket close code/);
      expect(near.readyState).toBe(WebSocket.READY_STATE_OPEN);
    }
  });

  for (const code of [1005, 1006, 1015]) {
    it(`closes for reserved code ${code} without throwing, and the peer reads 1005 (no status sent)`, async () => {
      const { near, farClosed } = openPair();
      expect(() => closeQuietly(near, code, "peer went away")).not.toThrow();
      expect(near.readyState).not.toBe(WebSocket.READY_STATE_OPEN);
      expect(await farClosed).toEqual({ code: 1005, reason: "" });
    });
  }

  it("closes with an ordinary code and a short reason exactly as given", async () => {
    for (const [code, reason] of [
      [1000, "session ended"],
      [1011, "lost connection state; reconnect"],
      [4001, "Token revoked: reload the page to get a fresh one. ✓"],
    ] as const) {
      const { near, farClosed } = openPair();
      closeQuietly(near, code, reason);
      expect(await farClosed).toEqual({ code, reason });
    }
  });

  it("closes with a reason over 123 bytes, which close() alone refuses, cut at a character boundary", async () => {
    const reason = `ending: ${"€".repeat(50)}`;
    expect(utf8Bytes(reason)).toBeGreaterThan(123);
    const direct = openPair();
    expect(() => direct.near.close(1011, reason)).toThrow(/123 bytes/);

    const { near, farClosed } = openPair();
    closeQuietly(near, 1011, reason);
    const seen = await farClosed;
    expect(seen.code).toBe(1011);
    expect(seen.reason).toBe(truncateReason(reason));
    expect(reason.startsWith(seen.reason)).toBe(true);
    expect(utf8Bytes(seen.reason)).toBeLessThanOrEqual(123);
    expect(seen.reason).not.toContain("\uFFFD");
  });

  it("does nothing, and does not throw, on a socket already closing or closed", async () => {
    const closing = openPair();
    closing.near.close(1000, "first");
    expect(() => closeQuietly(closing.near, 1011, "second")).not.toThrow();
    expect(await closing.farClosed).toEqual({ code: 1000, reason: "first" });

    const closedByPeer = openPair();
    const nearClosed = new Promise((resolve) => closedByPeer.near.addEventListener("close", resolve));
    closedByPeer.far.close(4000, "bye");
    await nearClosed;
    expect(() => closeQuietly(closedByPeer.near, 1000, "too late")).not.toThrow();
    expect(() => closeQuietly(closedByPeer.near, 1006, "too late")).not.toThrow();
  });

  // workerd refuses 1004 in close() just as it refuses 1005, 1006 and 1015, but closeQuietly only knows the
  // last three: with 1004 the error is swallowed and the socket is left open. 1004 only reaches
  // closeQuietly by being echoed from a peer's close frame (SocketObject.webSocketClose).
  it("closes for 1004 too, which workerd also refuses in close()", async () => {
    const { near } = openPair();
    expect(() => near.close(1004, "")).toThrow(/Invalid WebSocket close code/);

    const { near: quiet, farClosed } = openPair();
    expect(() => closeQuietly(quiet, 1004, "reserved")).not.toThrow();
    expect(quiet.readyState).not.toBe(WebSocket.READY_STATE_OPEN);
    expect((await farClosed).code).toBe(1005);
  });
});

describe("sendQuietly", () => {
  it("sends text and bytes on an open socket and says so", async () => {
    const { near, far, received } = openPair();
    expect(sendQuietly(near, "hello")).toBe(true);
    const bytes = new Uint8Array([1, 2, 3]).buffer;
    // workerd hands a WebSocketPair's binary frames to listeners as a Blob (binaryType "blob").
    const binary = new Promise<ArrayBuffer>((resolve) =>
      far.addEventListener("message", (event) => {
        if (typeof event.data !== "string") resolve(new Response(event.data).arrayBuffer());
      }),
    );
    expect(sendQuietly(near, bytes)).toBe(true);
    await drained(near, far);
    expect(received[0]).toBe("hello");
    expect([...new Uint8Array(await binary)]).toEqual([1, 2, 3]);
  });

  it("returns false without throwing on a socket that is closing, or closed by its peer, and sends nothing", async () => {
    const closing = openPair();
    closing.near.close(1000, "done");
    expect(closing.near.readyState).toBe(WebSocket.READY_STATE_CLOSING);
    expect(() => closing.near.send("direct")).toThrow(TypeError);
    expect(sendQuietly(closing.near, "quiet")).toBe(false);
    await closing.farClosed;
    expect(closing.received).toEqual([]);

    const closedByPeer = openPair();
    const nearClosed = new Promise((resolve) => closedByPeer.near.addEventListener("close", resolve));
    closedByPeer.far.close(1000, "bye");
    await nearClosed;
    expect(closedByPeer.near.readyState).toBe(WebSocket.READY_STATE_CLOSED);
    expect(sendQuietly(closedByPeer.near, "quiet")).toBe(false);
    expect(sendQuietly(closedByPeer.near, new ArrayBuffer(1))).toBe(false);
  });

  it("returns false instead of throwing when the runtime refuses a send on a socket that reports open", () => {
    // A WebSocketPair end that nobody accepted yet: readyState says open, send() throws.
    const { 0: unaccepted } = new WebSocketPair();
    expect(unaccepted.readyState).toBe(WebSocket.READY_STATE_OPEN);
    expect(() => unaccepted.send("direct")).toThrow(/accept/);
    expect(sendQuietly(unaccepted, "quiet")).toBe(false);
  });
});

describe("frameBytes", () => {
  it("counts an ArrayBuffer's bytes", () => {
    for (const size of [0, 1, MAX_FRAME_BYTES, MAX_FRAME_BYTES + 1])
      expect(frameBytes(new ArrayBuffer(size))).toBe(size);
  });

  it("counts UTF-8 bytes exactly whenever the string could be over the limit", () => {
    const third = Math.floor(MAX_FRAME_BYTES / 3);
    const samples = [
      "a".repeat(MAX_FRAME_BYTES),
      "a".repeat(MAX_FRAME_BYTES + 1),
      `${"€".repeat(third)}${"a".repeat(MAX_FRAME_BYTES - 3 * third)}`, // exactly the limit
      "€".repeat(third + 1),
      "😀".repeat(MAX_FRAME_BYTES / 4),
      "😀".repeat(MAX_FRAME_BYTES / 4 + 1),
      "é".repeat(MAX_FRAME_BYTES / 2),
      `${"é".repeat(MAX_FRAME_BYTES / 2)}x`,
    ];
    for (const text of samples) {
      expect(text.length * 3).toBeGreaterThan(MAX_FRAME_BYTES);
      expect(frameBytes(text)).toBe(utf8Bytes(text));
    }
  });

  it("agrees with the UTF-8 length on which side of the limit every string falls", () => {
    // Around the threshold where it stops counting code units (length * 3 == limit) and around the limit.
    for (const character of ["a", "é", "€", "😀"]) {
      for (const units of [1, MAX_FRAME_BYTES / 3 - 2, MAX_FRAME_BYTES / 3, MAX_FRAME_BYTES / 3 + 2]) {
        const text = character.repeat(Math.ceil(units / character.length));
        expect(frameBytes(text) > MAX_FRAME_BYTES).toBe(utf8Bytes(text) > MAX_FRAME_BYTES);
      }
      for (const bytes of [MAX_FRAME_BYTES - 4, MAX_FRAME_BYTES, MAX_FRAME_BYTES + 4]) {
        const text = character.repeat(Math.floor(bytes / utf8Bytes(character)));
        expect(frameBytes(text) > MAX_FRAME_BYTES).toBe(utf8Bytes(text) > MAX_FRAME_BYTES);
      }
    }
  });
});
