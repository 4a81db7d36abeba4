/**
 * The operator's settings from wrangler.toml's [vars] (or `wrangler dev --var`), checked once per distinct
 * set of values. A value that does not parse is a configuration error: the worker refuses to serve rather
 * than run with a guess (see middleware/config.ts).
 */
import { parseAllowedOrigins } from "./origin";

export interface Config {
  /** Normalised origins, besides the app's own, that may post forms and open sockets. */
  allowedOrigins: ReadonlySet<string>;
}

export type ConfigResult = { ok: true; config: Config } | { ok: false; problem: string };

type ConfigVars = Pick<Env, "ALLOWED_ORIGINS">;

/** The vars rarely change between requests: remember the last set and what it parsed to. */
let last: { key: string; result: ConfigResult } | undefined;

export function readConfig(vars: ConfigVars): ConfigResult {
  const key = JSON.stringify([vars.ALLOWED_ORIGINS]);
  if (last?.key === key) return last.result;
  const result = parse(vars);
  last = { key, result };
  return result;
}

function parse(vars: ConfigVars): ConfigResult {
  const origins = parseAllowedOrigins(vars.ALLOWED_ORIGINS);
  if (!origins.ok) return origins;
  return { ok: true, config: { allowedOrigins: origins.origins } };
}
