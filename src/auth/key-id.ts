/**
 * A signing secret's key id (`kid` in every token's header), on its own with no imports so that the
 * benchmark's load generator, a plain Node process, signs tokens with the very same code.
 */

/** Each secret's kid, computed once per secret value (a Worker sees one or two). */
const keyIds = new Map<string, Promise<string>>();

/**
 * The first 8 bytes of SHA-256 over a label and the secret, base64url (11 characters). It names the key
 * without revealing it: 64 bits of a hash say nothing useful about a 32-character secret.
 */
export function keyId(secret: string): Promise<string> {
  let id = keyIds.get(secret);
  if (id === undefined) {
    id = crypto.subtle.digest("SHA-256", new TextEncoder().encode(`pyre token key id\0${secret}`)).then((digest) =>
      btoa(String.fromCharCode(...new Uint8Array(digest).slice(0, 8)))
        .replace(/=+$/, "")
        .replace(/\+/g, "-")
        .replace(/\//g, "_"),
    );
    keyIds.set(secret, id);
  }
  return id;
}
