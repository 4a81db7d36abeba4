import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";

// Idempotent: applies only what this file's isolated D1 does not have yet.
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
