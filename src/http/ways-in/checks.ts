/**
 * What every way into the realtime side checks before anything reaches a Durable Object: the WebSocket
 * endpoint (room-bound or multiplexed) and LongPoll alike (Phoenix.Socket's connect/3, and the transport's
 * check_origin). Each check answers a refusal with its status and a message saying what to do; the
 * WebSocket endpoint sends it as plain text, LongPoll as Phoenix's JSON status.
 */
import type { Context } from "hono";
import { currentHolder, SOCKET_AUDIENCE, usernameClaim, verifyClaims } from "../../auth/token";
import type { SocketGrant } from "../../realtime/access/admission";
import type { Identity } from "../../realtime/access/identity";
import type { Serializer } from "../../realtime/phoenix/serializer";
import { negotiateSerializer, SUPPORTED_VSNS } from "../../realtime/phoenix/vsn";
import { openSlot, type SlotHolder, withSlot } from "../../realtime/user-sockets/client";
import type { AppEnv } from "../env";
import { isAllowedOrigin } from "../origin";

export interface Refusal {
  status: 403 | 429;
  message: string;
}

export type Checked<T> = ({ ok: true } & T) | { ok: false; refusal: Refusal };

/** An Origin header, when there is one, must be the app's own or listed in ALLOWED_ORIGINS. */
export function checkOrigin(c: Context<AppEnv>, what: string): Refusal | undefined {
  const origin = c.req.header("Origin");
  if (origin === undefined || isAllowedOrigin(origin, c.req.url, c.var.config.allowedOrigins)) return undefined;
  return { status: 403, message: `Origin ${origin} may not ${what} here.` };
}

/** Whose socket token it is, and on what terms: what a socket is admitted on. */
export interface VerifiedToken {
  user: Identity;
  generation: number;
  expiresAt: Date;
}

/**
 * A valid, unexpired socket token, read without a D1 read: the token carries the username, and whether
 * its generation is still current is what UserSockets answers when the socket takes a slot
 * ({@link handOverWithSlot}), which every socket does (docs/security.md#revocation). A token signed
 * before tokens carried the username is checked against D1, as all were then.
 */
export async function checkToken(
  c: Context<AppEnv>,
  token: string | undefined,
  howToSend: string,
): Promise<Checked<VerifiedToken>> {
  if (token === undefined || token === "") {
    return {
      ok: false,
      refusal: { status: 403, message: `Missing token: pass the page's user_token as ${howToSend}.` },
    };
  }
  const claims = await verifyClaims(token, c.var.secrets, SOCKET_AUDIENCE, new Date());
  if (!claims.ok) return badToken(claims.reason);
  const username = usernameClaim(claims.payload);
  if (username !== undefined) {
    const user = { id: claims.userId, username };
    return { ok: true, user, generation: claims.generation, expiresAt: claims.expiresAt };
  }
  const holder = await currentHolder(c.var.db, claims);
  if (!holder.ok) return badToken(holder.reason);
  const user = { id: holder.user.id, username: holder.user.username };
  return { ok: true, user, generation: holder.user.tokenGeneration, expiresAt: holder.expiresAt };
}

function badToken(reason: string): { ok: false; refusal: Refusal } {
  return { ok: false, refusal: { status: 403, message: `Token ${reason}: reload the page to get a fresh one.` } };
}

/**
 * Takes one of the user's slots for `holder` (refused at the cap or once the token was revoked), then hands
 * the connection to it; the slot comes back unless the holder took it (`taken`). `where` names the
 * endpoint in the log if giving the slot back fails.
 */
export async function handOverWithSlot<T>(
  env: Env,
  token: VerifiedToken,
  holder: SlotHolder,
  where: string,
  handOver: (slot: string) => Promise<T>,
  taken: (result: T) => boolean,
): Promise<Checked<{ result: T }>> {
  const { id } = token.user;
  const opening = openSlot(env, id, token.generation, holder);
  return withSlot(env, id, opening, where, handOver, taken);
}

/**
 * The serializer the socket asked for with `vsn` (Phoenix.Socket's negotiation: none is V1), or the
 * refusal's message. A repeated `vsn`: the last one counts, as Plug reads a repeated parameter.
 */
export function checkVsn(c: Context<AppEnv>): { ok: true; serializer: Serializer } | { ok: false; message: string } {
  const vsn = c.req.queries("vsn")?.at(-1);
  const serializer = negotiateSerializer(vsn);
  if (serializer) return { ok: true, serializer };
  return { ok: false, message: `Unsupported vsn ${vsn}: pyre speaks ${SUPPORTED_VSNS}.` };
}

/** The verified identity and terms a Durable Object admits a socket on. */
export function socketGrant(
  { user, generation, expiresAt }: VerifiedToken,
  slot: string | null,
  phoenixSubprotocol: boolean,
  serializer: Serializer,
): SocketGrant {
  return {
    user,
    token: { generation, expiresAt: expiresAt.getTime() },
    slot,
    phoenixSubprotocol,
    vsn: serializer.vsn,
  };
}
