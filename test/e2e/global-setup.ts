/**
 * Starts one real `wrangler dev` for every e2e file, on a free port, with its own fresh local state
 * (D1 with our migrations applied, Durable Objects) in a temp dir and a random TOKEN_SECRET passed with
 * `--env-file`, so nothing is written into the repository and the developer's .dev.vars is never read.
 * Tests get the base URL with `inject("baseUrl")`. Teardown ends wrangler's whole process group (npx,
 * wrangler, esbuild, workerd) and removes the temp dir. Set E2E_SHOW_WRANGLER=1 to see wrangler's output.
 *
 * `wrangler d1 migrations apply` runs once, into a pristine state dir that is then copied: once for this
 * server, and again by any file that starts a `wrangler dev` of its own (`inject("migratedState")`, see
 * restart.e2e.ts), so no file pays the ~4 s of applying them again.
 */
import { randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { ROOT, run, startWranglerDev, type WranglerDev } from "./wrangler-dev";

/**
 * Vars that override wrangler.toml's for the e2e run (and `npm run bench`). Every e2e user signs up and logs
 * in from 127.0.0.1, the tests post faster than a person would (hundreds of posts in a couple of seconds),
 * and the bench joins one room hundreds of times as one user: the pool tests prove the shipped limits, so a
 * run here is never refused for being one busy address, typist or joiner.
 */
export const E2E_VARS = {
  REGISTRATIONS_PER_IP: "100000",
  LOGINS_PER_IP: "100000",
  POSTS_PER_SECOND: "1000",
  POSTS_BURST: "1000",
  USER_POSTS_PER_SECOND: "1000",
  USER_POSTS_BURST: "1000",
  JOINS_PER_MINUTE: "100000",
  JOINS_BURST: "100000",
};

declare module "vitest" {
  export interface ProvidedContext {
    /** The running app, e.g. http://127.0.0.1:41234 (no trailing slash). */
    baseUrl: string;
    /**
     * Local state (a `--persist-to` dir) with our D1 migrations applied and nothing else, never served:
     * copy it (`cpSync(dir, yourDir, { recursive: true })`) for a `wrangler dev` of your own.
     */
    migratedState: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (!existsSync(join(ROOT, "public/assets/room.js"))) {
    await run("npx", ["node", "scripts/build-client.mjs"]);
  }

  const stateDir = mkdtempSync(join(tmpdir(), "pyre-e2e-"));
  const migratedState = join(stateDir, "migrated");
  const persistTo = join(stateDir, "state");
  const envFile = join(stateDir, "secrets.env");
  writeFileSync(envFile, `TOKEN_SECRET=${randomBytes(36).toString("base64url")}\n`, { mode: 0o600 });

  let wrangler: WranglerDev | undefined;
  const stopAll = async () => {
    if (wrangler) await wrangler.stop();
    rmSync(stateDir, { recursive: true, force: true });
  };

  try {
    await run("npx", ["wrangler", "d1", "migrations", "apply", "DB", "--local", "--persist-to", migratedState]);
    cpSync(migratedState, persistTo, { recursive: true });
    wrangler = await startWranglerDev({
      persistTo,
      envFile,
      vars: E2E_VARS,
      echo: Boolean(process.env.E2E_SHOW_WRANGLER),
    });
    project.provide("baseUrl", wrangler.baseUrl);
    project.provide("migratedState", migratedState);
  } catch (problem) {
    await stopAll();
    throw problem;
  }

  return stopAll;
}
