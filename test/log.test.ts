/**
 * What reaches the logs when something fails: a description of the failure, never the query parameters
 * drizzle puts into its error messages (password hashes, emails). The failure is a real D1 error raised by
 * a trigger; console.error is watched (not replaced) to read what would be printed.
 */
import { env } from "cloudflare:workers";
import { DrizzleQueryError } from "drizzle-orm/errors";
import { afterEach, describe, expect, it, vi } from "vitest";
import { describeProblem, logError } from "../src/log";
import { Visitor } from "./helpers/visitor";

afterEach(async () => {
  vi.restoreAllMocks();
  await env.DB.exec("DROP TRIGGER IF EXISTS fail_user_inserts");
});

/** Everything console.error would print for one call, as generously as a runtime could: stacks and causes too. */
function printed(args: unknown[]): string {
  const seen = new Set<unknown>();
  const show = (value: unknown): string => {
    if (seen.has(value)) return "";
    seen.add(value);
    if (value instanceof Error) {
      const own = Object.entries(value).map(([key, field]) => `${key}=${show(field)}`);
      return [value.name, value.message, value.stack ?? "", ...own, show(value.cause)].join("\n");
    }
    if (typeof value === "object" && value !== null) return JSON.stringify(value);
    return String(value);
  };
  return args.map(show).join(" ");
}

function watchConsoleError(): () => string[] {
  const spy = vi.spyOn(console, "error");
  return () => spy.mock.calls.map(printed);
}

describe("logs of a failed registration", () => {
  it("name what failed but carry neither the email, the password nor its hash", async () => {
    await env.DB.exec(
      "CREATE TRIGGER fail_user_inserts BEFORE INSERT ON users BEGIN SELECT RAISE(ABORT, 'injected'); END",
    );
    const lines = watchConsoleError();
    const email = "log_secret_person@example.com";
    const password = "a password nobody should read";

    const page = await new Visitor().register("log_secret", password, email);

    expect(page.status).toBe(500);
    expect(page.html).toContain("Please try again in a moment.");
    const logged = lines();
    expect(logged.some((line) => line.includes("POST /register") && line.includes("injected"))).toBe(true);
    expect(logged.some((line) => line.includes('insert into "users"'))).toBe(true);
    for (const line of logged) {
      expect(line).not.toContain(email);
      expect(line).not.toContain("log_secret_person");
      expect(line).not.toContain(password);
      expect(line).not.toContain("pbkdf2-sha256$");
    }
  });
});

describe("describeProblem", () => {
  it("keeps drizzle's SQL and drops its parameters, following the cause", () => {
    const d1 = new Error("D1_ERROR: UNIQUE constraint failed: users.email: SQLITE_CONSTRAINT");
    const failed = new DrizzleQueryError(
      'insert into "users" ("email", "password_hash") values (?, ?)',
      ["someone@example.com", "pbkdf2-sha256$100000$c2FsdA==$aGFzaA=="],
      d1,
    );
    const described = describeProblem(failed);
    expect(described).toBe(
      'DrizzleQueryError: Failed query: insert into "users" ("email", "password_hash") values (?, ?)' +
        " ← caused by Error: D1_ERROR: UNIQUE constraint failed: users.email: SQLITE_CONSTRAINT",
    );
  });

  it("cuts a params part from any message built like drizzle's, and from thrown strings", () => {
    expect(describeProblem(new TypeError("Failed query: select 1\nparams: secret@example.com"))).toBe(
      "TypeError: Failed query: select 1",
    );
    expect(describeProblem("Failed query: select 1\nparams: secret")).toBe("Failed query: select 1");
    expect(describeProblem(42)).toBe("thrown number: 42");
  });

  it("stops following a cause chain that loops", () => {
    const first = new Error("first");
    const second = new Error("second", { cause: first });
    first.cause = second;
    const described = describeProblem(first);
    expect(described.split(" ← caused by ")).toHaveLength(7);
    expect(described.endsWith("…")).toBe(true);
  });

  it("logs one line prefixed [pyre] and the place", () => {
    const lines = watchConsoleError();
    logError("somewhere", new RangeError("out of range"));
    expect(lines()).toEqual(["[pyre] somewhere: RangeError: out of range"]);
  });
});
