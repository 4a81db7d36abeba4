// Bundles the browser code (src/client/) into public/assets/, which wrangler serves as static assets.
// Runs before dev, test and deploy; `--watch` rebuilds on change. A one-off build fails when the room
// page's script grows past its budget of 18 KB gzipped (phoenix included), so growth is a decision: it was
// 15 KB until the page learnt to edit and delete posts, moderate and open a linked post (16.2 KB), then
// unread counts, the read position and the "New messages" line (17.2 KB).
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import * as esbuild from "esbuild";

const GZIP_BUDGET_BYTES = 18_000;

const options = {
  entryPoints: { room: "src/client/room.ts" },
  outdir: "public/assets",
  bundle: true,
  format: "esm",
  target: "es2022",
  minify: true,
  sourcemap: true,
  logLevel: "warning",
};

if (process.argv.includes("--watch")) {
  const context = await esbuild.context(options);
  await context.watch();
  console.log("build-client: watching src/client/");
} else {
  await esbuild.build(options);
  const gzipped = gzipSync(readFileSync("public/assets/room.js")).length;
  if (gzipped > GZIP_BUDGET_BYTES) {
    console.error(
      `build-client: public/assets/room.js is ${gzipped} bytes gzipped, over the ${GZIP_BUDGET_BYTES} budget`,
    );
    process.exit(1);
  }
}
