import { drizzle } from "drizzle-orm/d1";
import * as schema from "./schema";

/** The drizzle handle every query function takes; made once per request (HTTP) or per room (Durable Object). */
export function createDatabase(d1: D1Database) {
  return drizzle(d1, { schema });
}

export type Database = ReturnType<typeof createDatabase>;
