#!/usr/bin/env node
/**
 * The layout's rules, checked on every `npm run lint` (docs/architecture.md "Rules"):
 * 1. `src/http/` and `src/auth/` reach a Durable Object's folder in `src/realtime/` only through its
 *    `client.ts`; `phoenix/` and `access/` are open to them.
 * 2. `src/realtime/phoenix/` (the wire layer) imports nothing else of `src/realtime/`; `access/` only
 *    `phoenix/`.
 * 3. No import cycles anywhere in `src/`, type-only imports included.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const src = path.join(root, "src");
const realtime = "src/realtime/";
const OPEN_TO_ALL = new Set(["phoenix", "access"]);

const files = walk(src).filter((file) => /\.tsx?$/.test(file) && !file.endsWith(".d.ts"));
const graph = new Map(files.map((file) => [file, importsOf(file)]));
const problems = [...ruleViolations(), ...cycles()];

if (problems.length > 0) {
  console.error(`Layout check failed (docs/architecture.md "Rules"):\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  process.exit(1);
}
console.log(
  `Layout check: ${files.length} files, ${[...graph.values()].flat().length} imports; rules hold, no cycles.`,
);

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? walk(full) : [path.relative(root, full).split(path.sep).join("/")];
  });
}

/** The project files `file` imports (relative specifiers), `import type` and re-exports included. */
function importsOf(file) {
  const text = readFileSync(path.join(root, file), "utf8");
  const specifiers = [
    ...text.matchAll(/^\s*(?:import|export)\s[^;]*?\sfrom\s+["']([^"']+)["']/gms),
    ...text.matchAll(/^\s*import\s+["']([^"']+)["']/gm),
    ...text.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g),
  ].map((match) => match[1]);
  return specifiers.filter((spec) => spec.startsWith(".")).map((spec) => resolve(file, spec));
}

function resolve(from, spec) {
  const base = path.posix.normalize(path.posix.join(path.posix.dirname(from), spec));
  for (const candidate of [base, `${base}.ts`, `${base}.tsx`, `${base}/index.ts`]) {
    const full = path.join(root, candidate);
    if (existsSync(full) && statSync(full).isFile()) return candidate;
  }
  return base;
}

/** The folder of `src/realtime/` a file is in ("room", "phoenix", ...), if any. */
function realtimeFolder(file) {
  return file.startsWith(realtime) ? file.slice(realtime.length).split("/")[0] : undefined;
}

function* ruleViolations() {
  for (const [file, imports] of graph) {
    const from = realtimeFolder(file);
    for (const target of imports) {
      const to = realtimeFolder(target);
      if (to === undefined) continue;
      if (/^src\/(http|auth)\//.test(file) && !OPEN_TO_ALL.has(to) && !target.endsWith(`/${to}/client.ts`)) {
        yield `${file} imports ${target}: outside src/realtime/, reach ${to}/ only through ${realtime}${to}/client.ts`;
      }
      if (from === "phoenix" && to !== "phoenix") {
        yield `${file} imports ${target}: the wire layer (phoenix/) knows no Durable Object`;
      }
      if (from === "access" && to !== "access" && to !== "phoenix") {
        yield `${file} imports ${target}: access/ may import only phoenix/`;
      }
    }
  }
}

/** Each import cycle once, as the files around it (Tarjan's strongly connected components). */
function cycles() {
  const index = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const found = [];
  let next = 0;
  const visit = (file) => {
    index.set(file, next);
    low.set(file, next);
    next++;
    stack.push(file);
    onStack.add(file);
    for (const target of graph.get(file) ?? []) {
      if (!graph.has(target)) continue;
      if (!index.has(target)) {
        visit(target);
        low.set(file, Math.min(low.get(file), low.get(target)));
      } else if (onStack.has(target)) low.set(file, Math.min(low.get(file), index.get(target)));
    }
    if (low.get(file) !== index.get(file)) return;
    const component = [];
    let member;
    do {
      member = stack.pop();
      onStack.delete(member);
      component.push(member);
    } while (member !== file);
    const selfImport = (graph.get(file) ?? []).includes(file);
    if (component.length > 1 || selfImport) found.push(`import cycle: ${component.reverse().join(" -> ")}`);
  };
  for (const file of graph.keys()) if (!index.has(file)) visit(file);
  return found;
}
