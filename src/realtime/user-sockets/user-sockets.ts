/**
 * UserSockets: every socket a user has open, in any room (what Phoenix's socket `id`, "users_socket:ID",
 * is for). It caps them, a slot per socket, and ends them all at logout. It also knows which of those
 * sockets joined their `user:ID` topic (a watch on the slot), and sends their holders each `read_state`.
 * One object serves a block of USERS_PER_OBJECT users (client.ts), so a connect usually finds it awake;
 * why, and how lost slots are found: docs/architecture.md#the-three-durable-objects.
 */
import { DurableObject } from "cloudflare:workers";
import { configOf } from "../../config";
import { createDatabase } from "../../db/client";
import { readStates } from "../../db/read-states";
import { logError } from "../../log";
import type { RoomReadState } from "../../shared/user-contract";
import { isRevoked, rememberRevocation, revokedBelow, usersWithRevocations } from "../access/remembered-revocations";
import { roomStub } from "../room/client";
import { RateLimits } from "../room/rate-limit";
import { sessionStub } from "../session/client";
import { guardedAlarm } from "../shell/guarded-alarm";
import { type Lease, PostAllowances } from "./allowance";
import {
  type OpenResult,
  type ReadStatePush,
  readSlotHolder,
  type SlotHolder,
  type SlotRequest,
  type SocketHolder,
  type WatchAnswer,
} from "./client";

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
  /** Joins of each user's `user:ID`, on all their sockets: the room's join allowance, per user (in memory). */
  #userTopicJoins: RateLimits | undefined;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // `watch`: the id of the socket's current join of its `user:ID` topic, null while it has none. Kept on
    // the slot, so a watch ends with its socket whichever way the slot goes (released, revoked, reconciled).
    ctx.storage.sql.exec(
      `CREATE TABLE IF NOT EXISTS slots (
        id TEXT PRIMARY KEY, user_id INTEGER NOT NULL, holder TEXT NOT NULL, generation INTEGER NOT NULL,
        opened_at INTEGER NOT NULL, watch TEXT
      )`,
    );
    // A table made before the user topic has no `watch` yet.
    const columns = ctx.storage.sql.exec<{ name: string }>("PRAGMA table_info(slots)").toArray();
    if (!columns.some(({ name }) => name === "watch")) ctx.storage.sql.exec("ALTER TABLE slots ADD COLUMN watch TEXT");
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

  /**
   * The socket holding `slot` joined `user:ID` as `watch` (client.ts `watchUserTopic`): its holder is sent
   * the user's `read_state`s from now on. Answers the user's counts, read after the watch is in place, so a
   * change D1 takes after this read is pushed.
   */
  async watch(userId: number, slot: string, watch: string): Promise<WatchAnswer> {
    if (!this.#userTopicJoins) {
      const { joinsPerMinute, joinsBurst } = configOf(this.env).roomLimits;
      this.#userTopicJoins = new RateLimits({ perSecond: joinsPerMinute / 60, burst: joinsBurst });
    }
    const taken = this.#userTopicJoins.take(userId);
    if (!taken.ok) return { ok: false, reason: "rate_limited", retryAfterMs: taken.retryAfterMs };
    const watching = this.ctx.storage.sql
      .exec("UPDATE slots SET watch = ? WHERE id = ? AND user_id = ? RETURNING id", watch, slot, userId)
      .toArray();
    if (watching.length === 0) return { ok: false, reason: "gone" };
    try {
      const states = await readStates(createDatabase(this.env.DB), { userIds: [userId] });
      return {
        ok: true,
        rooms: states.map(({ room, last_read_id, unread, mentions }) => ({ room, last_read_id, unread, mentions })),
      };
    } catch (problem) {
      this.#unwatch(slot, watch); // the join fails: nothing is watched for it
      throw problem;
    }
  }

  /** The socket holding `slot` left `user:ID` (the join `watch`); a later join's watch stays. */
  async unwatch(slot: string, watch: string): Promise<void> {
    this.#unwatch(slot, watch);
  }

  /**
   * `room`'s counts for these users of this block may have changed (D1 has the change): pushes each watched
   * one their `read_state`, through each holder of a watching socket. One D1 query for all of them, none
   * when nobody among them watches; a user who may not read the room any more gets `last_read_id: null`.
   */
  async readStatesChanged(room: string, userIds: number[]): Promise<void> {
    const watches = this.ctx.storage.sql
      .exec<{ id: string; user_id: number; holder: string; watch: string }>(
        `SELECT id, user_id, holder, watch FROM slots
         WHERE watch IS NOT NULL AND user_id IN (SELECT value FROM json_each(?))`,
        JSON.stringify(userIds),
      )
      .toArray();
    if (watches.length === 0) return;
    const watched = [...new Set(watches.map(({ user_id }) => user_id))];
    const found = await readStates(createDatabase(this.env.DB), { userIds: watched, rooms: [room] });
    const states = new Map<number, RoomReadState>();
    for (const { user_id, last_read_id, unread, mentions } of found)
      states.set(user_id, { room, last_read_id, unread, mentions });

    const byHolder = new Map<string, typeof watches>();
    for (const row of watches) byHolder.set(row.holder, [...(byHolder.get(row.holder) ?? []), row]);
    await Promise.all(
      [...byHolder].map(async ([holder, rows]) => {
        const users = [...new Set(rows.map(({ user_id }) => user_id))];
        // Absent from what D1 found: the user may not read the room any more (removed, banned).
        const pushes: ReadStatePush[] = users.map((userId) => ({
          userId,
          state: states.get(userId) ?? lostAccess(room),
        }));
        let taken: Set<string>;
        try {
          taken = new Set(await holderStub(this.env, holder).pushReadStates(pushes));
        } catch (problem) {
          logError(`UserSockets:read states ${holder}`, problem);
          return; // kept: the holder may still have the sockets, and the next change asks again
        }
        // The holder no longer has these sockets on the topic (left, or gone without a word): stop watching.
        for (const { id, watch } of rows) if (!taken.has(watch)) this.#unwatch(id, watch);
      }),
    );
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

  #unwatch(slot: string, watch: string): void {
    this.ctx.storage.sql.exec("UPDATE slots SET watch = NULL WHERE id = ? AND watch = ?", slot, watch);
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

/** What a watched user who may no longer read `room` is told: it is not theirs to count any more. */
function lostAccess(room: string): RoomReadState {
  return { room, last_read_id: null, unread: 0, mentions: 0 };
}

function holderStub(env: Env, holder: string): SocketHolder {
  const named = readSlotHolder(holder);
  return named.kind === "room" ? roomStub(env, named.name) : sessionStub(env, named.id);
}
