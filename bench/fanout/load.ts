/**
 * The load generator: one process per target and scenario, spawned by run.ts so that its own work never
 * runs in the runner or in the target's processes. It connects the sender and N members through the
 * target's adapter, posts, counts every delivery, and prints `result <LoadResult as JSON>` on stdout
 * (after `phase posting` and `phase settled` lines).
 *
 * `node bench/fanout/load.ts '<LoadConfig as JSON>'`; pyre's TOKEN_SECRET comes in BENCH_TOKEN_SECRET.
 * Every wait is bounded; a watchdog ends the process if the whole run overstays its budget.
 */
import { performance } from "node:perf_hooks";
import { type Adapter, adapterFor, type Incoming, type Link, UpgradeRefused } from "./adapters.ts";
import {
  budgetMs,
  type DeliveryFigures,
  type LoadConfig,
  type LoadResult,
  MAX_RATE_REFINEMENTS,
  type StepResult,
} from "./scenario.ts";
import { DeliveryStats, round } from "./stats.ts";

const SENDER_CONNECT_TIMEOUT_MS = 30_000;
const MEMBER_CONNECT_TIMEOUT_MS = 30_000;
/** Closed loop: a post whose copy has not come back by then is given up on, and the next one goes. */
const CLOSED_LOOP_STALL_MS = 5_000;
const CLOSE_TIMEOUT_MS = 5_000;
/** max-rate: deliveries must arrive within this to count, and this share of them must. */
const WITHIN_MS = 1_000;
const REQUIRED_SHARE = 0.999;

const config = JSON.parse(process.argv[2] ?? "null") as LoadConfig;
const started = performance.now();

setTimeout(() => {
  process.stderr.write(`[load] ${config.target}: over budget (${budgetMs(config)} ms), giving up\n`);
  process.exit(3);
}, budgetMs(config)).unref();

/** Stretches of posts being counted; a delivery belongs to the last one that starts at or below its seq. */
const stretches: DeliveryStats[] = [];
const confirmedSeqs = new Set<number>();
let rejected = 0;
let rejection: string | null = null;
let firstSendAt = Number.NaN;
let lastConfirmAt = Number.NaN;
let nextSeq = 0;
const echoWaiters = new Map<number, () => void>();

function stretchFor(seq: number): DeliveryStats | undefined {
  for (let i = stretches.length - 1; i >= 0; i--) {
    const stretch = stretches[i];
    if (stretch && seq >= stretch.firstSeq) return stretch;
  }
  return undefined;
}

function onMember(slot: number, incoming: Incoming, receivedAt: number): void {
  if (incoming.kind !== "delivery") return;
  stretchFor(incoming.seq)?.record(slot, incoming.seq, receivedAt - incoming.sentAt);
}

function confirm(seq: number, ok: boolean, detail: string, at: number): void {
  if (!ok) {
    rejected++;
    rejection ??= detail;
    return;
  }
  if (confirmedSeqs.has(seq)) return;
  confirmedSeqs.add(seq);
  lastConfirmAt = at;
}

function onSender(adapter: Adapter, incoming: Incoming, receivedAt: number): void {
  if (incoming.kind === "ack") {
    confirm(incoming.seq, incoming.ok, incoming.detail, receivedAt);
    return;
  }
  if (adapter.confirmation === "echo") confirm(incoming.seq, true, "", receivedAt);
  echoWaiters.get(incoming.seq)?.();
}

/**
 * Tells the runner where the run is (a line on stdout), so it can read the target's CPU time around the
 * posting alone: connecting and closing are not what a post costs.
 */
function phase(name: "posting" | "settled"): void {
  process.stdout.write(`phase ${name}\n`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** Polls until `done()` or the deadline (performance.now() time); answers whether it got done. */
async function waitUntil(done: () => boolean, deadline: number): Promise<boolean> {
  while (!done()) {
    if (performance.now() >= deadline) return false;
    await sleep(10);
  }
  return true;
}

function post(sender: Link, stretch: DeliveryStats): number {
  const seq = nextSeq++;
  if (Number.isNaN(firstSendAt)) firstSendAt = performance.now();
  stretch.sent++;
  sender.post(seq);
  return seq;
}

/** Posts at `rate` per second for `seconds`, catching up in bursts when timers fire late. */
function openLoop(sender: Link, stretch: DeliveryStats, rate: number, seconds: number): Promise<number> {
  const total = Math.max(1, Math.round(rate * seconds));
  const start = performance.now();
  let done = 0;
  return new Promise((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1000) + 1);
      while (done < due) {
        post(sender, stretch);
        done++;
      }
      if (done >= total) resolve(performance.now());
      else setTimeout(tick, start + (done * 1000) / rate - performance.now());
    };
    tick();
  });
}

/** Every post of the stretch delivered to every member and confirmed to the sender. */
function settled(stretch: DeliveryStats): () => boolean {
  return () => stretch.complete && confirmedSeqs.size + rejected >= nextSeq;
}

interface Connected {
  links: Link[];
  failures: number;
  error: string | null;
  refused403: boolean;
  connectMs: number | null;
}

/** Connects and joins `count` members, `concurrency` at a time, giving up on the rest at the deadline. */
async function connectMembers(adapter: Adapter, count: number): Promise<Connected> {
  const links: Link[] = [];
  let failures = 0;
  let error: string | null = null;
  let refused403 = false;
  let next = 0;
  const start = performance.now();
  const deadline = start + config.connectTimeoutS * 1000;
  const worker = async () => {
    while (next < count && performance.now() < deadline) {
      const index = next++;
      let slot = -1;
      try {
        const link = await adapter.connect(
          { role: "member", index },
          (incoming, at) => {
            if (slot >= 0) onMember(slot, incoming, at);
          },
          Math.min(MEMBER_CONNECT_TIMEOUT_MS, Math.max(1, deadline - performance.now())),
        );
        slot = links.length;
        links.push(link);
      } catch (problem) {
        failures++;
        error ??= `member ${index}: ${problem instanceof Error ? problem.message : String(problem)}`;
        if (problem instanceof UpgradeRefused && problem.status === 403) refused403 = true;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(config.connectConcurrency, count) }, worker));
  failures += count - next; // never tried: the deadline passed
  const connectMs = links.length === count ? round(performance.now() - start) : null;
  return { links, failures, error, refused403, connectMs };
}

function postsPerSecond(): number {
  const confirmed = confirmedSeqs.size;
  if (confirmed === 0 || Number.isNaN(firstSendAt)) return 0;
  const seconds = (lastConfirmAt - firstSendAt) / 1000;
  return seconds > 0 ? round(confirmed / seconds, 1) : 0;
}

interface Outcome {
  figures: DeliveryFigures;
  rate: number;
  steps: StepResult[] | null;
}

async function fanout(sender: Link, members: number): Promise<Outcome> {
  const stretch = new DeliveryStats(members, nextSeq, config.rate * config.durationS);
  stretches.push(stretch);
  const lastSend = await openLoop(sender, stretch, config.rate, config.durationS);
  await waitUntil(settled(stretch), lastSend + config.drainS * 1000);
  return { figures: stretch.figures(), rate: config.rate, steps: null };
}

async function closedLoop(sender: Link, members: number): Promise<Outcome> {
  const stretch = new DeliveryStats(members, nextSeq, 1024);
  stretches.push(stretch);
  const start = performance.now();
  const end = start + config.durationS * 1000;
  while (performance.now() < end) {
    const seq = post(sender, stretch);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, CLOSED_LOOP_STALL_MS);
      echoWaiters.set(seq, () => {
        clearTimeout(timer);
        resolve();
      });
    });
    echoWaiters.delete(seq);
  }
  const lastSend = performance.now();
  const rate = round(stretch.sent / ((lastSend - start) / 1000), 1);
  await waitUntil(settled(stretch), lastSend + config.drainS * 1000);
  return { figures: stretch.figures(), rate, steps: null };
}

async function step(sender: Link, members: number, rate: number): Promise<StepResult> {
  const stretch = new DeliveryStats(members, nextSeq, rate * config.stepS);
  stretches.push(stretch);
  const rejectedBefore = rejected;
  const lastSend = await openLoop(sender, stretch, rate, config.stepS);
  await waitUntil(settled(stretch), lastSend + WITHIN_MS);
  const judged = stretch.figures();
  const passed =
    judged.within_1s >= REQUIRED_SHARE * judged.expected &&
    judged.p99_ms !== null &&
    judged.p99_ms < config.p99LimitMs &&
    rejected === rejectedBefore;
  // Let the target finish what it still holds before the next rate, so steps do not bleed into each other.
  await waitUntil(settled(stretch), lastSend + config.drainS * 1000);
  await sleep(200);
  return { ...judged, rate, sent: stretch.sent, passed };
}

/**
 * Tries one rate; a failure is tried once more before it counts, since one stall of the shared machine
 * (not of the target) is enough to fail a few seconds' p99.
 */
async function tryRate(sender: Link, members: number, rate: number, steps: StepResult[]): Promise<StepResult> {
  let result = await step(sender, members, rate);
  steps.push(result);
  if (!result.passed) {
    result = await step(sender, members, rate);
    steps.push(result);
  }
  process.stderr.write(`[load] ${config.target} ${rate}/s: ${result.passed ? "sustained" : "not sustained"}\n`);
  return result;
}

/** Doubling rates until one fails, then a few bisections between the last pass and the first failure. */
async function maxRate(sender: Link, members: number): Promise<Outcome> {
  const steps: StepResult[] = [];
  let best: StepResult | undefined;
  let failedAt: number | undefined;
  for (let rate = config.maxRateStart; rate <= config.maxRateCap; rate *= 2) {
    const result = await tryRate(sender, members, rate, steps);
    if (!result.passed) {
      failedAt = rate;
      break;
    }
    best = result;
  }
  for (let i = 0; i < MAX_RATE_REFINEMENTS && failedAt !== undefined; i++) {
    const low = best?.rate ?? 0;
    const rate = Math.round((low + failedAt) / 2);
    if (rate <= low || rate >= failedAt) break;
    const result = await tryRate(sender, members, rate, steps);
    if (result.passed) best = result;
    else failedAt = rate;
  }
  const reported = best ?? steps[0];
  if (!reported) throw new Error("max-rate ran no step");
  return { figures: reported, rate: best?.rate ?? 0, steps };
}

function emptyFigures(): DeliveryFigures {
  return new DeliveryStats(0, 0, 0).figures();
}

async function main(): Promise<LoadResult> {
  const secret = process.env.BENCH_TOKEN_SECRET ?? "";
  const adapter = await adapterFor(config, secret);
  const base: LoadResult = {
    ...emptyFigures(),
    members: config.members,
    connected: 0,
    connect_failures: 0,
    connect_error: null,
    refused_403: false,
    connect_ms: null,
    rate: config.rate,
    sent: 0,
    confirmed: 0,
    rejected: 0,
    rejection: null,
    posts_per_s: 0,
    confirmation: adapter.confirmation,
    loadgen_cpu_ms: 0,
    steps: null,
    error: null,
  };

  let sender: Link;
  try {
    sender = await adapter.connect(
      { role: "sender" },
      (incoming, at) => onSender(adapter, incoming, at),
      SENDER_CONNECT_TIMEOUT_MS,
    );
  } catch (problem) {
    const refused403 = problem instanceof UpgradeRefused && problem.status === 403;
    const message = problem instanceof Error ? problem.message : String(problem);
    return {
      ...base,
      refused_403: refused403,
      connect_error: `sender: ${message}`,
      error: `the sender could not connect: ${message}`,
    };
  }

  const connected = await connectMembers(adapter, config.members);
  const links = [sender, ...connected.links];
  const result: LoadResult = {
    ...base,
    connected: connected.links.length,
    connect_failures: connected.failures,
    connect_error: connected.error,
    refused_403: connected.refused403,
    connect_ms: connected.connectMs,
  };
  try {
    if (connected.links.length === 0) return { ...result, error: `no member could connect: ${connected.error}` };
    const members = connected.links.length;
    phase("posting");
    const run =
      config.kind === "fanout"
        ? await fanout(sender, members)
        : config.kind === "closed-loop"
          ? await closedLoop(sender, members)
          : await maxRate(sender, members);
    phase("settled");
    return {
      ...result,
      ...run.figures,
      rate: run.rate,
      sent: nextSeq,
      confirmed: confirmedSeqs.size,
      rejected,
      rejection,
      posts_per_s: config.kind === "max-rate" ? run.rate : postsPerSecond(),
      steps: run.steps,
    };
  } finally {
    await Promise.all(links.map((link) => link.close(CLOSE_TIMEOUT_MS)));
  }
}

let result: LoadResult;
try {
  result = await main();
} catch (problem) {
  process.stderr.write(
    `[load] ${config.target}: ${problem instanceof Error ? (problem.stack ?? problem.message) : problem}\n`,
  );
  process.exit(1);
}
const cpu = process.cpuUsage();
result.loadgen_cpu_ms = round((cpu.user + cpu.system) / 1000, 0);
process.stderr.write(
  `[load] ${config.target} ${config.kind} done in ${round((performance.now() - started) / 1000, 1)} s\n`,
);
process.stdout.write(`result ${JSON.stringify(result)}\n`);
process.exit(0);
