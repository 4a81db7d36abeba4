/**
 * Setup of the `no-objects` project (vitest.config.ts), whose files share one workerd, file after file:
 * each file starts with a D1 holding our migrations and nothing else, and must leave no Durable Object
 * behind. The pool's reset() empties only the objects in memory (an evicted one keeps its storage), so
 * files that make objects run in `pool`, each in a workerd of its own.
 */
import { applyD1Migrations, listDurableObjectIds, reset } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterAll } from "vitest";

// Local D1 is a Durable Object of the pool's own, always in memory: reset() empties it (and would empty any
// object of ours still in memory, though none may be left; see below). Fail loudly should it ever keep rows.
await reset();
const { results: left } = await env.DB.prepare(
  "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'",
).all<{ name: string }>();
if (left.length > 0) {
  throw new Error(`reset() left D1 tables behind (${left.map((table) => table.name).join(", ")})`);
}
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);

/** How many Durable Objects this workerd has made, per namespace (recognised as the pool itself does). */
async function objectsMade(): Promise<string[]> {
  const made: string[] = [];
  for (const [name, binding] of Object.entries(env)) {
    if (name.startsWith("__") || !(binding instanceof Object)) continue;
    if (!/DurableObjectNamespace$/.test(binding.constructor.name)) continue;
    const count = (await listDurableObjectIds(binding as DurableObjectNamespace)).length;
    if (count > 0) made.push(`${count} in ${name}`);
  }
  return made;
}

const before = await objectsMade();
if (before.length > 0) {
  throw new Error(
    `an earlier file of the no-objects project made Durable Objects (${before.join(", ")}); see its failure`,
  );
}

afterAll(async () => {
  const made = await objectsMade();
  if (made.length > 0) {
    throw new Error(
      `this file made Durable Objects (${made.join(", ")}), but files of the no-objects project share storage: ` +
        "move it from NO_OBJECT_FILES (vitest.config.ts) to the pool project",
    );
  }
});
