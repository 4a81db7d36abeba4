// Bundles the browser code (src/client/) into public/assets/, which wrangler serves as static assets.
// Runs before dev, test and deploy; `--watch` rebuilds on change.
import * as esbuild from "esbuild";

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
}
