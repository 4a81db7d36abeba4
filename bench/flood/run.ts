/**
 * One user floods many rooms through one multiplexed socket (issue 15, item 2); how long does another
 * user wait for a post to be acknowledged meanwhile? Starts a real `wrangler dev` with fresh state, signs
 * two users up through the forms, and drives both with the official `phoenix` client:
 *
 * - the flooder: one socket without a room (one socket slot), joined to ROOMS rooms;
 * - the other user: a room-bound socket in one of those rooms, and one in a room of their own, each posting
 *   every PROBE_EVERY_MS and timing its acknowledgement.
 *
 * Two phases: a burst (BURST_PER_ROOM posts in every room at once) and a paced flood (PACED posts spread
 * over PACED_SECONDS). Run it as shipped, then with `--raised` (the allowance across rooms raised out of
 * reach: what the rooms did before it) to compare:
 *
 *   node bench/flood/run.ts [--raised] [--rooms 100] [--paced 5000] [--paced-seconds 10]
 *
 * Plain Node and erasable TypeScript only (Node's type stripping runs it), like bench/fanout.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join as joinPath } from "node:path";
import { parseArgs } from "node:util";
import { type Channel, Socket } from "phoenix";
import { registerUser } from "../../test/e2e/helpers.ts";
import { run, startWranglerDev } from "../../test/e2e/wrangler-dev.ts";
import { treeUsage } from "../fanout/proc.ts";
import { percentile } from "../latencies.ts";

const { values } = parseArgs({
  options: {
    raised: { type: "boolean", default: false },
    rooms: { type: "string", default: "100" },
    "burst-per-room": { type: "string", default: "10" },
    paced: { type: "string", default: "5000" },
    "paced-seconds": { type: "string", default: "10" },
    echo: { type: "boolean", default: false },
    // What the burst sends: posts, blank posts (refused \`invalid\` by the room: the cost of a room's cheapest
    // answer), or heartbeats (answered by the session itself: the cost of the way there and back).
    kind: { type: "string", default: "post" },
  },
});
const ROOMS = Number(values.rooms);
const BURST_PER_ROOM = Number(values["burst-per-room"]);
const PACED = Number(values.paced);
const PACED_SECONDS = Number(values["paced-seconds"]);
// Two probes (a flooded room and another) at 2 a second each: within the per-room bucket (5 a second) and
// the allowance across rooms (10 a second), so every probe should be ok.
const PROBE_EVERY_MS = 500;

interface Answer {
  status: "ok" | "error" | "timeout";
  response: unknown;
  ms: number;
}

function answer(push: ReturnType<Channel["push"]>): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve) => {
    const done = (status: Answer["status"]) => (response: unknown) =>
      resolve({ status, response, ms: performance.now() - started });
    push.receive("ok", done("ok")).receive("error", done("error")).receive("timeout", done("timeout"));
  });
}

async function join(socket: Socket, room: string): Promise<Channel> {
  const channel = socket.channel(`room:${room}`, {});
  const reply = await answer(channel.join(60_000));
  if (reply.status !== "ok") throw new Error(`join ${room}: ${JSON.stringify(reply)}`);
  return channel;
}

/** A heartbeat on `socket`'s own topic, timed like a push. */
function heartbeat(socket: Socket): Promise<Answer> {
  const started = performance.now();
  const ref = socket.makeRef();
  return new Promise((resolve) => {
    const id = socket.onMessage((message) => {
      const { topic, ref: replyRef } = message as { topic: string; ref: string | null };
      if (topic !== "phoenix" || replyRef !== ref) return;
      socket.off([id]);
      resolve({ status: "ok", response: null, ms: performance.now() - started });
    });
    socket.push({ topic: "phoenix", event: "heartbeat", payload: {}, ref });
  });
}

/** CPU ticks of each command in `rootPid`'s process tree (wrangler's node, workerd, ...), from /proc. */
function ticksByCommand(rootPid: number): Map<string, number> {
  const stats = new Map<number, { ppid: number; command: string; ticks: number }>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const text = readFileSync(`/proc/${entry}/stat`, "utf8");
      const command = text.slice(text.indexOf("(") + 1, text.lastIndexOf(")"));
      const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
      stats.set(Number(entry), { ppid: Number(fields[1]), command, ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // it exited while we looked
    }
  }
  const byCommand = new Map<string, number>();
  const inTree = (pid: number): boolean => {
    for (let at = stats.get(pid); at; at = stats.get(at.ppid)) if (at.ppid === rootPid) return true;
    return pid === rootPid;
  };
  for (const [pid, { command, ticks }] of stats) {
    if (inTree(pid)) byCommand.set(command, (byCommand.get(command) ?? 0) + ticks);
  }
  return byCommand;
}

function summary(latencies: number[]): string {
  const sorted = [...latencies].sort((a, b) => a - b);
  const f = (ms: number) => `${ms.toFixed(0)} ms`;
  return `n=${sorted.length} p50 ${f(percentile(sorted, 50))}, p95 ${f(percentile(sorted, 95))}, max ${f(sorted.at(-1) ?? Number.NaN)}`;
}

/** Posts every PROBE_EVERY_MS on `channel` until stopped, timing each acknowledgement. */
function probe(channel: Channel) {
  const latencies: number[] = [];
  const failures: string[] = [];
  const pending: Array<Promise<void>> = [];
  const timer = setInterval(() => {
    pending.push(
      answer(channel.push("new_post", { message: "a probe" }, 120_000)).then((reply) => {
        if (reply.status === "ok") latencies.push(reply.ms);
        else failures.push(JSON.stringify(reply.response ?? reply.status));
      }),
    );
  }, PROBE_EVERY_MS);
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all(pending);
      return { latencies, failures };
    },
  };
}

function tally(answers: Answer[]): string {
  const counts = new Map<string, number>();
  for (const a of answers) {
    const key =
      a.status === "ok"
        ? "ok"
        : a.status === "timeout"
          ? "timeout"
          : String((a.response as { reason?: string }).reason);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([key, n]) => `${n} ${key}`).join(", ");
}

async function main(): Promise<void> {
  const stateDir = mkdtempSync(joinPath(tmpdir(), "pyre-flood-"));
  const envFile = joinPath(stateDir, "secrets.env");
  writeFileSync(envFile, `TOKEN_SECRET=${randomBytes(36).toString("base64url")}\n`, { mode: 0o600 });
  const persistTo = joinPath(stateDir, "state");
  // The flooder opens its rooms by joining them: 100 rooms is past the daily room allowance.
  const vars: Record<string, string> = {
    REGISTRATIONS_PER_IP: "1000",
    LOGINS_PER_IP: "1000",
    ROOMS_PER_USER_PER_DAY: "1000",
  };
  if (values.raised) Object.assign(vars, { USER_POSTS_PER_SECOND: "1000000", USER_POSTS_BURST: "1000000" });
  await run("npx", ["wrangler", "d1", "migrations", "apply", "DB", "--local", "--persist-to", persistTo]);
  const wrangler = await startWranglerDev({ persistTo, envFile, vars, echo: values.echo });
  const sockets: Socket[] = [];
  try {
    const socketUrl = `${wrangler.baseUrl.replace(/^http/, "ws")}/socket`;
    const connect = (token: string, params: object = {}) => {
      const socket = new Socket(socketUrl, {
        authToken: token,
        params,
        timeout: 60_000,
        reconnectAfterMs: () => 60_000,
      });
      sockets.push(socket);
      socket.connect();
      return socket;
    };
    const tag = randomBytes(3).toString("hex");
    const flooder = await registerUser(wrangler.baseUrl, `flooder_${tag}`);
    const other = await registerUser(wrangler.baseUrl, `other_${tag}`);
    const rooms = Array.from({ length: ROOMS }, (_, n) => `flood_${tag}_${n}`);

    const mux = connect(flooder.token);
    const channels: Channel[] = [];
    for (const room of rooms) channels.push(await join(mux, room));
    const inFlooded = await join(connect(other.token, { room: rooms[0] }), rooms[0] as string);
    const quietRoom = `quiet_${tag}`;
    const inQuiet = await join(connect(other.token, { room: quietRoom }), quietRoom);

    // Normal: the other user's post with nobody flooding.
    const calm = [];
    for (let n = 0; n < 20; n++) calm.push((await answer(inFlooded.push("new_post", { message: "calm" }))).ms);

    console.log(
      `pyre flood: ${ROOMS} rooms on one multiplexed socket, ${values.raised ? "allowance across rooms RAISED (as before it)" : "allowance as shipped"}`,
    );
    console.log(`  the other user's post, nobody flooding: ${summary(calm)}`);

    // Burst: BURST_PER_ROOM posts in every room at once.
    let probeFlooded = probe(inFlooded);
    let probeQuiet = probe(inQuiet);
    // The server's CPU time (wrangler, workerd) for the burst: unlike wall time, it hardly depends on what
    // else the machine runs, and everyone else's posts wait behind it, locally on one thread.
    const pid = wrangler.child.pid as number;
    const cpuBefore = treeUsage(pid).cpuMs;
    const ticksBefore = ticksByCommand(pid);
    const burstStart = performance.now();
    const burst = await Promise.all(
      channels.flatMap((channel) =>
        Array.from({ length: BURST_PER_ROOM }, (_, n) =>
          values.kind === "heartbeat"
            ? heartbeat(mux)
            : answer(channel.push("new_post", { message: values.kind === "blank" ? " " : `burst ${n}` }, 120_000)),
        ),
      ),
    );
    const burstMs = performance.now() - burstStart;
    const burstCpuMs = treeUsage(pid).cpuMs - cpuBefore;
    const split = [...ticksByCommand(pid)]
      .map(([command, ticks]) => [command, ticks - (ticksBefore.get(command) ?? 0)] as const)
      .filter(([, ticks]) => ticks > 0)
      .map(([command, ticks]) => `${command} ${ticks} ticks`)
      .join(", ");
    const burstFlooded = await probeFlooded.stop();
    const burstQuiet = await probeQuiet.stop();
    console.log(
      `  burst: ${burst.length} ${values.kind}s answered in ${(burstMs / 1000).toFixed(1)} s: ${tally(burst)}; ` +
        `server CPU ${(burstCpuMs / 1000).toFixed(1)} s (${(burstCpuMs / burst.length).toFixed(2)} ms a frame: ${split})`,
    );
    console.log(`    the other user's post, in a flooded room: ${summary(burstFlooded.latencies)}`);
    console.log(`    the other user's post, in another room:  ${summary(burstQuiet.latencies)}`);
    if (burstFlooded.failures.length + burstQuiet.failures.length > 0)
      console.log(
        `    the other user's refusals: ${[...burstFlooded.failures, ...burstQuiet.failures].slice(0, 5).join(" ")}`,
      );

    if (PACED === 0) return;
    // Paced: PACED posts spread evenly over PACED_SECONDS, round-robin over the rooms.
    probeFlooded = probe(inFlooded);
    probeQuiet = probe(inQuiet);
    const pacedStart = performance.now();
    const paced: Array<Promise<Answer>> = [];
    const perTick = Math.max(1, Math.round(PACED / (PACED_SECONDS * 100)));
    await new Promise<void>((resolve) => {
      let sent = 0;
      const timer = setInterval(() => {
        for (let n = 0; n < perTick && sent < PACED; n++, sent++) {
          const channel = channels[sent % channels.length] as Channel;
          paced.push(answer(channel.push("new_post", { message: `paced ${sent}` }, 120_000)));
        }
        if (sent >= PACED) {
          clearInterval(timer);
          resolve();
        }
      }, 10);
    });
    const pacedAnswers = await Promise.all(paced);
    const pacedMs = performance.now() - pacedStart;
    const pacedFlooded = await probeFlooded.stop();
    const pacedQuiet = await probeQuiet.stop();
    console.log(
      `  paced: ${PACED} posts over ${PACED_SECONDS} s, answered in ${(pacedMs / 1000).toFixed(1)} s: ${tally(pacedAnswers)}`,
    );
    console.log(`    the other user's post, in a flooded room: ${summary(pacedFlooded.latencies)}`);
    console.log(`    the other user's post, in another room:  ${summary(pacedQuiet.latencies)}`);
    if (pacedFlooded.failures.length + pacedQuiet.failures.length > 0)
      console.log(
        `    the other user's refusals: ${[...pacedFlooded.failures, ...pacedQuiet.failures].slice(0, 5).join(" ")}`,
      );
  } finally {
    for (const socket of sockets) socket.disconnect();
    await wrangler.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

await main();
