/**
 * Starting and stopping the three targets, each on loopback in its own process group:
 * - pyre: the project's own worker under `wrangler dev`, with users written straight into its local D1
 *   and abuse limits raised, so that load is measured rather than refused;
 * - floor: bench/floor under `wrangler dev` with the same wrangler;
 * - ws: bench/fanout/ws-server.ts, a bare Node `ws` broadcast server.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  childEnv,
  freePort,
  ROOT,
  run,
  signalGroup,
  startWranglerDev,
  stopGroup,
} from "../../test/e2e/wrangler-dev.ts";
import type { TargetName } from "./scenario.ts";

export interface RunningTarget {
  name: TargetName;
  /** e.g. ws://127.0.0.1:41234 */
  wsBase: string;
  /** The root of the target's process tree, whose CPU and memory are measured. */
  rootPid: number;
  /** Environment the load generator needs (pyre's token secret). */
  loadEnv: Record<string, string>;
  /** wrangler dev's DevTools inspector, for `--profile` (the workerd targets only). */
  inspectorUrl?: string;
  /** Ends the target's processes and answers what it leaves behind to report (pyre: posts stored per room). */
  stop(): Promise<Map<string, number> | undefined>;
}

export interface StartOptions {
  /** How many users pyre needs: the sender is user 1, members are users 2 and up. */
  users: number;
  /** Copy the targets' own output to stderr. */
  echo: boolean;
}

export const SENDER_USER_ID = 1;
export const FIRST_MEMBER_USER_ID = 2;

/**
 * pyre's abuse limits (current and planned), raised far above any load this benchmark offers. Unknown
 * vars are harmless, so they can be passed before the room reads them.
 */
const PYRE_LIMIT_VARS: Record<string, string> = {
  POSTS_PER_SECOND: "1000000",
  POSTS_BURST: "1000000",
  USER_POSTS_PER_SECOND: "1000000",
  USER_POSTS_BURST: "1000000",
  JOINS_PER_MINUTE: "1000000",
  JOINS_BURST: "1000000",
  SOCKETS_PER_USER: "100000",
  REGISTRATIONS_PER_IP: "1000000",
  LOGINS_PER_IP: "1000000",
  // Members here only listen and send no heartbeat; the soak keeps them longer than the 60 s idle time.
  SOCKET_IDLE_MS: "600000",
};

export function startTarget(name: TargetName, options: StartOptions): Promise<RunningTarget> {
  switch (name) {
    case "pyre":
    case "pyre-mux":
    case "pyre-longpoll":
    case "pyre-mixed":
    case "pyre-mux-mixed":
    case "pyre-reading":
      return startPyre(name, options);
    case "floor":
      return startFloor(options);
    case "ws":
      return startWsServer(options);
  }
}

function wsBase(httpBase: string): string {
  return httpBase.replace(/^http/, "ws");
}

function pidOf(child: ChildProcess): number {
  if (child.pid === undefined) throw new Error(`${child.spawnfile} has no pid`);
  return child.pid;
}

/** Users with a placeholder password hash: nobody logs in as them; the bench signs their socket tokens. */
function usersSql(count: number): string {
  const rows = Array.from({ length: count }, (_, i) => {
    const id = i + 1;
    return `(${id}, 'bench_${id}', 'bench_${id}@bench.invalid', 'bench: no password')`;
  });
  return `INSERT INTO users (id, username, email, password_hash) VALUES\n${rows.join(",\n")};\n`;
}

async function startPyre(name: TargetName, { users, echo }: StartOptions): Promise<RunningTarget> {
  const stateDir = mkdtempSync(join(tmpdir(), "pyre-bench-"));
  const persistTo = join(stateDir, "state");
  const secret = randomBytes(36).toString("base64url");
  const envFile = join(stateDir, "secrets.env");
  writeFileSync(envFile, `TOKEN_SECRET=${secret}\n`, { mode: 0o600 });
  const usersFile = join(stateDir, "users.sql");
  writeFileSync(usersFile, usersSql(users));
  const d1 = ["wrangler", "d1", "execute", "DB", "--local", "--persist-to", persistTo];
  try {
    await run("npx", ["wrangler", "d1", "migrations", "apply", "DB", "--local", "--persist-to", persistTo]);
    await run("npx", [...d1, "--file", usersFile]);
    const dev = await startWranglerDev({ persistTo, envFile, vars: PYRE_LIMIT_VARS, echo });
    return {
      name,
      wsBase: wsBase(dev.baseUrl),
      rootPid: pidOf(dev.child),
      loadEnv: { BENCH_TOKEN_SECRET: secret },
      inspectorUrl: dev.inspectorUrl,
      async stop() {
        await dev.stop();
        try {
          const sql = "SELECT room, count(*) AS n FROM posts GROUP BY room";
          return storedPosts(await run("npx", [...d1, "--json", "--command", sql]));
        } catch (problem) {
          console.error(`[bench] could not count pyre's stored posts: ${problem}`);
          return undefined;
        } finally {
          rmSync(stateDir, { recursive: true, force: true });
        }
      },
    };
  } catch (problem) {
    rmSync(stateDir, { recursive: true, force: true });
    throw problem;
  }
}

/** Reads `wrangler d1 execute --json` output: `[{results: [{room, n}], ...}]`. */
function storedPosts(output: string): Map<string, number> {
  const json = output.slice(output.indexOf("["));
  const [first] = JSON.parse(json) as { results: { room: string; n: number }[] }[];
  return new Map((first?.results ?? []).map((row) => [row.room, row.n]));
}

async function startFloor({ echo }: StartOptions): Promise<RunningTarget> {
  const stateDir = mkdtempSync(join(tmpdir(), "pyre-bench-floor-"));
  try {
    const dev = await startWranglerDev({ config: "bench/floor/wrangler.toml", persistTo: stateDir, echo });
    return {
      name: "floor",
      wsBase: wsBase(dev.baseUrl),
      rootPid: pidOf(dev.child),
      loadEnv: {},
      inspectorUrl: dev.inspectorUrl,
      async stop() {
        await dev.stop();
        rmSync(stateDir, { recursive: true, force: true });
        return undefined;
      },
    };
  } catch (problem) {
    rmSync(stateDir, { recursive: true, force: true });
    throw problem;
  }
}

const WS_READY_TIMEOUT_MS = 10_000;

async function startWsServer({ echo }: StartOptions): Promise<RunningTarget> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(ROOT, "bench/fanout/ws-server.ts"), String(port)], {
    cwd: ROOT,
    env: childEnv(),
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  // If the runner dies without stopping it (a crash), still leave no server behind.
  const killOnExit = () => {
    if (child.pid !== undefined) signalGroup(child.pid, "SIGKILL");
  };
  process.once("exit", killOnExit);
  let output = "";
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => fail(`did not listen within ${WS_READY_TIMEOUT_MS} ms`), WS_READY_TIMEOUT_MS);
    const fail = (why: string) => {
      clearTimeout(timer);
      stopGroup(child).finally(() => {
        process.off("exit", killOnExit);
        reject(new Error(`the ws server ${why}:\n${output}`));
      });
    };
    const collect = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-4_000);
      if (echo) process.stderr.write(chunk);
      if (output.includes(`listening ${port}`)) {
        clearTimeout(timer);
        child.removeAllListeners("exit");
        resolve();
      }
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);
    child.once("exit", (code, signal) => fail(`exited (${signal ?? `exit ${code}`})`));
  });
  return {
    name: "ws",
    wsBase: `ws://127.0.0.1:${port}`,
    rootPid: pidOf(child),
    loadEnv: {},
    async stop() {
      await stopGroup(child);
      process.off("exit", killOnExit);
      return undefined;
    },
  };
}
