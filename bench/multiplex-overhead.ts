/**
 * What the extra hop costs. The same post fans out to the same number of members, who listen through
 * each way in: room-bound WebSockets (the baseline), multiplexed WebSockets (a SocketSession relays each
 * member's topic), and LongPoll (a SocketSession plus one HTTP request per batch). For each it reports
 * the time from the push to the last member's receipt (p50, p90, p99 over the posts, one post at a time)
 * and the server's CPU time per post, read from /proc before and after: workerd's (the Worker, its Durable
 * Objects and D1), and with wrangler's local proxy added. The poster's D1 write is in every row, so the
 * difference between rows is what the way in costs.
 *
 * Local workerd on a shared machine: compare the rows with each other, not with production.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { type Channel, LongPoll, Socket } from "phoenix";
import { expect, inject, test } from "vitest";
import { type RegisteredUser, registerUser, uniqueName } from "../test/e2e/helpers";

const baseUrl = inject("baseUrl");
const socketUrl = `${baseUrl.replace(/^http/, "ws")}/socket`;
const MEMBERS = Number(process.env.BENCH_MEMBERS ?? 20);
const POSTS = Number(process.env.BENCH_POSTS ?? 100);
const WARMUP_POSTS = 10;
/** Linux's USER_HZ: /proc reports CPU time in these ticks. */
const TICKS_PER_SECOND = 100;

type Way = "room-bound WebSocket" | "multiplexed WebSocket" | "LongPoll";

interface Post {
  id: number;
  message: string;
}

function joined(channel: Channel): Promise<void> {
  return new Promise((resolve, reject) => {
    channel
      .join()
      .receive("ok", () => resolve())
      .receive("error", reject)
      .receive("timeout", reject);
  });
}

function pushed(channel: Channel, message: string): Promise<void> {
  return new Promise((resolve, reject) => {
    channel
      .push("new_post", { message })
      .receive("ok", () => resolve())
      .receive("error", reject)
      .receive("timeout", reject);
  });
}

function socketFor(way: Way, room: string, token: string): Socket {
  const common = { authToken: token, heartbeatIntervalMs: 3_600_000 };
  if (way === "room-bound WebSocket") return new Socket(socketUrl, { ...common, params: { room } });
  if (way === "multiplexed WebSocket") return new Socket(socketUrl, common);
  return new Socket(socketUrl, { ...common, transport: LongPoll });
}

/** The process group serving `port` (wrangler leads it; workerd is in it). */
function serverGroup(port: number): number {
  const portHex = port.toString(16).toUpperCase().padStart(4, "0");
  const inodes = new Set<string>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[1]?.endsWith(`:${portHex}`) && fields[3] === "0A") inodes.add(fields[9] ?? "");
    }
  }
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const target = readlinkSync(`/proc/${pid}/fd/${fd}`);
        if (inodes.has(/^socket:\[(\d+)\]$/.exec(target)?.[1] ?? "")) return statFields(pid).pgrp;
      } catch {
        // The descriptor closed while we looked.
      }
    }
  }
  throw new Error(`no process of ours listens on port ${port}`);
}

function statFields(pid: string): { command: string; pgrp: number; cpuTicks: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const command = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
  // After "pid (comm) ": state ppid pgrp ... utime is field 14, stime 15 (1-based, comm counted as 2).
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { command, pgrp: Number(rest[2]), cpuTicks: Number(rest[11]) + Number(rest[12]) };
}

/**
 * CPU milliseconds used so far by the processes in `group`: workerd (the Worker and its Durable Objects,
 * D1 included), and all of them (wrangler's local proxy too, which production does not have).
 */
function groupCpuMs(group: number): { workerd: number; all: number } {
  let workerd = 0;
  let all = 0;
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    try {
      const fields = statFields(pid);
      if (fields.pgrp !== group) continue;
      all += fields.cpuTicks;
      if (fields.command.startsWith("workerd")) workerd += fields.cpuTicks;
    } catch {
      // The process ended while we looked.
    }
  }
  return { workerd: (workerd * 1000) / TICKS_PER_SECOND, all: (all * 1000) / TICKS_PER_SECOND };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function measure(way: Way, poster: RegisteredUser, members: RegisteredUser[], group: number) {
  const room = uniqueName("overhead");
  const sockets: Socket[] = [];
  const waiters = new Map<string, { left: number; done: () => void }>();
  await Promise.all(
    members.map(async (member) => {
      const socket = socketFor(way, room, member.token);
      sockets.push(socket);
      socket.connect();
      const channel = socket.channel(`room:${room}`, {});
      channel.on("new_post", (post: Post) => {
        const waiter = waiters.get(post.message);
        if (waiter && --waiter.left === 0) waiter.done();
      });
      await joined(channel);
    }),
  );
  const posterSocket = socketFor("room-bound WebSocket", room, poster.token);
  sockets.push(posterSocket);
  posterSocket.connect();
  const posterChannel = posterSocket.channel(`room:${room}`, {});
  await joined(posterChannel);

  const fanOut = async (message: string): Promise<number> => {
    const started = performance.now();
    const delivered = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${message} did not reach every member`)), 20_000);
      waiters.set(message, {
        left: members.length,
        done: () => {
          clearTimeout(timer);
          resolve(performance.now() - started);
        },
      });
    });
    await pushed(posterChannel, message);
    const took = await delivered;
    waiters.delete(message);
    return took;
  };

  for (let n = 0; n < WARMUP_POSTS; n++) await fanOut(`warm-up ${n}`);
  const cpuBefore = groupCpuMs(group);
  const latencies: number[] = [];
  for (let n = 0; n < POSTS; n++) latencies.push(await fanOut(`post ${n}`));
  const cpuAfter = groupCpuMs(group);
  for (const socket of sockets) socket.disconnect();

  latencies.sort((a, b) => a - b);
  return {
    way,
    "p50 ms": percentile(latencies, 50).toFixed(1),
    "p90 ms": percentile(latencies, 90).toFixed(1),
    "p99 ms": percentile(latencies, 99).toFixed(1),
    "workerd CPU ms/post": ((cpuAfter.workerd - cpuBefore.workerd) / POSTS).toFixed(2),
    "all server CPU ms/post": ((cpuAfter.all - cpuBefore.all) / POSTS).toFixed(2),
  };
}

test(`fan-out to ${MEMBERS} members, ${POSTS} posts, through each way in`, async () => {
  const group = serverGroup(Number(new URL(baseUrl).port));
  const poster = await registerUser(baseUrl, uniqueName("poster"));
  const members = await Promise.all(Array.from({ length: MEMBERS }, () => registerUser(baseUrl, uniqueName("member"))));
  const rows = [];
  for (const way of ["room-bound WebSocket", "multiplexed WebSocket", "LongPoll"] as const) {
    rows.push(await measure(way, poster, members, group));
  }
  console.table(rows);
  console.log(
    [
      "| Way in | p50 | p90 | p99 | workerd CPU per post | with wrangler's proxy |",
      "| --- | --- | --- | --- | --- | --- |",
    ]
      .concat(
        rows.map(
          (row) =>
            `| ${row.way} | ${row["p50 ms"]} ms | ${row["p90 ms"]} ms | ${row["p99 ms"]} ms | ${row["workerd CPU ms/post"]} ms | ${row["all server CPU ms/post"]} ms |`,
        ),
      )
      .join("\n"),
  );
  expect(rows).toHaveLength(3);
});
