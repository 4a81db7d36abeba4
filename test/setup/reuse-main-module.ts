/**
 * Works around a cost in @cloudflare/vitest-plugin (1.5.1; @cloudflare/vitest-pool-workers 0.23 did the
 * same): it re-imports the worker's main module (src/index.ts) through Vite's module runner on *every*
 * Durable Object event (each fetch, alarm and webSocketMessage/Close/Error), so that an edited main module
 * invalidates live objects in watch mode. The module is evaluated once; what repeats is the lookup: a hop
 * into the pool's runner object and two RPC round trips to the Vitest process in Node (resolveId, then
 * fetchModule answering "cached"); this file removes the round trips. With 0.23 that was about half the
 * time of the socket-heavy files (test/fuzz/channel.test.ts: 40-47 s → 19 s); with 1.5.1, side by side on
 * a loaded machine, that file took 36-43 s with it and 40-52 s without.
 *
 * Here the main module's import is remembered for the rest of a test file's run. Should a workerd and its
 * module runner serve file after file (watch mode re-runs, or `isolate: false`), this setup runs before each
 * file, patches a runner the first time and forgets the remembered import every time after, so each file
 * (and each watch-mode re-run) resolves the main module afresh once. Nothing else is cached, and the module
 * is still loaded and evaluated exactly as before (mocks included). If the pool's internals change and the
 * hooks below are missing, this does nothing and tests just run at the old speed.
 */

/** Where a patched runner keeps the main module's import; forgotten at the start of every test file. */
const REMEMBERED = Symbol.for("pyre.reuse-main-module");

interface ModuleRunnerLike {
  import(url: string, ...rest: unknown[]): Promise<unknown>;
  [REMEMBERED]?: { loaded: Promise<unknown> | undefined };
}

const globals = globalThis as {
  __vitest_mocker__?: { moduleRunner?: ModuleRunnerLike };
  __vitest_worker__?: { providedContext?: { cloudflarePoolOptions?: unknown } };
};

function mainModulePath(): string | undefined {
  const options = globals.__vitest_worker__?.providedContext?.cloudflarePoolOptions;
  if (typeof options !== "string") return undefined;
  try {
    const main = (JSON.parse(options) as { main?: unknown }).main;
    return typeof main === "string" ? main : undefined;
  } catch {
    return undefined;
  }
}

const runner = globals.__vitest_mocker__?.moduleRunner;
const main = mainModulePath();
const patched = runner?.[REMEMBERED];
if (patched) {
  patched.loaded = undefined; // a new file: the main module is resolved afresh, once
} else if (runner && typeof runner.import === "function" && main !== undefined) {
  const remembered: { loaded: Promise<unknown> | undefined } = { loaded: undefined };
  runner[REMEMBERED] = remembered;
  const importModule = runner.import.bind(runner);
  runner.import = (url: string, ...rest: unknown[]) => {
    // Everything else as it came, options included (Vitest imports each setup and test file with
    // `invalidate`, so that a reused runner evaluates it again for the next file).
    if (url !== main || rest.length > 0) return importModule(url, ...rest);
    remembered.loaded ??= importModule(url).catch((problem: unknown) => {
      remembered.loaded = undefined; // a failed load is tried again next time, as before
      throw problem;
    });
    return remembered.loaded;
  };
}
