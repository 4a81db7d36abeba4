import { drizzle } from "drizzle-orm/d1";
import * as schema from "./schema";

const handles = new WeakMap<D1Database, Database>();

/**
 * The drizzle handle every query function takes, one per D1 binding object: making one reads the whole
 * schema's relations, which is not worth doing per request.
 */
export function createDatabase(d1: D1Database): Database {
  let db = handles.get(d1);
  if (db === undefined) {
    db = makeDatabase(d1);
    handles.set(d1, db);
  }
  return db;
}

function makeDatabase(d1: D1Database) {
  return drizzle(d1, { schema });
}

export type Database = ReturnType<typeof makeDatabase>;
