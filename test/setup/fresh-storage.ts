/**
 * What every pool file starts from: no Durable Object state and a D1 with exactly our migrations. A file
 * shares its workerd with the files its pool worker ran before it (vitest.config.ts, `isolate: false`), so
 * this empties what they left rather than relying on a fresh process.
 */
import { applyD1Migrations, reset } from "cloudflare:test";
import { env } from "cloudflare:workers";

// Every Durable Object's storage emptied (local D1 is one too: its tables go, migrations included),
// every instance aborted (its sockets closed), every alarm cancelled.
await reset();

// Fail loudly rather than let files share rows, should a later pool keep D1 out of reset().
const { results: left } = await env.DB.prepare(
  "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'",
).all<{ name: string }>();
if (left.length > 0) {
  throw new Error(
    `reset() left D1 tables behind (${left.map((table) => table.name).join(", ")}): files would share rows`,
  );
}

await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
