/**
 * The operator's settings from wrangler.toml's [vars] (or `wrangler dev --var`), checked once per distinct
 * set of values. A value that does not parse is a configuration error: the worker refuses to serve rather
 * than run with a guess (see middleware/config.ts).
 */
import { parseAllowedOrigins } from "./origin";

export interface AccountLimits {
  /** Sign-up attempts per client address per window. */
  registrationsPerIp: number;
  /** Login attempts (password checks, whatever the email) per client address per window. */
  loginsPerIp: number;
  windowMs: number;
}

export interface Config {
  /** Normalised origins, besides the app's own, that may post forms and open sockets. */
  allowedOrigins: ReadonlySet<string>;
  accountLimits: AccountLimits;
}

export type ConfigResult = { ok: true; config: Config } | { ok: false; problem: string };

type ConfigVars = Pick<
  Env,
  "ALLOWED_ORIGINS" | "REGISTRATIONS_PER_IP" | "LOGINS_PER_IP" | "ACCOUNT_LIMIT_WINDOW_SECONDS"
>;

/** What wrangler.toml ships; a var left out of the configuration altogether gets these. */
export const DEFAULT_ACCOUNT_LIMITS = {
  REGISTRATIONS_PER_IP: 30,
  LOGINS_PER_IP: 100,
  ACCOUNT_LIMIT_WINDOW_SECONDS: 600,
} as const;

/** Bounds that catch typos (an extra digit or two) without getting in an operator's way. */
const LIMIT_MAX = 1_000_000;
const WINDOW_MAX_SECONDS = 7 * 24 * 3600;

/** The vars rarely change between requests: remember the last set and what it parsed to. */
let last: { key: string; result: ConfigResult } | undefined;

export function readConfig(vars: ConfigVars): ConfigResult {
  const key = JSON.stringify([
    vars.ALLOWED_ORIGINS,
    vars.REGISTRATIONS_PER_IP,
    vars.LOGINS_PER_IP,
    vars.ACCOUNT_LIMIT_WINDOW_SECONDS,
  ]);
  if (last?.key === key) return last.result;
  const result = parse(vars);
  last = { key, result };
  return result;
}

function parse(vars: ConfigVars): ConfigResult {
  const origins = parseAllowedOrigins(vars.ALLOWED_ORIGINS);
  if (!origins.ok) return origins;
  const registrations = wholeNumber(vars, "REGISTRATIONS_PER_IP", LIMIT_MAX);
  if (!registrations.ok) return registrations;
  const logins = wholeNumber(vars, "LOGINS_PER_IP", LIMIT_MAX);
  if (!logins.ok) return logins;
  const window = wholeNumber(vars, "ACCOUNT_LIMIT_WINDOW_SECONDS", WINDOW_MAX_SECONDS);
  if (!window.ok) return window;
  return {
    ok: true,
    config: {
      allowedOrigins: origins.origins,
      accountLimits: {
        registrationsPerIp: registrations.value,
        loginsPerIp: logins.value,
        windowMs: window.value * 1000,
      },
    },
  };
}

type NumberResult = { ok: true; value: number } | { ok: false; problem: string };

/** Vars from wrangler.toml may be strings or numbers; `--var` always gives strings. */
function wholeNumber(vars: ConfigVars, name: keyof typeof DEFAULT_ACCOUNT_LIMITS, max: number): NumberResult {
  const raw: unknown = vars[name];
  if (raw === undefined) return { ok: true, value: DEFAULT_ACCOUNT_LIMITS[name] };
  const text = typeof raw === "number" ? String(raw) : typeof raw === "string" ? raw.trim() : "";
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < 1 || value > max) {
    return {
      ok: false,
      problem: `${name} is ${JSON.stringify(raw)}, which is not a whole number from 1 to ${max.toLocaleString("en-US")}`,
    };
  }
  return { ok: true, value };
}
