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
// object of ours still in memory, though none may be left; see below). A test of an earlier file that timed
// out is not stopped: if it is still writing to D1, tables can outlive one reset, so wait and reset again;
// fail, naming the likely cause, should they outlive a few.
async function tablesLeft(): Promise<string[]> {
  const { results } = await env.DB.prepare(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'",
  ).all<{ name: string }>();
  return results.map(({ name }) => name);
}
let left: string[] = [];
for (let attempt = 1; attempt <= 4; attempt += 1) {
  await reset();
  left = await tablesLeft();
  if (left.length === 0) break;
  await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
}
if (left.length > 0) {
  throw new Error(
    `D1 tables outlived reset() (${left.join(", ")}): an earlier file of this worker still writes to D1, ` +
      "most likely a test of it that timed out; see that failure",
  );
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
