/**
 * Starts one real `wrangler dev` for every e2e file, on a free port, with its own fresh local state
 * (D1 with our migrations applied, Durable Objects) in a temp dir and a random TOKEN_SECRET passed with
 * `--env-file`, so nothing is written into the repository and the developer's .dev.vars is never read.
 * Tests get the base URL with `inject("baseUrl")`. Teardown ends wrangler's whole process group (npx,
 * wrangler, esbuild, workerd) and removes the temp dir. Set E2E_SHOW_WRANGLER=1 to see wrangler's output.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    /** The running app, e.g. http://127.0.0.1:41234 (no trailing slash). */
    baseUrl: string;
  }
}

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const READY_TIMEOUT_MS = 60_000;
const STEP_TIMEOUT_MS = 120_000;
/**
 * Vars that override wrangler.toml's for the e2e run. Every e2e and bench user signs up and logs in from
 * 127.0.0.1, and the tests post faster than a person would (55 posts in a couple of seconds): the pool
 * tests prove the shipped limits, so a run here is never refused for being one busy address or typist.
 */
const E2E_VARS = {
  REGISTRATIONS_PER_IP: "100000",
  LOGINS_PER_IP: "100000",
  POSTS_PER_SECOND: "1000",
  POSTS_BURST: "1000",
} as const;
/** How much of wrangler's output is kept, to show when it fails. */
const OUTPUT_LIMIT = 20_000;

/** Environment for every child: no telemetry, no update check, no outside network; nothing that could
 * override the temp env file (with `[secrets]` in wrangler.toml, wrangler also reads process.env). */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    WRANGLER_SEND_METRICS: "false",
    WRANGLER_SEND_ERROR_REPORTS: "false",
    WRANGLER_HIDE_BANNER: "true",
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    NO_COLOR: "1",
    FORCE_COLOR: "0",
  };
  delete env.TOKEN_SECRET;
  delete env.ALLOWED_ORIGINS;
  return env;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      if (address === null || typeof address === "string") {
        server.close();
        reject(new Error("could not read the port of a listening server"));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}

/** Runs a command to completion (stdin closed, so nothing can prompt), failing with its output. */
function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    // Its own process group, so a timeout also ends what it started (wrangler runs workerd for D1).
    const child = spawn(command, args, {
      cwd: ROOT,
      env: childEnv(),
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let output = "";
    const collect = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-OUTPUT_LIMIT);
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    const timer = setTimeout(() => {
      if (child.pid !== undefined) signalGroup(child.pid, "SIGKILL");
    }, STEP_TIMEOUT_MS);
    child.once("error", (problem) => {
      clearTimeout(timer);
      reject(problem);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new Error(`\`${command} ${args.join(" ")}\` failed (${signal ?? `exit ${code}`}):\n${output}`));
    });
  });
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

async function waitForGroupExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!groupAlive(pid)) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return !groupAlive(pid);
}

/** SIGTERM to the whole group (wrangler and workerd with it), SIGKILL if anything is left after 5 s. */
async function stopGroup(child: ChildProcess): Promise<void> {
  const pid = child.pid;
  if (pid === undefined) return;
  signalGroup(pid, "SIGTERM");
  if (await waitForGroupExit(pid, 5_000)) return;
  signalGroup(pid, "SIGKILL");
  if (!(await waitForGroupExit(pid, 5_000))) {
    console.error(`[e2e] wrangler's process group ${pid} survived SIGKILL`);
  }
}

async function waitUntilServing(url: string, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastProblem = "no answer yet";
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `wrangler dev exited (${child.signalCode ?? `exit ${child.exitCode}`}) before serving:\n${output()}`,
      );
    }
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await response.arrayBuffer();
      if (response.status === 200) return;
      lastProblem = `GET / answered ${response.status}`;
    } catch (problem) {
      lastProblem = String(problem);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(
    `wrangler dev did not serve ${url} within ${READY_TIMEOUT_MS / 1000} s (${lastProblem}):\n${output()}`,
  );
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (!existsSync(join(ROOT, "public/assets/room.js"))) {
    await run("npx", ["node", "scripts/build-client.mjs"]);
  }

  const stateDir = mkdtempSync(join(tmpdir(), "pyre-e2e-"));
  const persistTo = join(stateDir, "state");
  const envFile = join(stateDir, "secrets.env");
  writeFileSync(envFile, `TOKEN_SECRET=${randomBytes(36).toString("base64url")}\n`, { mode: 0o600 });

  let wrangler: ChildProcess | undefined;
  const stopAll = async () => {
    if (wrangler) await stopGroup(wrangler);
    rmSync(stateDir, { recursive: true, force: true });
  };
  // If the run is torn down without our teardown (a crash), still leave no workerd behind.
  const killOnExit = () => {
    if (wrangler?.pid !== undefined) signalGroup(wrangler.pid, "SIGKILL");
  };
  process.once("exit", killOnExit);

  try {
    await run("npx", ["wrangler", "d1", "migrations", "apply", "DB", "--local", "--persist-to", persistTo]);

    const port = await freePort();
    const inspectorPort = await freePort();
    const baseUrl = `http://127.0.0.1:${port}`;
    // detached: wrangler leads its own process group, so teardown can end workerd and esbuild with it.
    const child = spawn(
      "npx",
      [
        "wrangler",
        "dev",
        "--port",
        String(port),
        "--ip",
        "127.0.0.1",
        "--inspector-port",
        String(inspectorPort),
        "--persist-to",
        persistTo,
        "--env-file",
        envFile,
        "--var",
        ...Object.entries(E2E_VARS).map(([name, value]) => `${name}:${value}`),
        "--show-interactive-dev-session=false",
      ],
      { cwd: ROOT, env: childEnv(), stdio: ["ignore", "pipe", "pipe"], detached: true },
    );
    wrangler = child;
    let output = "";
    const collect = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-OUTPUT_LIMIT);
      if (process.env.E2E_SHOW_WRANGLER) process.stderr.write(chunk);
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);

    await waitUntilServing(`${baseUrl}/`, child, () => output);
    project.provide("baseUrl", baseUrl);
  } catch (problem) {
    await stopAll();
    process.off("exit", killOnExit);
    throw problem;
  }

  return async () => {
    await stopAll();
    process.off("exit", killOnExit);
  };
}
