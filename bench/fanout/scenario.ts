/** What the runner asks of one load generator process, and what that process answers (JSON on stdout). */

/**
 * pyre's room-bound sockets, its multiplexed socket and LongPoll, and the first two with a share of V1
 * members (`-mixed`: the cost of a mixed room); the floor; the bare ws server.
 */
export const TARGETS = [
  "pyre",
  "pyre-mux",
  "pyre-longpoll",
  "pyre-mixed",
  "pyre-mux-mixed",
  "pyre-reading",
  "floor",
  "ws",
] as const;
export type TargetName = (typeof TARGETS)[number];

/**
 * - `fanout`: N members, one sender posting at a fixed rate (open loop) for the duration.
 * - `closed-loop`: the sender posts the next message once its copy of the previous one came back.
 * - `max-rate`: open loop at doubling rates; the highest rate that still delivers within bounds.
 */
export type LoadKind = "fanout" | "closed-loop" | "max-rate";

export interface LoadConfig {
  target: TargetName;
  /** e.g. ws://127.0.0.1:41234 */
  wsBase: string;
  /** A fresh room for every scenario, so no earlier socket or post is in it. */
  room: string;
  kind: LoadKind;
  /** Receivers; the sender is one more connection. */
  members: number;
  /** Posts per second (fanout). */
  rate: number;
  durationS: number;
  /** How long after the last post deliveries may still arrive before the rest count as lost. */
  drainS: number;
  connectConcurrency: number;
  /** Bound on connecting and joining all members. */
  connectTimeoutS: number;
  /** max-rate: first rate, doubling up to the cap, each step this long. */
  maxRateStart: number;
  maxRateCap: number;
  stepS: number;
  /** max-rate: a step passes when p99 stays below this (and 99.9% arrive within 1 s). */
  p99LimitMs: number;
  /** The `-mixed` targets: the share of members that speak V1 (the rest V2), spread evenly among them. */
  v1Share: number;
  /** pyre: the D1 user ids the runner created for the sender and for member 0 (members follow on). */
  senderUserId: number;
  firstMemberUserId: number;
}

/** Deliveries of one stretch of posts to every member. */
export interface DeliveryFigures {
  p50_ms: number | null;
  p90_ms: number | null;
  p99_ms: number | null;
  max_ms: number | null;
  /** posts sent × members that joined */
  expected: number;
  /** distinct (member, post) deliveries */
  received: number;
  lost: number;
  /** the same post twice at a member */
  duplicates: number;
  /** a post older than the member's last one */
  out_of_order: number;
  /** deliveries within 1 s of sending */
  within_1s: number;
}

export interface StepResult extends DeliveryFigures {
  rate: number;
  sent: number;
  passed: boolean;
}

export interface LoadResult extends DeliveryFigures {
  members: number;
  /** members that connected and joined */
  connected: number;
  connect_failures: number;
  /** The first connect failure, verbatim (a refused upgrade carries its HTTP status and body). */
  connect_error: string | null;
  /** Some upgrade was refused with 403: the token signing no longer matches the worker's. */
  refused_403: boolean;
  /** From the first member's connect to the last member's join reply. */
  connect_ms: number | null;
  /** Offered posts/s (fanout), achieved (closed-loop), or the highest sustained (max-rate). */
  rate: number;
  sent: number;
  /** Posts the server confirmed: replied ok (pyre, i.e. stored) or echoed back to the sender. */
  confirmed: number;
  /** Posts the server answered with an error (pyre). */
  rejected: number;
  rejection: string | null;
  /** confirmed posts per second, from the first post to the last confirmation */
  posts_per_s: number;
  /** How the sender learnt its posts were taken: "ack" (a reply) or "echo" (its own copy). */
  confirmation: "ack" | "echo";
  loadgen_cpu_ms: number;
  steps: StepResult[] | null;
  error: string | null;
}

/** The longest a load generator may take with this config; past it, the runner ends it. */
export function budgetMs(config: LoadConfig): number {
  // A failing rate is tried twice: at most two failures in the doubling, plus the bisections.
  const steps =
    Math.ceil(Math.log2(Math.max(1, config.maxRateCap / config.maxRateStart))) + 2 + 2 * MAX_RATE_REFINEMENTS;
  const loadS =
    config.kind === "max-rate" ? steps * (config.stepS + 1 + config.drainS) : config.durationS + config.drainS + 5;
  return (config.connectTimeoutS + loadS + 30) * 1000;
}

/** max-rate: after the first failing rate, this many bisections between it and the last rate that passed. */
export const MAX_RATE_REFINEMENTS = 2;
