/**
 * A room's invite links: each a secret of 256 random bits, kept only as its SHA-256, with an expiry and a
 * use limit. Taking a use is one synchronous step in the room, so two people accepting the last use of a
 * link at once cannot both get in.
 */
import { encodeBase64 } from "../../auth/base64";

export interface Invite {
  /** Public: how owners and moderators name it to revoke it. */
  id: string;
  createdBy: number;
  /** Milliseconds since the epoch. */
  createdAt: number;
  expiresAt: number;
  maxUses: number;
  uses: number;
}

interface InviteRow extends Record<string, SqlStorageValue> {
  id: string;
  hash: string;
  created_by: number;
  created_at: number;
  expires_at: number;
  max_uses: number;
  uses: number;
}

export class Invites {
  #ready = false;

  constructor(private readonly storage: DurableObjectStorage) {}

  /** A new invite and its secret, which is shown once and never stored. */
  async create(createdBy: number, expiresAt: number, maxUses: number, now = Date.now()) {
    const secret = randomToken(32);
    const invite: Invite = { id: randomToken(9), createdBy, createdAt: now, expiresAt, maxUses, uses: 0 };
    const hash = await sha256(secret);
    this.#table().exec(
      "INSERT INTO invites (id, hash, created_by, created_at, expires_at, max_uses, uses) VALUES (?, ?, ?, ?, ?, ?, 0)",
      invite.id,
      hash,
      createdBy,
      now,
      expiresAt,
      maxUses,
    );
    return { invite, secret };
  }

  /** The invites that can still be used, newest first; the others are forgotten. */
  live(now = Date.now()): Invite[] {
    const sql = this.#table();
    sql.exec("DELETE FROM invites WHERE expires_at <= ? OR uses >= max_uses", now);
    return sql.exec<InviteRow>("SELECT * FROM invites ORDER BY created_at DESC").toArray().map(toInvite);
  }

  revoke(id: string): boolean {
    return this.#table().exec("DELETE FROM invites WHERE id = ?", id).rowsWritten > 0;
  }

  /** Takes one use of the invite whose secret this is; false if there is none that is still good. */
  async use(secret: string, now = Date.now()): Promise<boolean> {
    const hash = await sha256(secret);
    // From here on nothing awaits: the check and the use are one step.
    const row = this.#table().exec<InviteRow>("SELECT * FROM invites WHERE hash = ?", hash).toArray()[0];
    if (!row || row.expires_at <= now || row.uses >= row.max_uses) return false;
    this.#table().exec("UPDATE invites SET uses = uses + 1 WHERE id = ?", row.id);
    return true;
  }

  #table(): SqlStorage {
    if (!this.#ready) {
      this.storage.sql.exec(`CREATE TABLE IF NOT EXISTS invites (
        id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE, created_by INTEGER NOT NULL, created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL, max_uses INTEGER NOT NULL, uses INTEGER NOT NULL
      )`);
      this.#ready = true;
    }
    return this.storage.sql;
  }
}

function toInvite(row: InviteRow): Invite {
  return {
    id: row.id,
    createdBy: row.created_by,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    maxUses: row.max_uses,
    uses: row.uses,
  };
}

function randomToken(bytes: number): string {
  return encodeBase64(crypto.getRandomValues(new Uint8Array(bytes)))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}
