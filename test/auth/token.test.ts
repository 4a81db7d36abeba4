import { env } from "cloudflare:workers";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import type { TokenSecret, TokenSecrets } from "../../src/auth/secret";
import {
  keyId,
  SESSION_AUDIENCE,
  SOCKET_AUDIENCE,
  signUserToken,
  TOKEN_MAX_AGE_SECONDS,
  verifyUserToken,
} from "../../src/auth/token";
import { bumpTokenGeneration } from "../../src/db/users";
import { db, makeUser, testSecrets } from "../helpers/users";

const secrets = testSecrets();
const secret = secrets.current;
const key = new TextEncoder().encode(secret);
const kid = await keyId(secret);

function base64url(value: object): string {
  return btoa(JSON.stringify(value)).replace(/=/g, "").replace(/\+/g, "-").replace(/\//g, "_");
}

describe("signUserToken / verifyUserToken", () => {
  it("round-trips: the token names the user, for the socket audience, valid for two weeks", async () => {
    const user = await makeUser("tok_roundtrip");
    const token = await signUserToken(user, secrets);
    const result = await verifyUserToken(token, secrets, db);
    expect(result).toMatchObject({ ok: true, user: { id: user.id, username: "tok_roundtrip" } });

    const [header, payload] = token
      .split(".")
      .slice(0, 2)
      .map((part) => JSON.parse(atob(part.replace(/-/g, "+").replace(/_/g, "/"))));
    expect(header).toEqual({ alg: "HS256", typ: "JWT", kid });
    expect(payload).toMatchObject({ sub: String(user.id), aud: "user socket", gen: 0 });
    expect(payload.exp - payload.iat).toBe(TOKEN_MAX_AGE_SECONDS);
    expect(result.ok && result.expiresAt.getTime()).toBe(payload.exp * 1000);
    expect(TOKEN_MAX_AGE_SECONDS).toBe(1_209_600);
  });

  it("is still valid just before two weeks and expired just after", async () => {
    const user = await makeUser("tok_expiry");
    const issued = new Date("2026-01-01T00:00:00Z");
    const token = await signUserToken(user, secrets, { now: issued });
    const justBefore = new Date(issued.getTime() + (TOKEN_MAX_AGE_SECONDS - 60) * 1000);
    const justAfter = new Date(issued.getTime() + (TOKEN_MAX_AGE_SECONDS + 1) * 1000);
    expect((await verifyUserToken(token, secrets, db, { now: justBefore })).ok).toBe(true);
    expect(await verifyUserToken(token, secrets, db, { now: justAfter })).toEqual({ ok: false, reason: "expired" });
  });

  it("refuses a token whose exp was stretched past the two-week max age", async () => {
    const user = await makeUser("tok_maxage");
    const iat = Math.floor(Date.now() / 1000) - TOKEN_MAX_AGE_SECONDS - 10;
    const token = await new SignJWT({ gen: 0 })
      .setProtectedHeader({ alg: "HS256", kid })
      .setSubject(String(user.id))
      .setAudience(SOCKET_AUDIENCE)
      .setIssuedAt(iat)
      .setExpirationTime(iat + 10 * TOKEN_MAX_AGE_SECONDS)
      .sign(key);
    expect(await verifyUserToken(token, secrets, db)).toEqual({ ok: false, reason: "expired" });
  });

  it("refuses the wrong audience, both ways", async () => {
    const user = await makeUser("tok_audience");
    const session = await signUserToken(user, secrets, { audience: SESSION_AUDIENCE });
    const socket = await signUserToken(user, secrets);
    expect(await verifyUserToken(session, secrets, db)).toEqual({ ok: false, reason: "invalid" });
    expect(await verifyUserToken(socket, secrets, db, { audience: SESSION_AUDIENCE })).toEqual({
      ok: false,
      reason: "invalid",
    });
  });

  it("refuses a tampered payload and a tampered signature", async () => {
    const user = await makeUser("tok_tamper");
    const other = await makeUser("tok_tamper_victim");
    const token = await signUserToken(user, secrets);
    const [header, payload, signature] = token.split(".") as [string, string, string];
    const claims = JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/")));
    const forged = `${header}.${base64url({ ...claims, sub: String(other.id) })}.${signature}`;
    expect(await verifyUserToken(forged, secrets, db)).toEqual({ ok: false, reason: "invalid" });

    const flipped = signature.startsWith("A") ? `B${signature.slice(1)}` : `A${signature.slice(1)}`;
    expect(await verifyUserToken(`${header}.${payload}.${flipped}`, secrets, db)).toEqual({
      ok: false,
      reason: "invalid",
    });
  });

  it("refuses a token signed with another key", async () => {
    const user = await makeUser("tok_otherkey");
    const token = await signUserToken(user, {
      current: "another-secret-that-is-also-32-characters-long" as TokenSecret,
    });
    expect(await verifyUserToken(token, secrets, db)).toEqual({ ok: false, reason: "invalid" });
  });

  it('refuses alg "none" (an unsigned token)', async () => {
    const user = await makeUser("tok_none");
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: String(user.id), aud: SOCKET_AUDIENCE, gen: 0, iat: now, exp: now + 3600 };
    const unsigned = `${base64url({ alg: "none", typ: "JWT", kid })}.${base64url(claims)}.`;
    expect(await verifyUserToken(unsigned, secrets, db)).toEqual({ ok: false, reason: "invalid" });
  });

  it("refuses HS512 even with the right key: only HS256 is accepted", async () => {
    const user = await makeUser("tok_hs512");
    const token = await new SignJWT({ gen: 0 })
      .setProtectedHeader({ alg: "HS512", kid })
      .setSubject(String(user.id))
      .setAudience(SOCKET_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode(secret.repeat(2)));
    expect(await verifyUserToken(token, secrets, db)).toEqual({ ok: false, reason: "invalid" });
  });

  it.each([
    ["not a JWT", "hello"],
    ["empty", ""],
    ["three dots of nothing", ".."],
  ])("refuses garbage (%s)", async (_, token) => {
    expect(await verifyUserToken(token, secrets, db)).toEqual({ ok: false, reason: "invalid" });
  });

  it("refuses well-signed tokens with a bad subject or generation", async () => {
    const sign = (claims: Record<string, unknown>, subject: string) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: "HS256", kid })
        .setSubject(subject)
        .setAudience(SOCKET_AUDIENCE)
        .setIssuedAt()
        .setExpirationTime("1h")
        .sign(key);
    expect(await verifyUserToken(await sign({ gen: 0 }, "abc"), secrets, db)).toEqual({ ok: false, reason: "invalid" });
    expect(await verifyUserToken(await sign({ gen: "0" }, "1"), secrets, db)).toEqual({ ok: false, reason: "invalid" });
    expect(await verifyUserToken(await sign({}, "1"), secrets, db)).toEqual({ ok: false, reason: "invalid" });
  });

  it("reports revoked once the user's generation moved on (logout), and for a deleted user", async () => {
    const user = await makeUser("tok_revoked");
    const token = await signUserToken(user, secrets);
    await bumpTokenGeneration(db, user.id);
    expect(await verifyUserToken(token, secrets, db)).toEqual({ ok: false, reason: "revoked" });

    const ghost = await signUserToken({ id: 999_999, tokenGeneration: 0 }, secrets);
    expect(await verifyUserToken(ghost, secrets, db)).toEqual({ ok: false, reason: "revoked" });
  });

  it("signs new tokens with the new generation after a bump", async () => {
    const user = await makeUser("tok_regen");
    await bumpTokenGeneration(db, user.id);
    const fresh = await verifyUserToken(await signUserToken({ id: user.id, tokenGeneration: 1 }, secrets), secrets, db);
    expect(fresh.ok).toBe(true);
  });

  it("uses the test TOKEN_SECRET binding", () => {
    expect(env.TOKEN_SECRET).toBe("test-secret-that-is-long-enough-for-hs256-0123456789");
  });
});

describe("key ids and rotation", () => {
  const OLD = "the-secret-we-used-until-today-0123456789" as TokenSecret;
  const NEW = "the-secret-we-sign-with-from-now-on-98765" as TokenSecret;
  const rotated: TokenSecrets = { current: NEW, previous: OLD };

  function headerOf(token: string): Record<string, unknown> {
    const [header = ""] = token.split(".");
    return JSON.parse(atob(header.replace(/-/g, "+").replace(/_/g, "/")));
  }

  /** A token with exactly the header we say, signed with `signingKey`. */
  async function handMade(userId: number, header: { alg: string; kid?: string }, signingKey: TokenSecret) {
    return new SignJWT({ gen: 0 })
      .setProtectedHeader(header)
      .setSubject(String(userId))
      .setAudience(SOCKET_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode(signingKey));
  }

  it("names each secret by a short fingerprint that does not contain it, the same every time", async () => {
    expect(await keyId(NEW)).toMatch(/^[A-Za-z0-9_-]{11}$/);
    // Derived, not random: every isolate and every deploy names the same secret the same way.
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`pyre token key id\0${NEW}`));
    const expected = btoa(String.fromCharCode(...new Uint8Array(digest).slice(0, 8)))
      .replace(/=+$/, "")
      .replace(/\+/g, "-")
      .replace(/\//g, "_");
    expect(await keyId(NEW)).toBe(expected);
    expect(await keyId(NEW)).not.toBe(await keyId(OLD));
    expect(NEW).not.toContain(await keyId(NEW));
  });

  it("signs new tokens with TOKEN_SECRET only, and names it in the kid", async () => {
    const user = await makeUser("rot_sign");
    const token = await signUserToken(user, rotated);
    expect(headerOf(token).kid).toBe(await keyId(NEW));
    expect((await verifyUserToken(token, { current: NEW }, db)).ok).toBe(true);
    expect(await verifyUserToken(token, { current: OLD }, db)).toEqual({ ok: false, reason: "invalid" });
  });

  it("verifies a token signed under the previous secret while TOKEN_SECRET_PREVIOUS holds it, and not after", async () => {
    const user = await makeUser("rot_previous");
    const oldToken = await signUserToken(user, { current: OLD });
    expect((await verifyUserToken(oldToken, rotated, db)).ok).toBe(true);
    expect(await verifyUserToken(oldToken, { current: NEW }, db)).toEqual({ ok: false, reason: "invalid" });
  });

  it("refuses a token with no kid, or a kid no secret has, even when the signature is right", async () => {
    const user = await makeUser("rot_kid");
    const noKid = await handMade(user.id, { alg: "HS256" }, NEW);
    const unknownKid = await handMade(user.id, { alg: "HS256", kid: "not-a-key" }, NEW);
    const oldKidNewKey = await handMade(user.id, { alg: "HS256", kid: await keyId(OLD) }, NEW);
    for (const token of [noKid, unknownKid, oldKidNewKey]) {
      expect(await verifyUserToken(token, rotated, db)).toEqual({ ok: false, reason: "invalid" });
    }
    // The control: the same token with the right kid verifies.
    const right = await handMade(user.id, { alg: "HS256", kid: await keyId(NEW) }, NEW);
    expect((await verifyUserToken(right, rotated, db)).ok).toBe(true);
  });

  it('refuses alg "none" whichever kid it names', async () => {
    const user = await makeUser("rot_none");
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: String(user.id), aud: SOCKET_AUDIENCE, gen: 0, iat: now, exp: now + 3600 };
    for (const named of [NEW, OLD]) {
      const unsigned = `${base64url({ alg: "none", kid: await keyId(named) })}.${base64url(claims)}.`;
      expect(await verifyUserToken(unsigned, rotated, db)).toEqual({ ok: false, reason: "invalid" });
    }
  });
});
