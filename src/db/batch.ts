/**
 * Raw SQL statements run as one D1 batch: one round trip, one transaction, in order. drizzle's `db.batch`
 * cannot take raw `sql` with parameters (drizzle-orm 0.45: a raw query has no prepared statement to bind,
 * and the batch throws), so they are compiled here and handed to the D1 binding itself.
 */
import type { SQL } from "drizzle-orm";
import { SQLiteAsyncDialect } from "drizzle-orm/sqlite-core";
import type { Database } from "./client";

const dialect = new SQLiteAsyncDialect();

/** Runs the statements in one batch, in order; answers each one's result. */
export function batch(db: Database, statements: readonly SQL[]): Promise<D1Result[]> {
  const d1 = db.$client;
  return d1.batch(
    statements.map((statement) => {
      const query = dialect.sqlToQuery(statement);
      return d1.prepare(query.sql).bind(...query.params);
    }),
  );
}
