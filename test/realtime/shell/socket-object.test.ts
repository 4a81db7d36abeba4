/**
 * The shell's judgement of socket errors (shell/socket-object.ts `isBenignTeardownError`): an error on a
 * socket that is already closing or closed, from the peer going away, is not worth a log line; any other
 * error is. The sockets are real: a `WebSocketPair` with both ends accepted.
 */
import { describe, expect, it } from "vitest";
import { isBenignTeardownError } from "../../../src/realtime/shell/socket-object";

function openSocket(): { near: WebSocket; far: WebSocket } {
  const { 0: near, 1: far } = new WebSocketPair();
  near.accept();
  far.accept();
  return { near, far };
}

function closingSocket(): WebSocket {
  const { near } = openSocket();
  near.close(1000, "bye");
  expect(near.readyState).toBe(WebSocket.READY_STATE_CLOSING);
  return near;
}

async function closedSocket(): Promise<WebSocket> {
  const { near, far } = openSocket();
  const closed = new Promise((resolve) => near.addEventListener("close", resolve));
  far.close(1001, "tab closed");
  await closed;
  expect(near.readyState).toBe(WebSocket.READY_STATE_CLOSED);
  return near;
}

/** What the runtime throws at a socket whose peer went away. */
const teardownErrors = (): unknown[] => [
  new Error("Network connection lost."),
  new Error("WebSocket peer disconnected"),
  new Error("network connection LOST"),
  Object.assign(new Error("internal error"), { retryable: true }),
  { retryable: true },
  { message: "WebSocket peer disconnected" },
];

/** Errors worth logging whatever state the socket is in. */
const realErrors = (): unknown[] => [
  new Error("Cannot read properties of undefined"),
  new TypeError("Can't call WebSocket send() after close()."),
  Object.assign(new Error("internal error"), { retryable: false }),
  Object.assign(new Error("internal error"), { retryable: "true" }),
  { message: 42 },
  "Network connection lost",
  null,
  undefined,
  42,
];

describe("isBenignTeardownError", () => {
  it("calls teardown errors benign on a socket that is closing or closed", async () => {
    for (const ws of [closingSocket(), await closedSocket()]) {
      for (const problem of teardownErrors()) expect(isBenignTeardownError(ws, problem), String(problem)).toBe(true);
    }
  });

  it("never calls an error benign while the socket is still open, whatever it says", () => {
    const { near } = openSocket();
    for (const problem of [...teardownErrors(), ...realErrors()]) {
      expect(isBenignTeardownError(near, problem), String(problem)).toBe(false);
    }
  });

  it("calls other errors real on a closing or closed socket", async () => {
    for (const ws of [closingSocket(), await closedSocket()]) {
      for (const problem of realErrors()) expect(isBenignTeardownError(ws, problem), String(problem)).toBe(false);
    }
  });
});
