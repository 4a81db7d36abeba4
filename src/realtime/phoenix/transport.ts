/**
 * The WebSocket transport (Phoenix.Transports.WebSocket's role): frame limits, close codes, and sending
 * or closing without ever throwing into a room, as partyserver does.
 */

/** Frames above this many bytes close the socket with {@link CloseCode.messageTooBig}. */
export const MAX_FRAME_BYTES = 64 * 1024;

export const CloseCode = {
  /** The frame could not be decoded as Phoenix V2 JSON. */
  invalidPayload: 1007,
  /** The frame exceeded {@link MAX_FRAME_BYTES}. */
  messageTooBig: 1009,
  /** The room failed; the client reconnects. */
  internalError: 1011,
  /**
   * Nothing came from the client, no frame and no heartbeat, for `SOCKET_IDLE_MS` (shell/idle.ts); the
   * client reconnects. A private code, after HTTP's 408 Request Timeout.
   */
  idle: 4408,
} as const;

/** Codes that may not be sent in a close frame (RFC 6455 §7.4.1); workerd throws on each. */
const RESERVED_CLOSE_CODES = new Set([1004, 1005, 1006, 1015]);

/** UTF-8 byte length, computed only when the UTF-16 length leaves doubt. */
export function frameBytes(raw: string | ArrayBuffer): number {
  if (typeof raw !== "string") return raw.byteLength;
  if (raw.length * 3 <= MAX_FRAME_BYTES) return raw.length; // under the limit whatever the encoding
  return new TextEncoder().encode(raw).byteLength;
}

/** Sends if the socket is still open; a socket that is closing or gone is skipped, never thrown on. */
export function sendQuietly(ws: WebSocket, data: string | ArrayBuffer): boolean {
  if (ws.readyState !== WebSocket.READY_STATE_OPEN) return false;
  try {
    ws.send(data);
    return true;
  } catch {
    return false;
  }
}

export function closeQuietly(ws: WebSocket, code: number, reason: string): void {
  try {
    if (RESERVED_CLOSE_CODES.has(code)) ws.close();
    else ws.close(code, truncateReason(reason));
  } catch {
    // Already closed or closing: nothing left to do.
  }
}

/** Close reasons are limited to 123 bytes of UTF-8; a longer one is cut at a character boundary. */
export function truncateReason(reason: string): string {
  const bytes = new TextEncoder().encode(reason);
  if (bytes.byteLength <= 123) return reason;
  return new TextDecoder().decode(bytes.slice(0, 120)).replace(/\uFFFD$/, "");
}
