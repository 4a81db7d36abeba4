/**
 * Where a socket's token comes from. Phoenix clients send it one of two ways:
 * - `authToken` (phoenix.js 1.8+): subprotocols `phoenix` and `base64url.bearer.phx.<base64, unpadded>`,
 *   which keeps the token out of URLs and so out of access logs; the server must then select `phoenix`;
 * - `params: {token}`: the `token` query parameter.
 * The subprotocol wins when both are present.
 */
import { decodeBase64 } from "../../auth/base64";

const BEARER_PREFIX = "base64url.bearer.phx.";

export type SocketCredentials =
  | { ok: true; token: string | undefined; phoenixSubprotocol: boolean }
  | { ok: false; problem: string };

export function readSocketCredentials(request: Request): SocketCredentials {
  const offered = (request.headers.get("Sec-WebSocket-Protocol") ?? "")
    .split(",")
    .map((protocol) => protocol.trim())
    .filter((protocol) => protocol !== "");
  const phoenixSubprotocol = offered.includes("phoenix");
  const bearer = offered.find((protocol) => protocol.startsWith(BEARER_PREFIX));
  if (bearer !== undefined) {
    const token = decodeToken(bearer.slice(BEARER_PREFIX.length));
    if (token === undefined) return { ok: false, problem: "the bearer subprotocol is not valid base64" };
    return { ok: true, token, phoenixSubprotocol };
  }
  const query = new URL(request.url).searchParams.get("token");
  return { ok: true, token: query ?? undefined, phoenixSubprotocol };
}

/** One decoder for every upgrade: without `stream`, each decode stands alone. */
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** The token is text: base64 that decodes to nothing, or to bytes that are not UTF-8, is refused. */
function decodeToken(text: string): string | undefined {
  const bytes = decodeBase64(text);
  if (!bytes || bytes.byteLength === 0) return undefined;
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}
