import type { TokenSecrets } from "../auth/secret";
import type { Config } from "../config";
import type { Database } from "../db/client";
import type { User } from "../db/users";

/** Who is looking at a page: the logged-in user and the socket token their page embeds. */
export interface Viewer {
  user: User;
  /** Signed for audience "user socket"; goes into `<meta name="user_token">`. */
  socketToken: string;
  /**
   * The top bar's count of new mentions (src/db/mentions.ts unseenMentionCount): read from D1 once, and
   * only when a page's top bar asks for it, so JSON answers never pay for it.
   */
  unseenMentions(): Promise<number>;
}

/**
 * Secrets wrangler.toml does not declare: `[secrets] required` would make deploys fail without them, and
 * `wrangler types` only knows the declared ones.
 */
export interface OptionalSecrets {
  /** Set only while rotating keys: the secret TOKEN_SECRET replaced, still accepted for verification. */
  TOKEN_SECRET_PREVIOUS?: string;
}

/** Hono's environment for pyre: bindings from wrangler.toml, per-request dependencies on `c.var`. */
export interface AppEnv {
  Bindings: Env & OptionalSecrets;
  Variables: {
    /** Set by `requireTokenSecret()`; no handler runs without them. */
    secrets: TokenSecrets;
    /** Set by `requireConfig()`: the vars, parsed; no handler runs without them. */
    config: Config;
    /** Set by `database()`. */
    db: Database;
    /** Set by `session()`: null when logged out. */
    viewer: Viewer | null;
  };
}
