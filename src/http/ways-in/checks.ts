/**
 * What every way into the realtime side checks before anything reaches a Durable Object: the WebSocket
 * endpoint (room-bound or multiplexed) and LongPoll alike (Phoenix.Socket's connect/3, and the transport's
 * check_origin). Each check answers a refusal with its status and a message saying what to do; the
 * WebSocket endpoint sends it as plain text, LongPoll as Phoenix's JSON status.
 */
import type { Context } from "hono";
import { verifyUserToken } from "../../auth/token";
import type { User } from "../../db/users";
import { type SocketGrant, TOKEN_REVOKED } from "../../realtime/access/admission";
import { openSlot, releaseSlot, type SlotHolder } from "../../realtime/user-sockets/client";
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

/** A valid, unexpired, unrevoked socket token. */
export async function checkToken(
  c: Context<AppEnv>,
  token: string | undefined,
  howToSend: string,
): Promise<Checked<{ user: User; expiresAt: Date }>> {
  if (token === undefined || token === "") {
    return {
      ok: false,
      refusal: { status: 403, message: `Missing token: pass the page's user_token as ${howToSend}.` },
    };
  }
  const verified = await verifyUserToken(token, c.var.secrets, c.var.db);
  if (!verified.ok) {
    return {
      ok: false,
      refusal: { status: 403, message: `Token ${verified.reason}: reload the page to get a fresh one.` },
    };
  }
  return { ok: true, user: verified.user, expiresAt: verified.expiresAt };
}

/** One of the user's socket slots, for `holder`; refused at the cap or once the token was revoked. */
async function takeSlot(env: Env, user: User, holder: SlotHolder): Promise<Checked<{ slot: string }>> {
  const opened = await openSlot(env, user.id, user.tokenGeneration, holder);
  if (opened.ok) return { ok: true, slot: opened.slot };
  if (opened.reason === "revoked") {
    return { ok: false, refusal: { status: 403, message: TOKEN_REVOKED } };
  }
  return {
    ok: false,
    refusal: {
      status: 429,
      message: `Too many open sockets: at most ${opened.limit} per user across all rooms. Close a tab or another app's connection, then try again.`,
    },
  };
}

/**
 * Takes one of the user's slots for `holder`, then hands the connection to it. Unless the holder took it
 * (`taken`), the slot comes back here, the one place that knows it was not taken: a refusal, a failure, a
 * thrown error. `where` names the endpoint in the log if giving the slot back fails.
 */
export async function handOverWithSlot<T>(
  env: Env,
  user: User,
  holder: SlotHolder,
  where: string,
  handOver: (slot: string) => Promise<T>,
  taken: (result: T) => boolean,
): Promise<Checked<{ result: T }>> {
  const slot = await takeSlot(env, user, holder);
  if (!slot.ok) return slot;
  let result: T;
  try {
    result = await handOver(slot.slot);
  } catch (problem) {
    await releaseSlot(env, user.id, slot.slot, where);
    throw problem;
  }
  if (!taken(result)) await releaseSlot(env, user.id, slot.slot, where);
  return { ok: true, result };
}

/** The verified identity and terms a Durable Object admits a socket on. */
export function socketGrant(
  user: User,
  expiresAt: Date,
  slot: string | null,
  phoenixSubprotocol: boolean,
): SocketGrant {
  return {
    user: { id: user.id, username: user.username },
    token: { generation: user.tokenGeneration, expiresAt: expiresAt.getTime() },
    slot,
    phoenixSubprotocol,
  };
}
