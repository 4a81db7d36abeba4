/**
 * A CPU profile of a target's worker over one scenario, through wrangler dev's DevTools inspector
 * (`--profile DIR`): the .cpuprofile opens in Chrome DevTools, and the top self times go to stderr.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import WebSocket from "ws";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  samples?: number[];
}

export interface Profiler {
  stop(file: string): Promise<void>;
}

/** Starts sampling the first worker target the inspector lists. */
export async function startProfile(inspectorUrl: string): Promise<Profiler> {
  const targets = (await (await fetch(`${inspectorUrl}/json`)).json()) as { webSocketDebuggerUrl?: string }[];
  const url = targets.find((target) => target.webSocketDebuggerUrl)?.webSocketDebuggerUrl;
  if (url === undefined) throw new Error(`no inspector target at ${inspectorUrl}/json`);
  const socket = new WebSocket(url, { perMessageDeflate: false });
  await new Promise((resolve, reject) => {
    socket.once("open", resolve);
    socket.once("error", reject);
  });
  let nextId = 1;
  const pending = new Map<number, (result: unknown) => void>();
  socket.on("message", (data) => {
    const message = JSON.parse(String(data)) as { id?: number; result?: unknown };
    if (message.id !== undefined) pending.get(message.id)?.(message.result);
  });
  const call = (method: string, params: object = {}) =>
    new Promise<unknown>((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      socket.send(JSON.stringify({ id, method, params }));
    });
  await call("Profiler.enable");
  await call("Profiler.setSamplingInterval", { interval: 200 });
  await call("Profiler.start");
  return {
    async stop(file) {
      const { profile } = (await call("Profiler.stop")) as { profile: Profile };
      socket.close();
      writeFileSync(file, JSON.stringify(profile));
      process.stderr.write(`[profile] ${file}\n${summary(profile)}\n`);
    },
  };
}

/** The functions with the most self samples, as shares of all samples. */
function summary(profile: Profile, top = 25): string {
  const total = profile.nodes.reduce((sum, node) => sum + (node.hitCount ?? 0), 0) || 1;
  const byFunction = new Map<string, number>();
  for (const node of profile.nodes) {
    const { functionName, url, lineNumber } = node.callFrame;
    const key = `${functionName || "(anonymous)"} ${url.split("/").slice(-2).join("/")}:${lineNumber + 1}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + (node.hitCount ?? 0));
  }
  return [...byFunction]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([key, hits]) => `${((100 * hits) / total).toFixed(1).padStart(5)}%  ${key}`)
    .join("\n");
}

export function profileFile(dir: string, target: string, kind: string, members: number): string {
  return join(dir, `${target}-${kind}-${members}-${Date.now()}.cpuprofile`);
}
