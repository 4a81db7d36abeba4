/**
 * The one way pyre logs a failure. A whole error object is never handed to the console: drizzle's query
 * errors carry the query parameters (emails, password hashes, posts) in their message, their stack (which
 * repeats the message) and a `params` field. What is logged instead is each error's name and message along
 * the `cause` chain, with drizzle's parameters removed: the SQL text stays, which has placeholders only.
 */
import { DrizzleQueryError } from "drizzle-orm/errors";

/** How deep a `cause` chain is followed; real chains are two or three long, a cycle would be endless. */
const MAX_CAUSES = 5;
/** A message longer than this is cut: a runaway one would flood the log. */
const MAX_MESSAGE_LENGTH = 1_000;

/**
 * Logs `[pyre] where: description`, e.g. `logError("POST /register", error)`. `problem` is usually a caught
 * error; a string is logged as the message it is.
 */
export function logError(where: string, problem: unknown): void {
  console.error(`[pyre] ${where}: ${describeProblem(problem)}`);
}

/** "Name: message ← caused by Name: message", with no query parameters anywhere in it. */
export function describeProblem(problem: unknown): string {
  const parts: string[] = [];
  let current: unknown = problem;
  for (let depth = 0; depth <= MAX_CAUSES && current !== undefined; depth++) {
    parts.push(describeOne(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  if (current !== undefined) parts.push("…");
  return parts.join(" ← caused by ");
}

function describeOne(problem: unknown): string {
  if (problem instanceof DrizzleQueryError) return `DrizzleQueryError: Failed query: ${clip(problem.query)}`;
  if (problem instanceof Error) return `${nameOf(problem)}: ${clip(withoutParams(problem.message))}`;
  // A string is a message of our own (a configuration problem, say); anything else was thrown by mistake.
  if (typeof problem === "string") return clip(withoutParams(problem));
  return `thrown ${typeof problem}: ${clip(withoutParams(String(problem)))}`;
}

/** Errors that only say "Error" are named after their class, which says more (e.g. a D1 error subclass). */
function nameOf(error: Error): string {
  const className = error.constructor?.name;
  return error.name === "Error" && className && className !== "Error" ? className : error.name;
}

/** Drizzle's format is "Failed query: SQL\nparams: a,b,c"; any error built the same way is cut the same way. */
function withoutParams(message: string): string {
  return message.replace(/\n\s*params:[\s\S]*$/, "");
}

function clip(text: string): string {
  return text.length > MAX_MESSAGE_LENGTH ? `${text.slice(0, MAX_MESSAGE_LENGTH)}…` : text;
}
