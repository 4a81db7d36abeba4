/**
 * UserSockets: every socket a user has open, in any room (what Phoenix's socket `id`, "users_socket:ID",
 * is for). It caps them, a slot per socket, and ends them all at logout. One object serves a block of
 * USERS_PER_OBJECT users (client.ts), so a connect usually finds it awake; why, and how lost slots are
 * found: docs/architecture.md#the-three-durable-objects.
 */
import { DurableObject } from "cloudflare:workers";
import { configOf } from "../../config";
import { logError } from "../../log";
import { isRevoked, rememberRevocation, revokedBelow, usersWithRevocations } from "../access/remembered-revocations";
import { roomStub } from "../room/client";
import { sessionStub } from "../session/client";
import { guardedAlarm } from "../shell/guarded-alarm";
import { type Lease, PostAllowances } from "./allowance";
import { type OpenResult, readSlotHolder, type SlotHolder, type SlotRequest, type SocketHolder } from "./client";

/** How soon a holder that did not answer a revocation is asked again. */
const REVOKE_RETRY_MS = 5_000;

/** A slot younger than this may still be on its way to its holder, so a reconciliation leaves it alone. */
const RECONCILE_MIN_AGE_MS = 10_000;

/** A slot's row, as written. */
interface SlotRow {
  id: string;
  user_id: number;
  holder: string;
  generation: number;
  opened_at: number;
}

export class UserSockets extends DurableObject<Env> {
  /**
   * Each user's slots that count, read from storage once per wake and kept in step after: a connect then
   * costs one INSERT, not a count query too. Dropped (and read again) when a revocation or reconciliation
   * changes which slots count.
   */
  #counts: Map<number, number> | undefined;
  #allowances: PostAllowances | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(
      `CREATE TABLE IF NOT EXISTS slots (
        id TEXT PRIMARY KEY, user_id INTEGER NOT NULL, holder TEXT NOT NULL, generation INTEGER NOT NULL,
        opened_at INTEGER NOT NULL
      )`,
    );
    ctx.storage.sql.exec("CREATE INDEX IF NOT EXISTS slots_user ON slots (user_id, opened_at)");
  }

  /** A slot for a new socket of token generation `generation`, held by `holder`; refused at the cap or if revoked. */
  async open(userId: number, generation: number, holder: SlotHolder): Promise<OpenResult> {
    const [result] = await this.openMany([{ userId, generation, holder }]);
    if (!result) throw new Error("no answer to a slot request");
    return result;
  }

  /**
   * Slots for several sockets at once (a room's admissions that arrived together, client.ts `SlotBatches`),
   * each decided in turn as if alone: one call, and their rows in one statement.
   */
  async openMany(requests: SlotRequest[]): Promise<OpenResult[]> {
    const limit = configOf(this.env).roomLimits.socketsPerUser;
    const results: OpenResult[] = [];
    const granted: SlotRow[] = [];
    for (const { userId, generation, holder } of requests) {
      if (isRevoked(this.ctx.storage, userId, generation)) {
        results.push({ ok: false, reason: "revoked" });
        continue;
      }
      if (this.#count(userId) >= limit) {
        // The reconciliation reads the table: what this call granted so far goes in first.
        this.#insert(granted.splice(0));
        await this.#reconcile(userId);
        // Checked again after the await: revocation or other opens may have landed meanwhile.
        if (isRevoked(this.ctx.storage, userId, generation)) {
          results.push({ ok: false, reason: "revoked" });
          continue;
        }
      }
      if (this.#count(userId) >= limit) {
        results.push({ ok: false, reason: "limit", limit });
        continue;
      }
      const slot = crypto.randomUUID();
      granted.push({ id: slot, user_id: userId, holder, generation, opened_at: Date.now() });
      this.#recount(userId, +1);
      results.push({ ok: true, slot });
    }
    this.#insert(granted);
    return results;
  }

  /** Writes slots in one statement, however many (one JSON parameter, turned back into rows by `json_each`). */
  #insert(rows: SlotRow[]): void {
    if (rows.length === 0) return;
    try {
      this.ctx.storage.sql.exec(
        `INSERT INTO slots (id, user_id, holder, generation, opened_at)
         SELECT value ->> 'id', value ->> 'user_id', value ->> 'holder', value ->> 'generation', value ->> 'opened_at'
         FROM json_each(?)`,
        JSON.stringify(rows),
      );
    } catch (problem) {
      // They were counted already: the counts are read again from what the table holds.
      this.#counts = undefined;
      throw problem;
    }
  }

  /**
   * A few posts from `userId`'s allowance across rooms, for a room's slice (allowance.ts). Kept in memory:
   * this object is evicted only after sitting idle, by when a bucket has refilled anyway.
   */
  async leasePosts(userId: number): Promise<Lease> {
    if (!this.#allowances) {
      const { userPostsPerSecond, userPostsBurst } = configOf(this.env).roomLimits;
      this.#allowances = new PostAllowances({ perSecond: userPostsPerSecond, burst: userPostsBurst });
    }
    return this.#allowances.lease(userId);
  }

  /** The socket holding `slot` has ended. */
  async close(slot: string): Promise<void> {
    const [ended] = this.ctx.storage.sql
      .exec<{ user_id: number; generation: number }>(
        "DELETE FROM slots WHERE id = ? RETURNING user_id, generation",
        slot,
      )
      .toArray();
    if (ended && !isRevoked(this.ctx.storage, ended.user_id, ended.generation)) this.#recount(ended.user_id, -1);
  }

  /**
   * Tokens of generations below `validFrom` are revoked: ends their sockets everywhere and refuses new ones.
   * Resolves once every holder has closed them; a holder that could not be reached keeps its slots here and
   * is asked again by an alarm until it answers, so a revocation is never forgotten half done.
   */
  async revoke(userId: number, validFrom: number): Promise<{ ended: boolean }> {
    rememberRevocation(this.ctx.storage, userId, validFrom);
    this.#counts = undefined; // the user's older slots stop counting
    const ended = await this.#endRevokedSlots(userId);
    if (!ended) await this.ctx.storage.setAlarm(Date.now() + REVOKE_RETRY_MS);
    return { ended };
  }

  /** Asks again the holders that did not answer a revocation. */
  override async alarm(): Promise<void> {
    await guardedAlarm(
      "UserSockets:alarm",
      async () => {
        let ended = true;
        for (const userId of usersWithRevocations(this.ctx.storage))
          ended = (await this.#endRevokedSlots(userId)) && ended;
        if (!ended) await this.ctx.storage.setAlarm(Date.now() + REVOKE_RETRY_MS);
      },
      logError,
    );
  }

  /** Tells each holder of `userId`'s revoked slots to close them; forgets the slots of those that did. */
  async #endRevokedSlots(userId: number): Promise<boolean> {
    const validFrom = revokedBelow(this.ctx.storage, userId);
    const revoked = "FROM slots WHERE user_id = ? AND generation < ?";
    const holders = this.ctx.storage.sql
      .exec<{ holder: string }>(`SELECT DISTINCT holder ${revoked}`, userId, validFrom)
      .toArray();
    const answered = await Promise.all(
      holders.map(async ({ holder }) => {
        try {
          await holderStub(this.env, holder).endUserSockets(userId, validFrom);
          this.ctx.storage.sql.exec(`DELETE ${revoked} AND holder = ?`, userId, validFrom, holder);
          return true;
        } catch (problem) {
          logError(`UserSockets:revoke ${holder}`, problem);
          return false;
        }
      }),
    );
    return answered.every(Boolean);
  }

  /** The user's slots that count: revoked ones still waiting for their holder to close them do not. */
  #count(userId: number): number {
    if (this.#counts === undefined) {
      const counts = new Map<number, number>();
      const rows = this.ctx.storage.sql.exec<{ user_id: number; generation: number; n: number }>(
        "SELECT user_id, generation, count(*) AS n FROM slots GROUP BY user_id, generation",
      );
      for (const { user_id, generation, n } of rows)
        if (!isRevoked(this.ctx.storage, user_id, generation)) counts.set(user_id, (counts.get(user_id) ?? 0) + n);
      this.#counts = counts;
    }
    return this.#counts.get(userId) ?? 0;
  }

  #recount(userId: number, change: 1 | -1): void {
    if (this.#counts === undefined) return; // read whole at the next count
    const count = (this.#counts.get(userId) ?? 0) + change;
    if (count > 0) this.#counts.set(userId, count);
    else this.#counts.delete(userId);
  }

  /** Asks each holder of older slots which it still holds, and frees the rest. */
  async #reconcile(userId: number): Promise<void> {
    const settledBefore = Date.now() - RECONCILE_MIN_AGE_MS;
    const rows = this.ctx.storage.sql
      .exec<{ id: string; holder: string }>(
        "SELECT id, holder FROM slots WHERE user_id = ? AND opened_at < ?",
        userId,
        settledBefore,
      )
      .toArray();
    const byHolder = new Map<string, string[]>();
    for (const { id, holder } of rows) byHolder.set(holder, [...(byHolder.get(holder) ?? []), id]);
    await Promise.all(
      [...byHolder].map(async ([holder, slots]) => {
        let live: Set<string>;
        try {
          live = new Set(await holderStub(this.env, holder).liveSlots(userId));
        } catch (problem) {
          logError(`UserSockets:reconcile ${holder}`, problem);
          return; // keep its slots: better to refuse a socket than to exceed the cap on a guess
        }
        for (const slot of slots)
          if (!live.has(slot)) this.ctx.storage.sql.exec("DELETE FROM slots WHERE id = ?", slot);
        this.#counts = undefined;
      }),
    );
  }
}

function holderStub(env: Env, holder: string): SocketHolder {
  const named = readSlotHolder(holder);
  return named.kind === "room" ? roomStub(env, named.name) : sessionStub(env, named.id);
}
