/**
 * The operator's settings from wrangler.toml's [vars] (or `wrangler dev --var`), checked once per distinct
 * set of values. A value that does not parse is a configuration error: the worker refuses to serve rather
 * than run with a guess (see http/middleware/config.ts), and a Durable Object that reads it throws.
 */
import { parseAllowedOrigins } from "./http/origin";

export interface AccountLimits {
  /** Sign-up attempts per client address per window. */
  registrationsPerIp: number;
  /** Login attempts (password checks, whatever the email) per client address per window. */
  loginsPerIp: number;
  windowMs: number;
}

/** A room's abuse limits and patience (src/realtime/). */
export interface RoomLimits {
  /** Each user's post bucket per room: refilled this many times a second... */
  postsPerSecond: number;
  /** ...and holding at most this many. */
  postsBurst: number;
  /** Each user's post allowance across all rooms and ways in: refilled this many times a second... */
  userPostsPerSecond: number;
  /** ...and holding at most this many. */
  userPostsBurst: number;
  /** Each user's join bucket per room (every way in): refilled this many times a minute... */
  joinsPerMinute: number;
  /** ...and holding at most this many. */
  joinsBurst: number;
  /** Concurrent sockets per user across all rooms. */
  socketsPerUser: number;
  /** Rooms (not direct messages) one person may create in 24 hours. */
  roomsPerUserPerDay: number;
  /** How long a poster waits for D1 before the post is answered `unavailable`. */
  postStoreTimeoutMs: number;
  /** How long after it was posted a post may still be edited by its author; 0: forever. */
  editWindowMs: number;
}

/** The LongPoll transport's timings (src/realtime/session/socket-session.ts). */
export interface LongPollTimings {
  /** How long a poll is held open without messages before it answers 204 (Phoenix's `window_ms`). */
  windowMs: number;
  /** A long-poll session ends and leaves its rooms this long after its latest poll began, if none began since. */
  idleMs: number;
}

export interface Config {
  /** Normalised origins, besides the app's own, that may post forms and open sockets. */
  allowedOrigins: ReadonlySet<string>;
  accountLimits: AccountLimits;
  roomLimits: RoomLimits;
  longPoll: LongPollTimings;
  /**
   * A WebSocket (room-bound or multiplexed) that sends nothing, no frame and no heartbeat, for this long is
   * closed (src/realtime/shell/idle.ts); Phoenix's 60 s.
   */
  socketIdleMs: number;
}

export type ConfigResult = { ok: true; config: Config } | { ok: false; problem: string };

/** What wrangler.toml ships; a var left out of the configuration altogether gets these. */
export const DEFAULTS = {
  REGISTRATIONS_PER_IP: 30,
  LOGINS_PER_IP: 100,
  ACCOUNT_LIMIT_WINDOW_SECONDS: 600,
  POSTS_PER_SECOND: 5,
  POSTS_BURST: 10,
  USER_POSTS_PER_SECOND: 10,
  USER_POSTS_BURST: 30,
  JOINS_PER_MINUTE: 30,
  JOINS_BURST: 20,
  SOCKETS_PER_USER: 10,
  ROOMS_PER_USER_PER_DAY: 20,
  POST_STORE_TIMEOUT_MS: 5_000,
  EDIT_WINDOW_SECONDS: 86_400,
  LONGPOLL_WINDOW_MS: 10_000,
  LONGPOLL_IDLE_MS: 20_000,
  SOCKET_IDLE_MS: 60_000,
} as const;

type NumberVar = keyof typeof DEFAULTS;
type ConfigVars = Partial<Record<NumberVar | "ALLOWED_ORIGINS", unknown>>;

/** Bounds that catch typos (an extra digit or two) without getting in an operator's way. */
const LIMIT_MAX = 1_000_000;
const WINDOW_MAX_SECONDS = 7 * 24 * 3600;
const TIMEOUT_MAX_MS = 60_000;
const IDLE_MAX_MS = 600_000;
/** A year: longer is what 0 (no limit) is for. */
const EDIT_WINDOW_MAX_SECONDS = 365 * 24 * 3600;

/**
 * The vars rarely change between requests: remember what each env object (a Durable Object keeps one)
 * parsed to, and the last set of values for an env object not seen before.
 */
const parsedFor = new WeakMap<object, ConfigResult>();
let last: { key: string; result: ConfigResult } | undefined;

export function readConfig(vars: ConfigVars): ConfigResult {
  const known = parsedFor.get(vars);
  if (known !== undefined) return known;
  const result = readValues(vars);
  parsedFor.set(vars, result);
  return result;
}

function readValues(vars: ConfigVars): ConfigResult {
  const key = JSON.stringify([vars.ALLOWED_ORIGINS, ...Object.keys(DEFAULTS).map((name) => vars[name as NumberVar])]);
  if (last?.key === key) return last.result;
  const result = parse(vars);
  last = { key, result };
  return result;
}

/** For Durable Objects, which the worker only reaches once the configuration has parsed. */
export function configOf(vars: ConfigVars): Config {
  const result = readConfig(vars);
  if (!result.ok) throw new Error(`configuration: ${result.problem}`);
  return result.config;
}

function parse(vars: ConfigVars): ConfigResult {
  const origins = parseAllowedOrigins(typeof vars.ALLOWED_ORIGINS === "string" ? vars.ALLOWED_ORIGINS : undefined);
  if (!origins.ok) return origins;
  const numbers: Partial<Record<NumberVar, number>> = {};
  const rules: Array<[NumberVar, number, NumberKind]> = [
    ["REGISTRATIONS_PER_IP", LIMIT_MAX, "whole"],
    ["LOGINS_PER_IP", LIMIT_MAX, "whole"],
    ["ACCOUNT_LIMIT_WINDOW_SECONDS", WINDOW_MAX_SECONDS, "whole"],
    ["POSTS_PER_SECOND", LIMIT_MAX, "positive"],
    ["POSTS_BURST", LIMIT_MAX, "whole"],
    ["USER_POSTS_PER_SECOND", LIMIT_MAX, "positive"],
    ["USER_POSTS_BURST", LIMIT_MAX, "whole"],
    ["JOINS_PER_MINUTE", LIMIT_MAX, "positive"],
    ["JOINS_BURST", LIMIT_MAX, "whole"],
    ["SOCKETS_PER_USER", LIMIT_MAX, "whole"],
    ["ROOMS_PER_USER_PER_DAY", LIMIT_MAX, "whole"],
    ["POST_STORE_TIMEOUT_MS", TIMEOUT_MAX_MS, "whole"],
    ["LONGPOLL_WINDOW_MS", TIMEOUT_MAX_MS, "whole"],
    ["LONGPOLL_IDLE_MS", IDLE_MAX_MS, "whole"],
    ["SOCKET_IDLE_MS", IDLE_MAX_MS, "whole"],
    ["EDIT_WINDOW_SECONDS", EDIT_WINDOW_MAX_SECONDS, "whole or 0"],
  ];
  for (const [name, max, kind] of rules) {
    const parsed = numberVar(vars, name, max, kind);
    if (!parsed.ok) return parsed;
    numbers[name] = parsed.value;
  }
  const value = (name: NumberVar) => numbers[name] ?? DEFAULTS[name];
  return {
    ok: true,
    config: {
      allowedOrigins: origins.origins,
      accountLimits: {
        registrationsPerIp: value("REGISTRATIONS_PER_IP"),
        loginsPerIp: value("LOGINS_PER_IP"),
        windowMs: value("ACCOUNT_LIMIT_WINDOW_SECONDS") * 1000,
      },
      roomLimits: {
        postsPerSecond: value("POSTS_PER_SECOND"),
        postsBurst: value("POSTS_BURST"),
        userPostsPerSecond: value("USER_POSTS_PER_SECOND"),
        userPostsBurst: value("USER_POSTS_BURST"),
        joinsPerMinute: value("JOINS_PER_MINUTE"),
        joinsBurst: value("JOINS_BURST"),
        socketsPerUser: value("SOCKETS_PER_USER"),
        roomsPerUserPerDay: value("ROOMS_PER_USER_PER_DAY"),
        postStoreTimeoutMs: value("POST_STORE_TIMEOUT_MS"),
        editWindowMs: value("EDIT_WINDOW_SECONDS") * 1000,
      },
      longPoll: { windowMs: value("LONGPOLL_WINDOW_MS"), idleMs: value("LONGPOLL_IDLE_MS") },
      socketIdleMs: value("SOCKET_IDLE_MS"),
    },
  };
}

type NumberResult = { ok: true; value: number } | { ok: false; problem: string };

/** A whole number from 1, a number above 0 (fractions allowed), or a whole number from 0 (0: no limit). */
type NumberKind = "whole" | "positive" | "whole or 0";

/** Vars from wrangler.toml may be strings or numbers; `--var` always gives strings. */
function numberVar(vars: ConfigVars, name: NumberVar, max: number, kind: NumberKind): NumberResult {
  const raw = vars[name];
  if (raw === undefined) return { ok: true, value: DEFAULTS[name] };
  const text = typeof raw === "number" ? String(raw) : typeof raw === "string" ? raw.trim() : "";
  const value = Number(text);
  const shape = kind === "positive" ? /^\d+(\.\d+)?$/ : /^\d+$/;
  const least = kind === "whole or 0" ? 0 : Number.MIN_VALUE;
  if (!shape.test(text) || value < least || value > max) {
    const what = kind === "whole" ? "whole number" : kind === "positive" ? "number above 0" : "whole number from 0";
    return {
      ok: false,
      problem: `${name} is ${JSON.stringify(raw)}, which is not a ${what} up to ${max.toLocaleString("en-US")}`,
    };
  }
  return { ok: true, value };
}
