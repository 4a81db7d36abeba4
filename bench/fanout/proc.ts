/**
 * What a target's processes cost, read from /proc (Linux): CPU time and resident memory summed over a
 * process and all its descendants (for `wrangler dev`: npx, wrangler's node, esbuild, workerd).
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

/** Kernel clock ticks per second, the unit of utime and stime in /proc/PID/stat. */
const CLOCK_TICKS = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

export interface TreeUsage {
  /** user + system CPU time of every live process in the tree */
  cpuMs: number;
  rssKib: number;
  processes: number;
}

interface Stat {
  ppid: number;
  cpuTicks: number;
}

function readStat(pid: number): Stat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name is in parentheses and may hold spaces: the fields we want come after its ')'.
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    // fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
    return { ppid: Number(fields[1]), cpuTicks: Number(fields[11]) + Number(fields[12]) };
  } catch {
    return undefined; // it exited while we looked
  }
}

function readRssKib(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

export function treeUsage(rootPid: number): TreeUsage {
  const stats = new Map<number, Stat>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat) stats.set(Number(entry), stat);
  }
  const children = new Map<number, number[]>();
  for (const [pid, stat] of stats) {
    const siblings = children.get(stat.ppid) ?? [];
    siblings.push(pid);
    children.set(stat.ppid, siblings);
  }
  let cpuTicks = 0;
  let rssKib = 0;
  let processes = 0;
  const queue = stats.has(rootPid) ? [rootPid] : [];
  for (let pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
    cpuTicks += stats.get(pid)?.cpuTicks ?? 0;
    rssKib += readRssKib(pid);
    processes++;
    queue.push(...(children.get(pid) ?? []));
  }
  return { cpuMs: (cpuTicks * 1000) / CLOCK_TICKS, rssKib, processes };
}
