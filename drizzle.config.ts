import { defineConfig } from "drizzle-kit";

// Generates SQL into migrations/, where wrangler's `d1 migrations apply` (and the test pool) read it.
export default defineConfig({
  dialect: "sqlite",
  schema: "./src/db/schema.ts",
  out: "./migrations",
});
