import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";

// Each file of `pool` and `short-idle` has a workerd of its own (vitest.config.ts), so its D1 starts empty.
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
