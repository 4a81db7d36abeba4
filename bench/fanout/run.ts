/**
 * `npm run bench:fanout`: pyre, the floor and a bare ws server side by side, each started in turn on
 * loopback, loaded by the same load generator (load.ts, a process of its own per scenario), measured and
 * stopped. Prints a table as it goes; writes results.json, RESULTS.md and p99.svg (see --help).
 */
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { ROOT } from "../../test/e2e/wrangler-dev.ts";
import { p99Chart } from "./chart.ts";
import { type Options, parseOptions, USAGE } from "./options.ts";
import { treeUsage } from "./proc.ts";
import { profileFile, startProfile } from "./profile.ts";
import { consoleHeader, consoleRow, type RunInfo, resultsMarkdown } from "./report.ts";
import { addRatios, failedRow, formatJson, mergeRuns, type ResultRow, toRow, type Usage } from "./results.ts";
import { budgetMs, type LoadConfig, type LoadKind, type LoadResult } from "./scenario.ts";
import { FIRST_MEMBER_USER_ID, type RunningTarget, SENDER_USER_ID, startTarget } from "./targets.ts";

/** The runner's margin over the load generator's own watchdog before it kills it. */
const KILL_MARGIN_MS = 15_000;

interface Scenario {
  kind: LoadKind;
  members: number;
}

function scenarios(options: Options): Scenario[] {
  const list: Scenario[] = options.members.map((members) => ({ kind: "fanout", members }));
  if (options.throughput) {
    list.push(
      { kind: "closed-loop", members: options.closedMembers },
      { kind: "max-rate", members: options.maxMembers },
    );
  }
  return list;
}

interface LoadRun {
  result: LoadResult | undefined;
  atPosting: Usage | undefined;
  atSettled: Usage | undefined;
  problem: string | undefined;
}

/** Runs one load generator against a running target, reading the target's usage at each phase it reports. */
function runLoad(config: LoadConfig, target: RunningTarget): Promise<LoadRun> {
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, [join(ROOT, "bench/fanout/load.ts"), JSON.stringify(config)], {
      cwd: ROOT,
      env: { ...process.env, ...target.loadEnv },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const run: LoadRun = { result: undefined, atPosting: undefined, atSettled: undefined, problem: undefined };
    const killOnExit = () => child.kill("SIGKILL");
    process.once("exit", killOnExit);
    const timer = setTimeout(() => {
      run.problem = `the load generator overran ${budgetMs(config) + KILL_MARGIN_MS} ms and was killed`;
      child.kill("SIGKILL");
    }, budgetMs(config) + KILL_MARGIN_MS);
    let pending = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      pending += chunk;
      for (let end = pending.indexOf("\n"); end >= 0; end = pending.indexOf("\n")) {
        const line = pending.slice(0, end);
        pending = pending.slice(end + 1);
        if (line === "phase posting") run.atPosting = treeUsage(target.rootPid);
        else if (line === "phase settled") run.atSettled = treeUsage(target.rootPid);
        else if (line.startsWith("result ")) run.result = JSON.parse(line.slice("result ".length)) as LoadResult;
      }
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      process.off("exit", killOnExit);
      if (!run.result) run.problem ??= `the load generator ended (${signal ?? `exit ${code}`}) without a result`;
      resolveRun(run);
    });
  });
}

function loudly(lines: string[]): void {
  const bar = "!".repeat(100);
  console.error(`\n${bar}\n${lines.map((line) => `!! ${line}`).join("\n")}\n${bar}\n`);
}

/** Runs every scenario (`--repeat` times) against one target, adding a row per run to `runs`. */
async function measureTarget(target: RunningTarget, options: Options, runs: ResultRow[][]): Promise<void> {
  for (const scenario of scenarios(options)) {
    const repeated: ResultRow[] = [];
    runs.push(repeated);
    for (let attempt = 0; attempt < options.repeat; attempt++) {
      const row = await measureOnce(target, options, scenario);
      repeated.push(row);
      if (row.error !== null && row.connected === 0) return; // e.g. every upgrade refused: nothing to repeat
    }
  }
}

async function measureOnce(target: RunningTarget, options: Options, scenario: Scenario): Promise<ResultRow> {
  const room = `${scenario.kind}-${scenario.members}-${randomBytes(4).toString("hex")}`;
  const config: LoadConfig = {
    target: target.name,
    wsBase: target.wsBase,
    room,
    kind: scenario.kind,
    members: scenario.members,
    rate: options.rate,
    durationS: options.durationS,
    drainS: options.drainS,
    connectConcurrency: options.connectConcurrency,
    connectTimeoutS: options.connectTimeoutS,
    maxRateStart: options.maxRateStart,
    maxRateCap: options.maxRateCap,
    stepS: options.stepS,
    p99LimitMs: options.p99LimitMs,
    v1Share: options.v1Share,
    senderUserId: SENDER_USER_ID,
    firstMemberUserId: FIRST_MEMBER_USER_ID,
  };
  const profiler =
    options.profileDir !== undefined && target.inspectorUrl !== undefined
      ? await startProfile(target.inspectorUrl)
      : undefined;
  const atStart = treeUsage(target.rootPid);
  const run = await runLoad(config, target);
  if (profiler !== undefined && options.profileDir !== undefined) {
    mkdirSync(options.profileDir, { recursive: true });
    await profiler.stop(profileFile(options.profileDir, target.name, scenario.kind, scenario.members));
  }
  const row = run.result
    ? toRow({
        target: target.name,
        load: scenario.kind,
        room,
        durationS: scenario.kind === "max-rate" ? options.stepS : options.durationS,
        result: run.result,
        atStart,
        atPosting: run.atPosting,
        atSettled: run.atSettled,
      })
    : failedRow(target.name, scenario.kind, scenario.members, room, run.problem ?? "no result");
  console.log(consoleRow(row));
  if (run.result?.refused_403) {
    loudly([
      `${target.name} answered 403 to a socket upgrade: ${run.result.connect_error}`,
      "The bench signs tokens in bench/fanout/pyre-token.ts with the claims of src/auth/token.ts. If every",
      "upgrade is refused, the worker's token claims have changed: update signSocketToken to match.",
    ]);
  }
  return row;
}

function wranglerVersion(): string {
  const manifest = JSON.parse(readFileSync(join(ROOT, "node_modules/wrangler/package.json"), "utf8")) as {
    version: string;
  };
  return manifest.version;
}

function compatibilityDate(): string {
  return /^compatibility_date\s*=\s*"([^"]+)"/m.exec(readFileSync(join(ROOT, "wrangler.toml"), "utf8"))?.[1] ?? "?";
}

function commit(): string {
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
    const changed = execFileSync("git", ["status", "--porcelain", "--", "src", "wrangler.toml"], {
      cwd: ROOT,
      encoding: "utf8",
    }).trim();
    return changed === "" ? head : `${head}+changes`;
  } catch {
    return "unknown";
  }
}

async function main(): Promise<number> {
  let options: Options | undefined;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (problem) {
    console.error(`${problem instanceof Error ? problem.message : problem}\n\n${USAGE}`);
    return 2;
  }
  if (!options) {
    console.log(USAGE);
    return 0;
  }
  const began = Date.now();
  const loadAverage = Math.round((loadavg()[0] ?? 0) * 100) / 100;
  const users = Math.max(...options.members, options.closedMembers, options.maxMembers) + 1;
  const rows: ResultRow[] = [];
  console.log(consoleHeader());
  if (options.repeat > 1) console.log(`(each scenario ${options.repeat} times; then a "median" row)`);
  for (const name of options.targets) {
    let target: RunningTarget;
    try {
      target = await startTarget(name, { users, echo: options.showOutput });
    } catch (problem) {
      loudly([`${name} did not start:`, ...String(problem).split("\n").slice(0, 40)]);
      continue;
    }
    const runs: ResultRow[][] = [];
    try {
      await measureTarget(target, options, runs);
    } finally {
      const stored = await target.stop();
      for (const row of runs.flat()) {
        if (stored) row.persisted = stored.get(row.room) ?? 0;
      }
    }
    for (const repeated of runs) {
      if (repeated.length === 0) continue;
      const merged = mergeRuns(repeated);
      if (repeated.length > 1) console.log(`${consoleRow(merged)}  (median of ${repeated.length})`);
      rows.push(merged);
    }
  }
  addRatios(rows);

  const info: RunInfo = {
    date: new Date().toISOString(),
    cores: cpus().length,
    cpu: cpus()[0]?.model.trim() ?? "unknown CPU",
    memory_gib: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    wrangler: wranglerVersion(),
    compatibility_date: compatibilityDate(),
    commit: commit(),
    command: ["npm run bench:fanout", ...(process.argv.length > 2 ? ["--", ...process.argv.slice(2)] : [])].join(" "),
    options,
    seconds: (Date.now() - began) / 1000,
    load_average: loadAverage,
  };
  const out = resolve(ROOT, options.out);
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, "results.json"), `${formatJson({ run: info, results: rows })}\n`);
  writeFileSync(join(out, "RESULTS.md"), resultsMarkdown(info, rows));
  writeFileSync(
    join(out, "p99.svg"),
    p99Chart(rows, `Fan-out p99 against room size (${options.rate} posts/s, ${info.cores} cores)`),
  );
  console.log(`\nWrote ${join(out, "results.json")}, RESULTS.md and p99.svg (${Math.round(info.seconds)} s).`);
  if (rows.some((row) => row.error !== null)) return 1;
  return options.requireExact && !everyDeliveryExact(rows) ? 1 : 0;
}

/** The soak's verdict: each row delivered every post to every member exactly once, in order. */
function everyDeliveryExact(rows: ResultRow[]): boolean {
  let exact = rows.length > 0;
  for (const row of rows) {
    const ok = row.received === row.expected && row.lost === 0 && row.duplicates === 0 && row.out_of_order === 0;
    console.log(
      `${ok ? "EXACT" : "NOT EXACT"}: ${row.target} ${row.load} ${row.members} members: ${row.received} of ` +
        `${row.expected} deliveries, ${row.lost} lost, ${row.duplicates} duplicated, ${row.out_of_order} out of order; ` +
        `latency p50 ${row.p50_ms} ms, p90 ${row.p90_ms} ms, p99 ${row.p99_ms} ms, max ${row.max_ms} ms`,
    );
    exact &&= ok;
  }
  return exact;
}

// Ctrl-C or a kill still runs the exit hooks that end every target's process group.
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => process.exit(130));
process.exitCode = await main();
