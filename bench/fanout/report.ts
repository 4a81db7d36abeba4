/** The console table printed as runs finish, and bench/RESULTS.md. */
import type { Options } from "./options.ts";
import { RATIO_FIELDS, type RatioField, type ResultRow } from "./results.ts";
import type { LoadKind } from "./scenario.ts";

export interface RunInfo {
  date: string;
  cores: number;
  cpu: string;
  memory_gib: number;
  node: string;
  wrangler: string;
  compatibility_date: string;
  /** The commit the pyre target ran (with "+changes" when the worktree differed from it). */
  commit: string;
  command: string;
  options: Options;
  /** Wall-clock seconds of the whole run. */
  seconds: number;
  /** The machine's 1-minute load average when the run began: other work on the same cores skews figures. */
  load_average: number;
}

function show(value: number | null, digits = 1): string {
  if (value === null) return "–";
  return value >= 100 || Number.isInteger(value) ? String(Math.round(value)) : value.toFixed(digits);
}

function mib(kib: number | null): string {
  return kib === null ? "–" : String(Math.round(kib / 1024));
}

const COLUMNS: { title: string; width: number; cell: (row: ResultRow) => string }[] = [
  { title: "target", width: 13, cell: (row) => row.target },
  { title: "load", width: 11, cell: (row) => row.load },
  { title: "N", width: 5, cell: (row) => String(row.members) },
  { title: "rate", width: 6, cell: (row) => show(row.rate) },
  { title: "connect", width: 8, cell: (row) => show(row.connect_ms, 0) },
  { title: "p50", width: 7, cell: (row) => show(row.p50_ms) },
  { title: "p90", width: 7, cell: (row) => show(row.p90_ms) },
  { title: "p99", width: 7, cell: (row) => show(row.p99_ms) },
  { title: "max", width: 7, cell: (row) => show(row.max_ms) },
  { title: "expected", width: 8, cell: (row) => String(row.expected) },
  { title: "received", width: 8, cell: (row) => String(row.received) },
  { title: "lost", width: 6, cell: (row) => String(row.lost) },
  { title: "dup", width: 4, cell: (row) => String(row.duplicates) },
  { title: "ooo", width: 4, cell: (row) => String(row.out_of_order) },
  { title: "posts/s", width: 7, cell: (row) => show(row.posts_per_s) },
  { title: "cpu/post", width: 8, cell: (row) => show(row.cpu_ms_per_post, 2) },
  { title: "RSS MiB", width: 7, cell: (row) => mib(row.rss_kib) },
];

export function consoleHeader(): string {
  const header = COLUMNS.map((column) => column.title.padStart(column.width)).join(" ");
  return `${header}\n${"-".repeat(header.length)}\n(ms; cpu/post in ms of the target's CPU)`;
}

export function consoleRow(row: ResultRow): string {
  const line = COLUMNS.map((column) => column.cell(row).padStart(column.width)).join(" ");
  const notes = [row.saturated ? "SATURATED" : "", row.error ? `error: ${row.error}` : ""].filter(Boolean);
  return notes.length > 0 ? `${line}  ${notes.join("; ")}` : line;
}

function markdownTable(header: string[], rows: string[][]): string {
  const lines = [`| ${header.join(" | ")} |`, `| ${header.map(() => "---").join(" | ")} |`];
  for (const row of rows) lines.push(`| ${row.join(" | ")} |`);
  return lines.join("\n");
}

const LOAD_TITLES: Record<LoadKind, string> = {
  fanout: "Fan-out",
  "closed-loop": "Closed loop",
  "max-rate": "Highest sustained rate",
};

function figuresTable(rows: ResultRow[]): string {
  return markdownTable(
    [
      "target",
      "members",
      "posts/s offered",
      "connect+join ms",
      "p50 ms",
      "p90 ms",
      "p99 ms",
      "max ms",
      "expected",
      "received",
      "lost",
      "dup",
      "out of order",
      "posts/s",
      "stored (pyre)",
      "CPU ms/post",
      "RSS MiB",
      "",
    ],
    rows.map((row) => [
      row.target,
      String(row.members),
      show(row.rate),
      show(row.connect_ms, 0),
      show(row.p50_ms),
      show(row.p90_ms),
      show(row.p99_ms),
      show(row.max_ms),
      String(row.expected),
      String(row.received),
      String(row.lost),
      String(row.duplicates),
      String(row.out_of_order),
      show(row.posts_per_s),
      row.persisted === null ? "" : String(row.persisted),
      show(row.cpu_ms_per_post, 2),
      mib(row.rss_kib),
      [row.saturated ? "**saturated**" : "", row.error ?? ""].filter(Boolean).join(" "),
    ]),
  );
}

const RATIO_TITLES: Record<RatioField, string> = {
  connect_ms: "connect+join",
  p50_ms: "p50",
  p90_ms: "p90",
  p99_ms: "p99",
  max_ms: "max",
  posts_per_s: "posts/s",
  cpu_ms_per_post: "CPU/post",
  rss_kib: "RSS",
};

function ratio(value: number | null | undefined): string {
  return value === null || value === undefined ? "–" : `${value.toFixed(2)}×`;
}

export function resultsMarkdown(info: RunInfo, rows: ResultRow[]): string {
  const { options } = info;
  const sections: string[] = [
    "# Fan-out benchmark: pyre, the floor, and a bare ws server",
    "",
    `Measured ${info.date} on **${info.cores} cores** (${info.cpu}, ${info.memory_gib} GiB), Node ${info.node}, ` +
      `wrangler ${info.wrangler} (compatibility_date ${info.compatibility_date}), pyre at ${info.commit}; ` +
      `the whole run took ${Math.round(info.seconds)} s; the 1-minute load average was ${info.load_average} when it began.`,
    "",
    `Command: \`${info.command}\``,
    "",
    "Every target runs on loopback on this machine, one after the other, with the load generator (one Node",
    "process, `ws` clients) on the same cores. **pyre** is this worker under `wrangler dev`, members",
    "connected through its real path (signed token, upgrade, `phx_join`); a post is broadcast once the room has",
    "stored it durably, and its sender is answered once D1 has it too. **pyre-mux** and **pyre-longpoll** are",
    "the same pyre with its members listening through a multiplexed socket or LongPoll (a SocketSession relays",
    "each); the sender posts over a room-bound socket in all three. **pyre-mixed** and **pyre-mux-mixed** are",
    `pyre and pyre-mux with ${Math.round(options.v1Share * 100)}% of the members speaking V1 (JSON objects, \`vsn=1.0.0\`) and the rest`,
    "V2: the cost of a mixed room, where each post is encoded once per serializer. **pyre-reading** is pyre whose",
    "members each send `mark_read` up to the newest post they got every 2 s, as a visible room page does (the",
    "read positions' storage, their copy to D1 and the counts' notices on the post path). **floor** is bench/floor:",
    "one hibernating Durable Object that re-broadcasts every frame to every",
    "socket of its room, under the same `wrangler dev` (the least any Durable Object chat pays for fan-out",
    "here). **ws** is a bare Node `ws` broadcast server (the machine's ceiling). Latency is from the sender's",
    "send to a member's receipt, on one clock. CPU is the target's whole process tree from the first post to",
    "the last delivery, per post; RSS is that tree's with every member connected. A row is **saturated** when",
    `p50 exceeds 1 s or more than 0.1% of deliveries were lost (lost: not delivered within ${options.drainS} s of the last`,
    "post; a saturated target may deliver them later).",
    "",
    "Read with care: the CPU figures count both of `wrangler dev`'s workerd processes, the runtime and the",
    "entry proxy that relays every frame to it; the proxy costs pyre and the floor the same, so CPU ratios",
    "understate the difference between the rooms themselves. The cores are shared with the load generator and",
    "whatever else runs on the machine, so p99 and max move a lot from run to run: compare targets within one",
    "run, and rerun before trusting a single tail figure. At 20 posts/s for 10 s, p99 rests on the slowest",
    "two posts; `--repeat 3` (medians of three runs) or a longer `--duration` steadies it.",
    "",
  ];
  if (options.repeat > 1) {
    sections.push(
      `Every scenario ran ${options.repeat} times: each figure is the median over the runs, each count their sum.`,
      "",
    );
  }
  const saturated = rows.filter((row) => row.saturated);
  if (saturated.length > 0) {
    sections.push(
      `Saturated in this run: ${saturated.map((row) => `${row.target} ${row.load} ${row.members} (p50 ${show(row.p50_ms)} ms, ${row.lost} lost)`).join("; ")}.`,
      "",
    );
  }
  for (const load of ["fanout", "closed-loop", "max-rate"] as const) {
    const loadRows = rows.filter((row) => row.load === load);
    if (loadRows.length === 0) continue;
    const about =
      load === "fanout"
        ? `one sender posting ${options.rate}/s for ${options.durationS} s to N members.`
        : load === "closed-loop"
          ? `${options.closedMembers} members; the sender posts the next message as soon as its own copy of the previous one comes back, for ${options.durationS} s. "posts/s offered" is the rate achieved.`
          : `${options.maxMembers} members; open loop at ${options.maxRateStart}/s doubling (then bisecting) for ${options.stepS} s per rate, up to ${options.maxRateCap}/s. A rate is sustained when 99.9% of deliveries arrive within 1 s, p99 stays under ${options.p99LimitMs} ms and nothing is refused (a rate that fails is tried once more); the figures are those of the highest sustained rate.`;
    sections.push(`## ${LOAD_TITLES[load]}`, "", about, "", figuresTable(loadRows), "");
    if (load === "max-rate") {
      const steps = loadRows.flatMap((row) =>
        (row.runs ?? [row]).map(
          (run) =>
            `- ${run.target}: ${(run.steps ?? []).map((step) => `${step.rate}/s ${step.passed ? "✓" : `✗ (p99 ${show(step.p99_ms)} ms, ${step.within_1s}/${step.expected} within 1 s)`}`).join(", ")}` +
            ((run.steps ?? []).every((step) => step.passed) ? " (the cap: it may sustain more)" : ""),
        ),
      );
      sections.push("Rates tried:", "", ...steps, "");
    }
  }
  const pyreRows = rows.filter((row) => row.ratio_to_floor !== null);
  if (pyreRows.length > 0) {
    sections.push(
      "## pyre as a multiple of the floor",
      "",
      "Each of pyre's figures divided by the floor's for the same load (above 1× is slower, except posts/s,",
      "where below 1× is slower).",
      "",
      markdownTable(
        ["target", "load", "members", ...RATIO_FIELDS.map((field) => RATIO_TITLES[field])],
        pyreRows.map((row) => [
          row.target,
          row.load,
          String(row.members),
          ...RATIO_FIELDS.map((field) => ratio(row.ratio_to_floor?.[field])),
        ]),
      ),
      "",
    );
  }
  const failures = rows.filter((row) => row.error !== null || row.connect_error !== null || row.rejection !== null);
  if (failures.length > 0) {
    sections.push("## Problems seen", "");
    for (const row of failures) {
      const problems = [
        row.error,
        row.connect_error && `connect: ${row.connect_error}`,
        row.rejection && `refused post: ${row.rejection}`,
      ];
      sections.push(`- ${row.target} ${row.load} ${row.members}: ${problems.filter(Boolean).join("; ")}`);
    }
    sections.push("");
  }
  sections.push("## p99 against room size", "", "![fan-out p99 against members](p99.svg)", "");
  sections.push("Raw figures, with every field per run: [results.json](results.json).", "");
  return sections.join("\n");
}
