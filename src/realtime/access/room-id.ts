/**
 * Private room ids the server can recognise without a lookup: 16 random bytes and a tag (HMAC-SHA256 under
 * a key derived from TOKEN_SECRET), so an id nobody minted never reaches a Durable Object or makes storage.
 */
import { decodeBase64, encodeBase64 } from "../../auth/base64";
import { readTokenSecrets } from "../../auth/secret";
import { createDatabase } from "../../db/client";
import { roomRow } from "../../db/rooms";
import { isPrivateRoomId, isRoomName } from "../../shared/rooms";

const RANDOM_BYTES = 16;
const TAG_BYTES = 9;
const keys = new Map<string, Promise<CryptoKey>>();

/** A new private room id, tagged under the current TOKEN_SECRET. */
export async function mintPrivateRoomId(env: Env): Promise<string> {
  const [current] = secretsOf(env);
  if (current === undefined) throw new Error("TOKEN_SECRET is missing: no private room id can be minted");
  const random = crypto.getRandomValues(new Uint8Array(RANDOM_BYTES));
  const tag = await tagOf(current, random);
  return `~${base64url(new Uint8Array([...random, ...tag]))}`;
}

/**
 * Whether `id` is a private room id this server minted, under TOKEN_SECRET or TOKEN_SECRET_PREVIOUS. An id
 * minted under a secret since retired is not recognised here; callers that must know ask D1 (`rooms`).
 */
export async function isMintedRoomId(env: Env, id: string): Promise<boolean> {
  if (!isPrivateRoomId(id)) return false;
  const bytes = decodeBase64(id.slice(1));
  if (!bytes || bytes.byteLength !== RANDOM_BYTES + TAG_BYTES) return false;
  const random = bytes.subarray(0, RANDOM_BYTES);
  const tag = bytes.subarray(RANDOM_BYTES);
  for (const secret of secretsOf(env)) {
    if (equalBytes(await tagOf(secret, random), tag)) return true;
  }
  return false;
}

/**
 * Whether a request for room `id` may reach its Durable Object: any public room name (a room nobody
 * created makes no storage there), and private ids this server minted: tagged under a current secret, or
 * (minted under a secret since retired) found in D1. Anything else never creates an object.
 */
export async function isKnownRoomId(env: Env, id: string): Promise<boolean> {
  if (isRoomName(id)) return true;
  if (!isPrivateRoomId(id)) return false;
  if (await isMintedRoomId(env, id)) return true;
  return (await roomRow(createDatabase(env.DB), id)) !== undefined;
}

function secretsOf(env: Env & { TOKEN_SECRET_PREVIOUS?: string }): string[] {
  const read = readTokenSecrets(env.TOKEN_SECRET, env.TOKEN_SECRET_PREVIOUS);
  if (!read.ok) return [];
  return read.secrets.previous ? [read.secrets.current, read.secrets.previous] : [read.secrets.current];
}

async function tagOf(secret: string, random: Uint8Array): Promise<Uint8Array> {
  const mac = await crypto.subtle.sign("HMAC", await keyFor(secret), random);
  return new Uint8Array(mac).subarray(0, TAG_BYTES);
}

/** A key of its own for room ids (HKDF from the secret), so a room id's tag can never pass as a token's. */
function keyFor(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    key = (async () => {
      const base = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), "HKDF", false, ["deriveKey"]);
      return crypto.subtle.deriveKey(
        { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(), info: new TextEncoder().encode("pyre room id") },
        base,
        { name: "HMAC", hash: "SHA-256", length: 256 },
        false,
        ["sign"],
      );
    })();
    keys.set(secret, key);
  }
  return key;
}

function base64url(bytes: Uint8Array): string {
  return encodeBase64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Compares in time independent of where the bytes differ. */
function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  let difference = 0;
  for (let i = 0; i < a.byteLength; i++) difference |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return difference === 0;
}
