/** `npm run bench:fanout -- [flags]`: what to run, with defaults that fit in about ten minutes on two cores. */
import { parseArgs } from "node:util";
import { TARGETS, type TargetName } from "./scenario.ts";

/** pyre against the floor and the machine's ceiling; pyre's other ways in on request (`--targets`). */
const DEFAULT_TARGETS: TargetName[] = ["pyre", "floor", "ws"];

export interface Options {
  targets: TargetName[];
  members: number[];
  rate: number;
  durationS: number;
  drainS: number;
  throughput: boolean;
  closedMembers: number;
  maxMembers: number;
  stepS: number;
  maxRateStart: number;
  maxRateCap: number;
  p99LimitMs: number;
  connectConcurrency: number;
  connectTimeoutS: number;
  /** The `-mixed` targets: the share of members speaking V1. */
  v1Share: number;
  /** Runs of every scenario; with more than one, each figure reported is the median over them. */
  repeat: number;
  /** Where results.json, RESULTS.md and p99.svg go. */
  out: string;
  showOutput: boolean;
  /** The soak: every delivery exactly once and in order, or the run fails. */
  requireExact: boolean;
  /** Where a CPU profile of each workerd target's scenario goes (`--profile`), or undefined. */
  profileDir: string | undefined;
}

export const USAGE = `npm run bench:fanout -- [flags]

  --targets LIST            targets to run, in order (default pyre,floor,ws; also pyre-mux, pyre-longpoll,
                            pyre-mixed and pyre-mux-mixed: room-bound and multiplexed with a share of V1 members;
                            pyre-reading: room-bound members that mark_read every 2 s, as open pages do)
  --v1-share X              the share of members speaking V1 on the -mixed targets, 0 to 1 (default 0.5)
  --members LIST            fan-out room sizes (default 100,500,1000)
  --rate N                  fan-out posts per second (default 20)
  --duration S              seconds of posting per fan-out and closed-loop run (default 10)
  --drain S                 seconds after the last post before undelivered posts count as lost (default 10)
  --skip-throughput         only the fan-out runs, no closed loop or max rate
  --closed-members N        members in the closed-loop run (default 100)
  --max-members N           members in the max-rate search (default 10)
  --step S                  seconds per rate in the max-rate search (default 3)
  --max-rate-start N        first rate of the max-rate search, doubled each step (default 50)
  --max-rate-cap N          highest rate tried (default 6400)
  --p99-limit MS            a rate is sustained while p99 stays under this (default 250)
  --connect-concurrency N   members connecting at once (default 50)
  --connect-timeout S       bound on connecting all members (default 120)
  --repeat N                run every scenario N times and report medians (default 1)
  --out DIR                 where results.json, RESULTS.md and p99.svg go (default bench)
  --show-output             copy the targets' own output (wrangler, ws server) to stderr
  --require-exact           fail (exit 1) unless every member got every post exactly once and in order
                            (npm run soak)
  --profile DIR             write a CPU profile of the worker (pyre targets and the floor) per scenario to DIR
                            and print its top self times; profiling slows the target, so its figures are not
                            comparable with an unprofiled run
  --help`;

function positive(name: string, text: string | undefined, fallback: number, integer = true): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
    throw new Error(`--${name} must be a positive ${integer ? "integer" : "number"}, not ${JSON.stringify(text)}`);
  }
  return value;
}

/** A share: a number above 0 and at most 1. */
function share(name: string, text: string | undefined, fallback: number): number {
  const value = positive(name, text, fallback, false);
  if (value > 1) throw new Error(`--${name} must be a share from 0 to 1, not ${JSON.stringify(text)}`);
  return value;
}

function list<T>(name: string, text: string | undefined, fallback: T[], parse: (item: string) => T): T[] {
  if (text === undefined) return fallback;
  const items = text.split(",").map((item) => item.trim());
  if (items.length === 0 || items.includes("")) throw new Error(`--${name} must be a comma-separated list`);
  return items.map(parse);
}

/** Parses the flags; throws with a message that names the bad one. Undefined means --help. */
export function parseOptions(argv: string[]): Options | undefined {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      targets: { type: "string" },
      members: { type: "string" },
      rate: { type: "string" },
      duration: { type: "string" },
      drain: { type: "string" },
      "skip-throughput": { type: "boolean" },
      "closed-members": { type: "string" },
      "max-members": { type: "string" },
      step: { type: "string" },
      "max-rate-start": { type: "string" },
      "max-rate-cap": { type: "string" },
      "p99-limit": { type: "string" },
      "connect-concurrency": { type: "string" },
      "connect-timeout": { type: "string" },
      repeat: { type: "string" },
      "v1-share": { type: "string" },
      out: { type: "string" },
      "show-output": { type: "boolean" },
      "require-exact": { type: "boolean" },
      profile: { type: "string" },
      help: { type: "boolean" },
    },
  });
  if (values.help) return undefined;
  const targets = list<TargetName>("targets", values.targets, [...DEFAULT_TARGETS], (item) => {
    if (!(TARGETS as readonly string[]).includes(item)) {
      throw new Error(`--targets: unknown target ${JSON.stringify(item)} (known: ${TARGETS.join(", ")})`);
    }
    return item as TargetName;
  });
  const options: Options = {
    targets,
    members: list("members", values.members, [100, 500, 1000], (item) => positive("members", item, 0)),
    rate: positive("rate", values.rate, 20, false),
    durationS: positive("duration", values.duration, 10, false),
    drainS: positive("drain", values.drain, 10, false),
    throughput: !values["skip-throughput"],
    closedMembers: positive("closed-members", values["closed-members"], 100),
    maxMembers: positive("max-members", values["max-members"], 10),
    stepS: positive("step", values.step, 3, false),
    maxRateStart: positive("max-rate-start", values["max-rate-start"], 50),
    maxRateCap: positive("max-rate-cap", values["max-rate-cap"], 6400),
    p99LimitMs: positive("p99-limit", values["p99-limit"], 250, false),
    connectConcurrency: positive("connect-concurrency", values["connect-concurrency"], 50),
    connectTimeoutS: positive("connect-timeout", values["connect-timeout"], 120, false),
    repeat: positive("repeat", values.repeat, 1),
    v1Share: share("v1-share", values["v1-share"], 0.5),
    out: values.out ?? "bench",
    showOutput: values["show-output"] ?? false,
    requireExact: values["require-exact"] ?? false,
    profileDir: values.profile,
  };
  if (options.maxRateCap < options.maxRateStart) throw new Error("--max-rate-cap must be at least --max-rate-start");
  return options;
}
