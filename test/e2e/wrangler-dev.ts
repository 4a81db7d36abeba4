/**
 * Runs a real `wrangler dev` as a child: on a free loopback port, with local state in a directory the
 * caller owns, in a process group of its own so that stopping it also ends what it started (npx,
 * wrangler, esbuild, workerd). Shared by the e2e global setup and `npm run bench:fanout`.
 *
 * Plain Node and erasable TypeScript only: the benchmark runs this file with Node's type stripping.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

/** The repository root: wrangler runs from here, so it finds the project's wrangler and configs. */
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const READY_TIMEOUT_MS = 60_000;
const STEP_TIMEOUT_MS = 120_000;
/** How much of wrangler's output is kept, to show when it fails. */
const OUTPUT_LIMIT = 20_000;

/** Environment for every child: no telemetry, no update check, no outside network; nothing that could
 * override the temp env file (with `[secrets]` in wrangler.toml, wrangler also reads process.env). */
export function childEnv(): NodeJS.ProcessEnv {
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

export function freePort(): Promise<number> {
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
export function run(command: string, args: string[]): Promise<string> {
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

export function signalGroup(pid: number, signal: NodeJS.Signals): void {
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
export async function stopGroup(child: ChildProcess): Promise<void> {
  const pid = child.pid;
  if (pid === undefined) return;
  signalGroup(pid, "SIGTERM");
  if (await waitForGroupExit(pid, 5_000)) return;
  signalGroup(pid, "SIGKILL");
  if (!(await waitForGroupExit(pid, 5_000))) {
    console.error(`process group ${pid} (${child.spawnfile}) survived SIGKILL`);
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
    // A worker that does not build never serves: wrangler stays up waiting for an edit, so say so now
    // rather than after READY_TIMEOUT_MS.
    if (output().includes("Build failed")) throw new Error(`wrangler dev could not build the worker:\n${output()}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await response.arrayBuffer();
      if (response.status === 200) return;
      lastProblem = `GET ${new URL(url).pathname} answered ${response.status}`;
    } catch (problem) {
      lastProblem = String(problem);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(
    `wrangler dev did not serve ${url} within ${READY_TIMEOUT_MS / 1000} s (${lastProblem}):\n${output()}`,
  );
}

export interface WranglerDevOptions {
  /** Where local state (D1, Durable Objects) lives; the caller creates and removes it. */
  persistTo: string;
  /** A wrangler config other than the project's own wrangler.toml, relative to {@link ROOT}. */
  config?: string;
  /** An env file with secrets (TOKEN_SECRET), so no .dev.vars is read. */
  envFile?: string;
  /** `--var NAME:VALUE` for each entry. */
  vars?: Record<string, string>;
  /** Copy wrangler's output to stderr as it comes. */
  echo?: boolean;
  /** The port to serve on (a free one when left out): a restart that clients reconnect to reuses it. */
  port?: number;
}

export interface WranglerDev {
  /** e.g. http://127.0.0.1:41234 (no trailing slash). */
  baseUrl: string;
  child: ChildProcess;
  /** The DevTools inspector's HTTP base (`/json` lists its targets), e.g. for a CPU profile of the worker. */
  inspectorUrl: string;
  /** The last {@link OUTPUT_LIMIT} characters wrangler wrote. */
  output(): string;
  /** Ends the whole process group; safe to call twice. */
  stop(): Promise<void>;
}

/** Starts `wrangler dev` and resolves once `GET /` answers 200; on failure nothing is left running. */
export async function startWranglerDev(options: WranglerDevOptions): Promise<WranglerDev> {
  const port = options.port ?? (await freePort());
  const inspectorPort = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const args = ["wrangler", "dev"];
  if (options.config !== undefined) args.push("--config", options.config);
  args.push(
    "--port",
    String(port),
    "--ip",
    "127.0.0.1",
    "--inspector-port",
    String(inspectorPort),
    "--persist-to",
    options.persistTo,
  );
  if (options.envFile !== undefined) args.push("--env-file", options.envFile);
  for (const [name, value] of Object.entries(options.vars ?? {})) args.push("--var", `${name}:${value}`);
  args.push("--show-interactive-dev-session=false");

  // detached: wrangler leads its own process group, so stopping it ends workerd and esbuild with it.
  const child = spawn("npx", args, { cwd: ROOT, env: childEnv(), stdio: ["ignore", "pipe", "pipe"], detached: true });
  let output = "";
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-OUTPUT_LIMIT);
    if (options.echo) process.stderr.write(chunk);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);

  // If the caller dies without stopping it (a crash), still leave no workerd behind.
  const killOnExit = () => {
    if (child.pid !== undefined) signalGroup(child.pid, "SIGKILL");
  };
  process.once("exit", killOnExit);
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= stopGroup(child).finally(() => process.off("exit", killOnExit));
    return stopped;
  };
  try {
    await waitUntilServing(`${baseUrl}/`, child, () => output);
  } catch (problem) {
    await stop();
    throw problem;
  }
  return { baseUrl, child, inspectorUrl: `http://127.0.0.1:${inspectorPort}`, output: () => output, stop };
}
