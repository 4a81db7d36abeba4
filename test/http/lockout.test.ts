/**
 * The login lockout, counted per email address whether or not an account has it: five failures in a row
 * lock the address for 15 minutes, with the same answer, status and cost for a real account and an
 * unknown email, and no way to run more than five real password checks by guessing in parallel.
 */
import { eq } from "drizzle-orm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { LOCKOUT } from "../../src/auth/accounts";
import { loginFailures, users } from "../../src/db/schema";
import { db } from "../helpers/users";
import { type Page, Visitor } from "../helpers/visitor";

const PASSWORD = "correct horse battery";
const WRONG = "wrong password";

afterEach(() => {
  vi.restoreAllMocks();
});

async function stateOf(email: string) {
  const [row] = await db.select().from(loginFailures).where(eq(loginFailures.email, email));
  return row;
}

async function failuresOf(email: string): Promise<number | undefined> {
  return (await stateOf(email))?.failures;
}

/** The lock's 15 minutes pass (moved in D1, as the clock would). */
async function expireLock(email: string): Promise<void> {
  await db
    .update(loginFailures)
    .set({ lockedUntil: new Date(Date.now() - 1000) })
    .where(eq(loginFailures.email, email));
}

function alertOf(page: Page): string | undefined {
  return /<p class="alert" role="alert" id="login_alert">([^<]*)<\/p>/.exec(page.html)?.[1];
}

async function failRepeatedly(email: string, times: number): Promise<Page[]> {
  const pages: Page[] = [];
  for (let attempt = 0; attempt < times; attempt++) pages.push(await new Visitor().logIn(email, WRONG));
  return pages;
}

describe("lockout per email", () => {
  it("locks an unknown email exactly as it locks a real account: same statuses, same words", async () => {
    await new Visitor().register("lock_real");
    const real = await failRepeatedly("lock_real@example.com", LOCKOUT.maxFailures + 1);
    const unknown = await failRepeatedly("lock_nobody@example.com", LOCKOUT.maxFailures + 1);

    const expected = [...Array(LOCKOUT.maxFailures - 1).fill(401), 429, 429];
    expect(real.map((page) => page.status)).toEqual(expected);
    expect(unknown.map((page) => page.status)).toEqual(expected);
    expect(unknown.map(alertOf)).toEqual(real.map(alertOf));
    expect(alertOf(unknown[LOCKOUT.maxFailures - 1] as Page)).toContain("locked for 15 more minutes");

    // Locked means locked, with the right password as with any other.
    const rightButLocked = await new Visitor().logIn("lock_real@example.com", PASSWORD);
    expect(rightButLocked.status).toBe(429);
    expect(rightButLocked.headers.getSetCookie()).toEqual([]);
  });

  it("spends one PBKDF2 on every attempt: wrong password, unknown email, and both once locked", async () => {
    await new Visitor().register("lock_cost");
    await failRepeatedly("lock_cost@example.com", LOCKOUT.maxFailures);
    await failRepeatedly("lock_cost_nobody@example.com", LOCKOUT.maxFailures);
    await new Visitor().register("lock_cost_open");

    // Watched, not replaced: the real derivation still runs.
    const derivations = vi.spyOn(crypto.subtle, "deriveBits");
    const costOf = async (email: string, expectedStatus: number) => {
      derivations.mockClear();
      expect((await new Visitor().logIn(email, WRONG)).status).toBe(expectedStatus);
      return derivations.mock.calls.length;
    };
    expect(await costOf("lock_cost_open@example.com", 401)).toBe(1);
    expect(await costOf("lock_cost_open_nobody@example.com", 401)).toBe(1);
    expect(await costOf("lock_cost@example.com", 429)).toBe(1);
    expect(await costOf("lock_cost_nobody@example.com", 429)).toBe(1);
  });

  it("runs at most five real checks when twenty wrong guesses arrive at once", async () => {
    await new Visitor().register("lock_race");
    const email = "lock_race@example.com";
    const pages = await Promise.all(Array.from({ length: 20 }, () => new Visitor().logIn(email, WRONG)));

    expect(await failuresOf(email)).toBe(LOCKOUT.maxFailures);
    const statuses = pages.map((page) => page.status).sort();
    expect(statuses.filter((status) => status === 401)).toHaveLength(LOCKOUT.maxFailures - 1);
    expect(statuses.filter((status) => status === 429)).toHaveLength(20 - (LOCKOUT.maxFailures - 1));

    const right = await new Visitor().logIn(email, PASSWORD);
    expect(right.status).toBe(429);
    expect(right.headers.getSetCookie()).toEqual([]);
  });

  it(`locks for 15 minutes after ${LOCKOUT.maxFailures} failures in a row, then lets the right password in`, async () => {
    await new Visitor().register("locked_user");
    const email = "locked_user@example.com";
    const pages = await failRepeatedly(email, LOCKOUT.maxFailures);
    expect(pages.map((page) => page.status)).toEqual([401, 401, 401, 401, 429]);
    expect(alertOf(pages[4] as Page)).toBe(
      "Too many failed attempts: logging in with this email is locked for 15 more minutes " +
        "(5 wrong passwords in a row lock it for 15 minutes).",
    );

    const locked = await stateOf(email);
    expect(locked?.failures).toBe(LOCKOUT.maxFailures);
    const lockedFor = (locked?.lockedUntil?.getTime() ?? 0) - Date.now();
    expect(lockedFor).toBeGreaterThan(14 * 60_000);
    expect(lockedFor).toBeLessThanOrEqual(15 * 60_000);

    await expireLock(email);
    expect((await new Visitor().logIn(email, PASSWORD)).status).toBe(303);
    expect(await stateOf(email)).toBeUndefined();
  });

  it("lets the fifth attempt, the one that completes the count, in with the right password", async () => {
    await new Visitor().register("fifth_right");
    const email = "fifth_right@example.com";
    await failRepeatedly(email, LOCKOUT.maxFailures - 1);
    expect((await new Visitor().logIn(email, PASSWORD)).status).toBe(303);
    expect(await stateOf(email)).toBeUndefined();
  });

  it("starts counting afresh once a lock has expired, for a real account and an unknown email", async () => {
    await new Visitor().register("relock_user");
    for (const email of ["relock_user@example.com", "relock_nobody@example.com"]) {
      await failRepeatedly(email, LOCKOUT.maxFailures);
      await expireLock(email);
      expect((await new Visitor().logIn(email, WRONG)).status).toBe(401);
      expect(await stateOf(email)).toMatchObject({ failures: 1, lockedUntil: null });
    }
  });

  it("counts the email however it is typed: case and surrounding spaces do not give fresh attempts", async () => {
    const email = "case_count@example.com";
    await failRepeatedly(email, 2);
    await failRepeatedly("  CASE_Count@Example.com ", 2);
    expect(await failuresOf(email)).toBe(4);
    expect((await new Visitor().logIn("Case_Count@example.COM", WRONG)).status).toBe(429);
  });

  it("resets the count on a successful login, and keeps sign-in tracking on the user", async () => {
    await new Visitor().register("reset_count");
    const email = "reset_count@example.com";
    await failRepeatedly(email, LOCKOUT.maxFailures - 1);
    expect((await new Visitor().logIn(email, PASSWORD)).status).toBe(303);
    expect(await stateOf(email)).toBeUndefined();
    await failRepeatedly(email, LOCKOUT.maxFailures - 1);
    expect(await failuresOf(email)).toBe(LOCKOUT.maxFailures - 1);
    const [user] = await db.select().from(users).where(eq(users.email, email));
    expect(user?.signInCount).toBe(1);
    expect(user).not.toHaveProperty("failedLoginCount");
  });

  it("counts an over-long password as a failure like any other", async () => {
    const email = "long_guess@example.com";
    await new Visitor().logIn(email, "p".repeat(300));
    expect(await failuresOf(email)).toBe(1);
  });
});
