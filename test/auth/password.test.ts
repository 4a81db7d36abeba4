import { describe, expect, it } from "vitest";
import { hashPassword, PBKDF2_ITERATIONS, verifyPassword } from "../../src/auth/password";

describe("password hashing (PBKDF2-SHA256)", () => {
  it("stores scheme, iterations, salt and hash, and verifies only the right password", async () => {
    const stored = await hashPassword("correct horse battery");
    expect(stored).toMatch(/^pbkdf2-sha256\$100000\$[A-Za-z0-9+/]+=*\$[A-Za-z0-9+/]+=*$/);
    expect(await verifyPassword("correct horse battery", stored)).toBe(true);
    expect(await verifyPassword("correct horse batterY", stored)).toBe(false);
    expect(await verifyPassword("", stored)).toBe(false);
  });

  it("salts every hash, so equal passwords hash differently", async () => {
    const [a, b] = await Promise.all([hashPassword("same password"), hashPassword("same password")]);
    expect(a).not.toBe(b);
  });

  it("uses 100,000 iterations, the most production Workers accept (local workerd does not enforce the cap)", () => {
    expect(PBKDF2_ITERATIONS).toBe(100_000);
  });

  it("verifies with the iteration count stored in the hash, and refuses counts above the cap", async () => {
    const salt = new Uint8Array(16);
    const key = await crypto.subtle.importKey("raw", new TextEncoder().encode("pw-123456"), "PBKDF2", false, [
      "deriveBits",
    ]);
    const stored = async (iterations: number) => {
      const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, key, 256);
      const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
      return `pbkdf2-sha256$${iterations}$${b64(salt)}$${b64(new Uint8Array(bits))}`;
    };
    expect(await verifyPassword("pw-123456", await stored(1000))).toBe(true);
    expect(await verifyPassword("pw-123456", await stored(PBKDF2_ITERATIONS + 1))).toBe(false);
  });

  it.each([
    ["empty", ""],
    ["another scheme", "bcrypt$10$abc$def"],
    ["missing parts", "pbkdf2-sha256$100000$abc"],
    ["bad iterations", "pbkdf2-sha256$many$AAAA$AAAA"],
    ["bad base64", "pbkdf2-sha256$1000$!!!$???"],
  ])("never matches a malformed stored value (%s)", async (_, stored) => {
    expect(await verifyPassword("anything", stored)).toBe(false);
  });
});
