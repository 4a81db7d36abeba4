// Applies migrations/ to the local D1 that `wrangler dev` uses (or to --persist-to DIR when given).
// stdin is not passed through, so wrangler never stops to ask for confirmation: no manual step.
import { spawnSync } from "node:child_process";

const result = spawnSync("wrangler", ["d1", "migrations", "apply", "DB", "--local", ...process.argv.slice(2)], {
  stdio: ["ignore", "inherit", "inherit"],
  shell: process.platform === "win32",
});
process.exit(result.status ?? 1);
