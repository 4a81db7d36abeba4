/**
 * What a heartbeat costs the server, by kind: pyre's own constant frame (answered by the runtime,
 * `setWebSocketAutoResponse`), phoenix.js's V2 heartbeat and a V1 client's (both with a ref of their own,
 * which only the room can answer). Starts pyre under `wrangler dev` (bench/fanout/targets.ts, fresh state),
 * joins MEMBERS room-bound sockets of each kind to one room, then for each kind has its members heartbeat,
 * paced, for SECONDS and reads the CPU of wrangler's whole process tree (the runtime and its proxy) over
 * the stretch; an idle stretch of the same length is the baseline subtracted. Prints a markdown table.
 *
 *   node bench/heartbeat/run.ts [--members 100] [--rate 200] [--seconds 5]
 *
 * Plain Node and erasable TypeScript only (Node's type stripping runs it), like bench/fanout.
 */
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import WebSocket from "ws";
import { HEARTBEAT_FRAME } from "../../src/shared/heartbeat.ts";
import { treeUsage } from "../fanout/proc.ts";
import { signSocketToken } from "../fanout/pyre-token.ts";
import { FIRST_MEMBER_USER_ID, startTarget } from "../fanout/targets.ts";

const { values } = parseArgs({
  options: {
    members: { type: "string", default: "100" },
    rate: { type: "string", default: "200" },
    seconds: { type: "string", default: "5" },
    echo: { type: "boolean", default: false },
  },
});
const MEMBERS = Number(values.members);
/** Heartbeats a second over all of a kind's members: 100 members heartbeating every 30 s is 3.3 a second. */
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const ROOM = "heartbeats";
const TOPIC = `room:${ROOM}`;

type Kind = "constant" | "v2" | "v1";
const KINDS: Kind[] = ["constant", "v2", "v1"];
const TITLES: Record<Kind, string> = {
  constant: "pyre's constant frame (runtime's auto-response)",
  v2: "phoenix.js V2, its own ref (the room answers)",
  v1: "V1, its own ref (the room answers)",
};

interface Member {
  ws: WebSocket;
  replies: number;
}

function heartbeat(kind: Kind, ref: number): string {
  if (kind === "constant") return HEARTBEAT_FRAME;
  if (kind === "v2") return JSON.stringify([null, String(ref), "phoenix", "heartbeat", {}]);
  return JSON.stringify({ topic: "phoenix", event: "heartbeat", payload: {}, ref });
}

async function connect(wsBase: string, token: string, kind: Kind): Promise<Member> {
  const vsn = kind === "v1" ? "1.0.0" : "2.0.0";
  const ws = new WebSocket(`${wsBase}/socket/websocket?vsn=${vsn}&room=${ROOM}&token=${token}`, {
    perMessageDeflate: false,
  });
  const member: Member = { ws, replies: 0 };
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  const joined = new Promise<void>((resolve) => {
    ws.on("message", (data) => {
      const text = data.toString();
      if (text.includes('"phoenix"') && text.includes("phx_reply")) member.replies++;
      else if (text.includes("phx_reply")) resolve();
    });
  });
  ws.send(
    kind === "v1"
      ? JSON.stringify({ topic: TOPIC, event: "phx_join", payload: {}, ref: "join" })
      : JSON.stringify(["join", "join", TOPIC, "phx_join", {}]),
  );
  await joined;
  return member;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** Sends RATE heartbeats a second for SECONDS, round-robin over `members`; resolves once all are answered. */
async function heartbeatStretch(kind: Kind, members: Member[]): Promise<{ sent: number; ms: number }> {
  const total = RATE * SECONDS;
  const before = members.reduce((sum, m) => sum + m.replies, 0);
  const start = performance.now();
  for (let sent = 0; sent < total; ) {
    const due = Math.min(total, Math.floor(((performance.now() - start) * RATE) / 1000) + 1);
    for (; sent < due; sent++) members[sent % members.length]?.ws.send(heartbeat(kind, sent));
    await sleep(5);
  }
  const deadline = performance.now() + 30_000;
  while (members.reduce((sum, m) => sum + m.replies, 0) - before < total) {
    if (performance.now() > deadline) throw new Error(`${kind}: not every heartbeat was answered in 30 s`);
    await sleep(10);
  }
  return { sent: total, ms: performance.now() - start };
}

const target = await startTarget("pyre", { users: KINDS.length * MEMBERS + 1, echo: values.echo ?? false });
try {
  const secret = target.loadEnv.BENCH_TOKEN_SECRET ?? "";
  const groups = new Map<Kind, Member[]>();
  let userId = FIRST_MEMBER_USER_ID;
  for (const kind of KINDS) {
    const members: Member[] = [];
    for (let i = 0; i < MEMBERS; i++)
      members.push(await connect(target.wsBase, await signSocketToken(userId++, secret), kind));
    groups.set(kind, members);
  }
  await sleep(2_000); // presence diffs and joins settle
  const idleStart = treeUsage(target.rootPid).cpuMs;
  await sleep(SECONDS * 1000);
  const idleCpuPerMs = (treeUsage(target.rootPid).cpuMs - idleStart) / (SECONDS * 1000);

  const rows: string[] = [];
  for (const kind of KINDS) {
    const members = groups.get(kind) ?? [];
    const cpuStart = treeUsage(target.rootPid).cpuMs;
    const { sent, ms } = await heartbeatStretch(kind, members);
    const cpu = treeUsage(target.rootPid).cpuMs - cpuStart - idleCpuPerMs * ms;
    rows.push(`| ${TITLES[kind]} | ${sent} | ${((cpu * 1000) / sent).toFixed(0)} µs |`);
  }
  console.log(
    `${MEMBERS} members of each kind in one room, ${RATE} heartbeats/s for ${SECONDS} s per kind; CPU of wrangler's ` +
      `process tree, less an idle stretch (${(idleCpuPerMs * 1000).toFixed(1)} ms of CPU a second):\n`,
  );
  console.log("| heartbeat | sent | server CPU per heartbeat |\n| --- | --- | --- |");
  for (const row of rows) console.log(row);
  for (const members of groups.values()) for (const { ws } of members) ws.terminate();
} finally {
  await target.stop();
}
