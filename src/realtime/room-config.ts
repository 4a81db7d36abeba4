/**
 * The room's limits, from vars in wrangler.toml that an operator can change (and `wrangler dev --var`
 * can override, as the benchmark does to measure load instead of refusing it):
 * - POSTS_PER_SECOND, POSTS_BURST: each user's post bucket per room;
 * - SOCKETS_PER_USER: concurrent sockets per user across all rooms;
 * - POST_STORE_TIMEOUT_MS: how long a poster waits for D1 before being answered `unavailable`.
 * A value that is not a positive number is a configuration mistake: it throws, naming the var, and the
 * socket endpoint answers 500 rather than run without a limit.
 */
export interface RoomConfig {
  postsPerSecond: number;
  postsBurst: number;
  socketsPerUser: number;
  postStoreTimeoutMs: number;
}

export const ROOM_CONFIG_DEFAULTS: RoomConfig = {
  postsPerSecond: 5,
  postsBurst: 10,
  socketsPerUser: 10,
  postStoreTimeoutMs: 5_000,
};

type RoomConfigVars = Partial<
  Record<"POSTS_PER_SECOND" | "POSTS_BURST" | "SOCKETS_PER_USER" | "POST_STORE_TIMEOUT_MS", string | number>
>;

const cache = new WeakMap<object, RoomConfig>();

export function readRoomConfig(env: RoomConfigVars): RoomConfig {
  const known = cache.get(env);
  if (known) return known;
  const config: RoomConfig = {
    postsPerSecond: positive(env, "POSTS_PER_SECOND", ROOM_CONFIG_DEFAULTS.postsPerSecond),
    postsBurst: positive(env, "POSTS_BURST", ROOM_CONFIG_DEFAULTS.postsBurst),
    socketsPerUser: positive(env, "SOCKETS_PER_USER", ROOM_CONFIG_DEFAULTS.socketsPerUser, true),
    postStoreTimeoutMs: positive(env, "POST_STORE_TIMEOUT_MS", ROOM_CONFIG_DEFAULTS.postStoreTimeoutMs),
  };
  cache.set(env, config);
  return config;
}

function positive(env: RoomConfigVars, name: keyof RoomConfigVars, fallback: number, integer = false): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new Error(`${name} must be a positive ${integer ? "integer" : "number"}, not ${JSON.stringify(raw)}`);
  }
  return value;
}
