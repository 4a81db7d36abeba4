/**
 * `/socket/longpoll`: Phoenix 1.8's LongPoll transport (Phoenix.Transports.LongPoll), for networks that
 * refuse WebSockets. A GET without a session token opens a SocketSession, a GET with one polls it, a POST
 * sends it frames; every answer is Phoenix's JSON `{status, token?, messages?}` (docs/ways-in.md#longpoll).
 */
import { type Context, Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { decodeBase64 } from "../../auth/base64";
import { SOCKET_AUDIENCE, verifyClaims } from "../../auth/token";
import { TOKEN_REVOKED } from "../../realtime/access/admission";
import type { Serializer } from "../../realtime/phoenix/serializer";
import { MAX_FRAME_BYTES } from "../../realtime/phoenix/transport";
import { newSession, type SessionStub, sessionStub } from "../../realtime/session/client";
import type { AppEnv } from "../env";
import { checkOrigin, checkToken, checkVsn, handOverWithSlot, socketGrant } from "./checks";
import { readCapped } from "./longpoll-body";
import { claimsToBeSessionToken, type SessionClaims, signSessionToken, verifySessionToken } from "./longpoll-token";

export const LONGPOLL_PATH = "/socket/longpoll";

/** Phoenix's `@max_poll_batch_size`: phoenix.js never sends more lines in one POST. */
export const MAX_POLL_BATCH = 100;
/** The largest POST body: a full batch of the largest frames, base64 (binary pushes) included. */
const MAX_POST_BYTES = MAX_POLL_BATCH * (Math.ceil((MAX_FRAME_BYTES * 4) / 3) + 1);
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

const AUTH_HEADER = "X-Phoenix-AuthToken";
const SESSION_HEADER = "X-Phoenix-Longpoll-Token";

interface Answer {
  status: number;
  token?: string;
  messages?: string[];
  /** pyre's addition: why a request was refused. */
  error?: string;
}

export const longPollRoutes = new Hono<AppEnv>();

// Cross-origin pages (ALLOWED_ORIGINS) send the token headers, which need a preflight.
longPollRoutes.options(LONGPOLL_PATH, (c) => {
  const badOrigin = checkOrigin(c, "poll");
  if (badOrigin || c.req.header("Origin") === undefined) return c.body(null, 403);
  return c.body(null, 204, {
    ...corsHeaders(c),
    "Access-Control-Allow-Methods": "GET, POST",
    "Access-Control-Allow-Headers": `Content-Type, ${AUTH_HEADER}, ${SESSION_HEADER}`,
    "Access-Control-Max-Age": "3600",
  });
});

longPollRoutes.get(LONGPOLL_PATH, async (c) => {
  const early = checkEarly(c);
  if (!early.ok) return early.answer;
  const { auth, session } = readTokens(c);
  if (session === undefined) return openSession(c, auth, early.serializer);

  const claims = await resumeSession(c, session, auth);
  if (!claims.ok) return claims.answer;
  const answer = await claimedSession(c, claims).poll();
  if (answer.status === 200 || answer.status === 204) {
    return reply(c, { messages: [], ...answer, token: session });
  }
  return reply(c, answer);
});

longPollRoutes.post(LONGPOLL_PATH, async (c) => {
  const early = checkEarly(c);
  if (!early.ok) return early.answer;
  const { auth, session } = readTokens(c);
  if (session === undefined) return reply(c, { status: 410, error: "No session: GET /socket/longpoll first." });
  const claims = await resumeSession(c, session, auth);
  if (!claims.ok) return claims.answer;

  const declared = Number(c.req.header("Content-Length") ?? 0);
  if (declared > MAX_POST_BYTES) return tooLarge(c);
  const bytes = await readCapped(c.req.raw.body, MAX_POST_BYTES);
  if (!bytes) return tooLarge(c);
  let body: string;
  try {
    body = utf8.decode(bytes);
  } catch {
    return reply(c, { status: 400, error: "The body is not UTF-8 text." }, 400);
  }
  const ndjson = (c.req.header("Content-Type") ?? "").toLowerCase().startsWith("application/x-ndjson");
  const frames = ndjson ? splitFrames(body) : [body];
  if (typeof frames === "string") return reply(c, { status: 400, error: frames }, 400);

  const answer = await claimedSession(c, claims).publish(frames);
  return reply(c, answer, answer.status === 400 ? 400 : 200);
});

longPollRoutes.all(LONGPOLL_PATH, (c) =>
  reply(c, { status: 405, error: "LongPoll takes GET (poll) and POST (send) only." }, 405, {
    Allow: "GET, POST, OPTIONS",
  }),
);

/**
 * The checks every poll and send passes first: the Origin and the serializer version. The session speaks
 * the serializer it was opened with; later requests only have to ask for one pyre speaks.
 */
function checkEarly(c: Context<AppEnv>): { ok: true; serializer: Serializer } | { ok: false; answer: Response } {
  const badOrigin = checkOrigin(c, "poll");
  if (badOrigin) return { ok: false, answer: reply(c, { status: 403, error: badOrigin.message }) };
  const vsn = checkVsn(c);
  // phoenix.js stops on 403; a status it does not know would leave it stuck.
  if (!vsn.ok) return { ok: false, answer: reply(c, { status: 403, error: vsn.message }) };
  return vsn;
}

/**
 * The two tokens a request may carry. phoenix.js puts the socket's params first and appends the session
 * token as another `token` param, so `token` may appear twice; the session token says what it is.
 */
function readTokens(c: Context<AppEnv>): { auth: string | undefined; session: string | undefined } {
  const queried = c.req.queries("token") ?? [];
  const sessions: string[] = [];
  const auths: string[] = [];
  for (const token of queried) (claimsToBeSessionToken(token) ? sessions : auths).push(token);
  return {
    auth: c.req.header(AUTH_HEADER) ?? auths[0],
    session: c.req.header(SESSION_HEADER) ?? sessions.at(-1),
  };
}

/**
 * A GET without a session token: the socket token and Origin checked as at the WebSocket endpoint, one of
 * the user's socket slots taken, a SocketSession opened speaking the serializer the `vsn` chose, and
 * `{status: 410, token}`: the client now holds a session.
 */
async function openSession(c: Context<AppEnv>, auth: string | undefined, serializer: Serializer): Promise<Response> {
  const verified = await checkToken(c, auth, `params.token or the ${AUTH_HEADER} header (authToken)`);
  if (!verified.ok) return reply(c, { status: 403, error: verified.refusal.message });
  const session = newSession(c.env);
  const opened = await handOverWithSlot(
    c.env,
    verified,
    session.holder,
    `GET ${LONGPOLL_PATH}`,
    (slot) => session.stub.openLongPoll(socketGrant(verified, slot, false, serializer)),
    (taken) => taken,
  );
  // Over the socket cap too: phoenix.js knows no 429 on a poll, and retries a 403 after its backoff.
  if (!opened.ok) return reply(c, { status: 403, error: opened.refusal.message });
  if (!opened.result) return reply(c, { status: 403, error: TOKEN_REVOKED });
  const claims = { userId: verified.user.id, generation: verified.generation, sessionId: session.id };
  const token = await signSessionToken(claims, c.var.secrets, verified.expiresAt);
  return reply(c, { status: 410, token, messages: [] });
}

type Resumed = ({ ok: true } & SessionClaims) | { ok: false; answer: Response };

/** A valid session token, and a socket token, if the request carries one, of the same user. */
async function resumeSession(c: Context<AppEnv>, session: string, auth: string | undefined): Promise<Resumed> {
  const claims = await verifySessionToken(session, c.var.secrets);
  if (!claims.ok) {
    return {
      ok: false,
      answer: reply(c, { status: 410, error: `Session token ${claims.reason}: start a new session.` }),
    };
  }
  if (auth !== undefined) {
    const owner = await verifyClaims(auth, c.var.secrets, SOCKET_AUDIENCE, new Date());
    if (!owner.ok) return { ok: false, answer: reply(c, { status: 403, error: `Token ${owner.reason}.` }) };
    if (owner.userId !== claims.userId) {
      return { ok: false, answer: reply(c, { status: 403, error: "This session belongs to another user." }) };
    }
  }
  return claims;
}

function claimedSession(c: Context<AppEnv>, claims: SessionClaims): SessionStub {
  return sessionStub(c.env, claims.sessionId);
}

/**
 * ndjson lines: a JSON text frame (a V2 array, or a V1 object, which Phoenix would take for base64), or
 * base64 of a binary push (as phoenix.js sends ArrayBuffers).
 */
function splitFrames(body: string): Array<string | ArrayBuffer> | string {
  const lines = body.split(/\r?\n/).filter((line) => line !== "");
  if (lines.length > MAX_POLL_BATCH) {
    return `Too many frames: at most ${MAX_POLL_BATCH} per POST, this one has ${lines.length}.`;
  }
  const frames: Array<string | ArrayBuffer> = [];
  for (const [index, line] of lines.entries()) {
    if (line.startsWith("[") || line.startsWith("{")) {
      frames.push(line);
      continue;
    }
    const bytes = decodeBase64(line);
    if (!bytes) return `Line ${index + 1} is neither a JSON frame nor base64 of a binary push.`;
    frames.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
  }
  return frames;
}

function tooLarge(c: Context<AppEnv>): Response {
  return reply(c, { status: 413, error: `Body too large: at most ${MAX_POST_BYTES} bytes per POST.` }, 413);
}

function reply(
  c: Context<AppEnv>,
  answer: Answer,
  httpStatus: ContentfulStatusCode = 200,
  headers: Record<string, string> = {},
): Response {
  // With the session token in a header, every poll has the same URL: no cache may keep or share one.
  return c.json(answer, httpStatus, { "Cache-Control": "no-store", ...corsHeaders(c), ...headers });
}

/** Lets an allowed cross-origin page read the answer; origins were checked before any answer is built. */
function corsHeaders(c: Context<AppEnv>): Record<string, string> {
  const origin = c.req.header("Origin");
  if (origin === undefined || checkOrigin(c, "poll")) return {};
  return { "Access-Control-Allow-Origin": origin, Vary: "Origin" };
}
