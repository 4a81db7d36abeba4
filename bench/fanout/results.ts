/** One row of bench/results.json per target and load, and pyre's figures as ratios to the floor's. */
import type { DeliveryFigures, LoadKind, LoadResult, StepResult, TargetName } from "./scenario.ts";
import { round } from "./stats.ts";

/** The figures compared with the floor. */
export const RATIO_FIELDS = [
  "connect_ms",
  "p50_ms",
  "p90_ms",
  "p99_ms",
  "max_ms",
  "posts_per_s",
  "cpu_ms_per_post",
  "rss_kib",
] as const;
export type RatioField = (typeof RATIO_FIELDS)[number];

export interface ResultRow extends Omit<DeliveryFigures, "within_1s"> {
  target: TargetName;
  load: LoadKind;
  members: number;
  /** Offered posts/s (fanout), achieved (closed-loop), highest sustained (max-rate). */
  rate: number;
  duration_s: number;
  /** Connect + join of every member; null when not all of them joined. */
  connect_ms: number | null;
  connected: number;
  connect_failures: number;
  /** Posts the sender sent, the target confirmed (pyre: replied ok once stored; others: echoed back). */
  sent: number;
  confirmed: number;
  rejected: number;
  /** Confirmed posts per second (pyre: persisted), or the highest sustained rate (max-rate). */
  posts_per_s: number;
  /** pyre: rows in D1 for this run's room, counted after pyre stopped. */
  persisted: number | null;
  /** Target CPU (its whole process tree) from the first post to the last delivery, per post sent. */
  cpu_ms_per_post: number | null;
  /** Target CPU while members connected and joined. */
  connect_cpu_ms: number | null;
  /** Resident memory of the target's process tree with every member still connected. */
  rss_kib: number | null;
  /** The load generator's own CPU, to see whether it, not the target, was the limit. */
  loadgen_cpu_ms: number;
  /** p50 above 1 s or more than 0.1% lost: the target (or the machine) could not keep up. */
  saturated: boolean;
  room: string;
  error: string | null;
  connect_error: string | null;
  rejection: string | null;
  steps: StepResult[] | null;
  /** With --repeat: the single runs this row is the median of. */
  runs: ResultRow[] | null;
  /** pyre only: each figure divided by the floor's for the same load and members. */
  ratio_to_floor: Partial<Record<RatioField, number | null>> | null;
}

export interface Usage {
  cpuMs: number;
  rssKib: number;
}

export interface Measured {
  target: TargetName;
  load: LoadKind;
  room: string;
  durationS: number;
  result: LoadResult;
  /** Target usage when the scenario began, when posting began, and when every post had settled. */
  atStart: Usage;
  atPosting: Usage | undefined;
  atSettled: Usage | undefined;
}

export function toRow(measured: Measured): ResultRow {
  const { result, atStart, atPosting, atSettled } = measured;
  const cpuMsPerPost =
    atPosting && atSettled && result.sent > 0 ? round((atSettled.cpuMs - atPosting.cpuMs) / result.sent, 3) : null;
  return {
    target: measured.target,
    load: measured.load,
    members: result.members,
    rate: result.rate,
    duration_s: measured.durationS,
    p50_ms: result.p50_ms,
    p90_ms: result.p90_ms,
    p99_ms: result.p99_ms,
    max_ms: result.max_ms,
    expected: result.expected,
    received: result.received,
    lost: result.lost,
    duplicates: result.duplicates,
    out_of_order: result.out_of_order,
    connect_ms: result.connect_ms,
    connected: result.connected,
    connect_failures: result.connect_failures,
    sent: result.sent,
    confirmed: result.confirmed,
    rejected: result.rejected,
    posts_per_s: result.posts_per_s,
    persisted: null,
    cpu_ms_per_post: cpuMsPerPost,
    connect_cpu_ms: atPosting ? round(atPosting.cpuMs - atStart.cpuMs, 0) : null,
    rss_kib: atSettled?.rssKib ?? null,
    loadgen_cpu_ms: result.loadgen_cpu_ms,
    saturated:
      result.error !== null || (result.p50_ms ?? 0) > 1_000 || result.lost > 0.001 * Math.max(1, result.expected),
    room: measured.room,
    error: result.error,
    connect_error: result.connect_error,
    rejection: result.rejection,
    steps: result.steps,
    runs: null,
    ratio_to_floor: null,
  };
}

/** A row for a scenario that produced no result at all (the load generator failed). */
export function failedRow(target: TargetName, load: LoadKind, members: number, room: string, error: string): ResultRow {
  return {
    target,
    load,
    members,
    rate: 0,
    duration_s: 0,
    p50_ms: null,
    p90_ms: null,
    p99_ms: null,
    max_ms: null,
    expected: 0,
    received: 0,
    lost: 0,
    duplicates: 0,
    out_of_order: 0,
    connect_ms: null,
    connected: 0,
    connect_failures: 0,
    sent: 0,
    confirmed: 0,
    rejected: 0,
    posts_per_s: 0,
    persisted: null,
    cpu_ms_per_post: null,
    connect_cpu_ms: null,
    rss_kib: null,
    loadgen_cpu_ms: 0,
    saturated: true,
    room,
    error,
    connect_error: null,
    rejection: null,
    steps: null,
    runs: null,
    ratio_to_floor: null,
  };
}

function median(values: (number | null)[]): number | null {
  const present = values.filter((value): value is number => value !== null).sort((a, b) => a - b);
  if (present.length === 0) return null;
  const middle = Math.floor(present.length / 2);
  const upper = present[middle] ?? 0;
  return present.length % 2 === 1 ? upper : round(((present[middle - 1] ?? 0) + upper) / 2, 3);
}

function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

/**
 * One row for repeated runs of a scenario: the median of every figure (latencies, rates, CPU, memory)
 * and the sum of every count (posts, deliveries, losses), keeping the runs themselves in `runs`.
 */
export function mergeRuns(runs: ResultRow[]): ResultRow {
  const [first] = runs;
  if (!first) throw new Error("no runs to merge");
  if (runs.length === 1) return first;
  const middle = (pick: (row: ResultRow) => number | null) => median(runs.map(pick));
  const total = (pick: (row: ResultRow) => number) => sum(runs.map(pick));
  const persisted = runs.map((row) => row.persisted).filter((value): value is number => value !== null);
  return {
    ...first,
    rate: middle((row) => row.rate) ?? 0,
    p50_ms: middle((row) => row.p50_ms),
    p90_ms: middle((row) => row.p90_ms),
    p99_ms: middle((row) => row.p99_ms),
    max_ms: middle((row) => row.max_ms),
    expected: total((row) => row.expected),
    received: total((row) => row.received),
    lost: total((row) => row.lost),
    duplicates: total((row) => row.duplicates),
    out_of_order: total((row) => row.out_of_order),
    connect_ms: middle((row) => row.connect_ms),
    connected: Math.min(...runs.map((row) => row.connected)),
    connect_failures: total((row) => row.connect_failures),
    sent: total((row) => row.sent),
    confirmed: total((row) => row.confirmed),
    rejected: total((row) => row.rejected),
    posts_per_s: middle((row) => row.posts_per_s) ?? 0,
    persisted: persisted.length > 0 ? sum(persisted) : null,
    cpu_ms_per_post: middle((row) => row.cpu_ms_per_post),
    connect_cpu_ms: middle((row) => row.connect_cpu_ms),
    rss_kib: middle((row) => row.rss_kib),
    loadgen_cpu_ms: middle((row) => row.loadgen_cpu_ms) ?? 0,
    saturated: runs.some((row) => row.saturated),
    room: runs.map((row) => row.room).join(","),
    error: runs.find((row) => row.error !== null)?.error ?? null,
    connect_error: runs.find((row) => row.connect_error !== null)?.connect_error ?? null,
    rejection: runs.find((row) => row.rejection !== null)?.rejection ?? null,
    steps: null,
    runs,
  };
}

/** Fills each pyre row's `ratio_to_floor` (every way in) from the floor's row with the same load and members. */
export function addRatios(rows: ResultRow[]): void {
  for (const row of rows) {
    if (!row.target.startsWith("pyre")) continue;
    const floor = rows.find(
      (other) => other.target === "floor" && other.load === row.load && other.members === row.members,
    );
    if (!floor) continue;
    const ratios: Partial<Record<RatioField, number | null>> = {};
    for (const field of RATIO_FIELDS) {
      const mine = row[field];
      const theirs = floor[field];
      ratios[field] = mine !== null && theirs !== null && theirs > 0 ? round(mine / theirs, 2) : null;
    }
    row.ratio_to_floor = ratios;
  }
}

const LINE_WIDTH = 120;

/**
 * JSON as the project's formatter (Biome) writes it, so a fresh results.json passes `npm run lint`:
 * two-space indents, objects expanded, arrays of plain values on one line when they fit.
 */
export function formatJson(value: unknown, indent = "", prefix = 0): string {
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    if (value.every((item) => item === null || typeof item !== "object")) {
      const inline = `[${value.map((item) => JSON.stringify(item)).join(", ")}]`;
      if (indent.length + prefix + inline.length + 1 <= LINE_WIDTH) return inline;
    }
    return `[\n${value.map((item) => inner + formatJson(item, inner)).join(",\n")}\n${indent}]`;
  }
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value).filter(([, item]) => item !== undefined);
    if (entries.length === 0) return "{}";
    const lines = entries.map(([key, item]) => {
      const head = `${JSON.stringify(key)}: `;
      return `${inner}${head}${formatJson(item, inner, head.length)}`;
    });
    return `{\n${lines.join(",\n")}\n${indent}}`;
  }
  return JSON.stringify(value);
}
