/**
 * Each person's read position in the room (the id of the last post they have read; 0: none): the room is
 * its authority, as it is of its posts. Kept in the room's own SQLite (durable before the answer leaves)
 * and in memory, with the positions D1 does not have yet marked, which the room's group commit copies
 * (post-log.ts) and D1 counts from (src/db/read-states.ts). A position is made when someone becomes a
 * member or first joins the channel, at the room's last seq, so nothing said before they came is unread;
 * it is never deleted (D1's counts hide a room its holder may no longer read).
 */
import type { ReadPosition } from "../../db/read-states";

export type { ReadPosition } from "../../db/read-states";

/** Positions per D1 copy at most: each is a few dozen characters of the copy's one JSON parameter. */
export const POSITIONS_PER_COPY = 500;

/** One person's position, as the room holds it. */
export interface Holder {
  userId: number;
  /** Their username, so the mentions of an edit can be matched to the people they change counts for. */
  username: string;
  lastReadId: number;
  /** When the room last moved it (ms since the epoch). */
  at: number;
}

/** A position as it was read from D1, for a room from before rooms kept positions (see {@link ReadPositions.ready}). */
export type StoredPosition = Holder;

interface Row extends Record<string, SqlStorageValue> {
  user_id: number;
  username: string;
  last_read_id: number;
  at: number;
  dirty: number;
}

/** Set once the room holds every position D1 had for it (or there was nothing to take over). */
const IMPORTED_KEY = "readPositionsImported";
/** Set while some position is not in D1 yet, so a woken room knows without reading the table. */
const DIRTY_KEY = "readPositionsDirty";

export class ReadPositions {
  #byUser: Map<number, Holder> | undefined;
  /** Lower-cased username → user id, for the holders. */
  readonly #byName = new Map<string, number>();
  /** Positions D1 does not have yet (as the `dirty` column says). */
  readonly #dirty = new Set<number>();
  #importing: Promise<void> | undefined;
  #imported = false;
  /** This instance has stored DIRTY_KEY since the key was last deleted (so each move need not write it). */
  #dirtyKeyStored = false;

  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly options: {
      /** D1's positions of this room, read once for a room from before the room kept them. */
      readStored(): Promise<StoredPosition[]>;
      /** A position now differs from D1's: the group commit should run. */
      changed(): void;
      log(where: string, problem: unknown): void;
      /**
       * Runs the write of the position a first join makes a little later, with the others that come
       * meanwhile (write-turns.ts), so a burst of first joins shares one commit. The position is in memory
       * (and answered) before its row is written; were the room to stop before, the next join makes it
       * again. Absent, it is written at once.
       */
      defer?(write: () => void): void;
    },
  ) {}

  /**
   * Resolves once the room holds every position D1 had of it: a room from before positions lived here
   * takes D1's over once (members were given theirs when D1 got the table), so they keep what they had not
   * read yet. A position the room made meanwhile wins. A failed read is logged and tried again next time;
   * meanwhile the room goes on with what it has.
   */
  ready(): Promise<void> {
    // Asked at every join: remembered once true (it never turns false), as a storage read each time cost a
    // burst of joins a few percent of its time.
    if (this.#imported) return Promise.resolve();
    if (this.storage.kv.get<boolean>(IMPORTED_KEY)) {
      this.#imported = true;
      return Promise.resolve();
    }
    this.#importing ??= this.options
      .readStored()
      .then((stored) => {
        const holders = this.#loaded();
        for (const position of stored) {
          if (holders.has(position.userId)) continue;
          this.#write(position, false);
        }
        this.storage.kv.put(IMPORTED_KEY, true);
      })
      .catch((problem) => this.options.log("ReadPositions:take over D1's positions", problem))
      .finally(() => {
        this.#importing = undefined;
      });
    return this.#importing;
  }

  /** A new room has nothing in D1 to take over. */
  startedEmpty(): void {
    this.#loaded();
    this.storage.kv.put(IMPORTED_KEY, true);
  }

  /** `userId`'s position, if they have one. */
  get(userId: number): number | undefined {
    return this.#loaded().get(userId)?.lastReadId;
  }

  /** `userId`'s position as D1 takes it, if they have one. */
  positionOf(userId: number): ReadPosition | undefined {
    const held = this.#loaded().get(userId);
    return held && { userId, lastReadId: held.lastReadId, at: held.at };
  }

  /** The user id of the holder called `name` (any case), if any. */
  userNamed(name: string): number | undefined {
    this.#loaded();
    return this.#byName.get(name.toLowerCase());
  }

  /** Everyone with a position here. */
  holders(): Iterable<Holder> {
    return this.#loaded().values();
  }

  /** `user`'s position, made at `lastSeq` if they have none (their first join, or becoming a member). */
  arrive(user: { id: number; username: string }, lastSeq: number): number {
    const held = this.#loaded().get(user.id);
    if (held) return held.lastReadId;
    return this.#move(user, lastSeq, true);
  }

  /**
   * Someone who could not read the room before (added to a private room, or a direct message opened again):
   * nothing said before they came is news to them, so a position kept from an earlier membership moves up.
   */
  admitted(user: { id: number; username: string }, lastSeq: number): number {
    const held = this.#loaded().get(user.id);
    if (held && held.lastReadId >= lastSeq) return held.lastReadId;
    return this.#move(user, lastSeq);
  }

  /** `mark_read`: forward only, so two tabs end at the furthest either has read. Answers the position. */
  markRead(user: { id: number; username: string }, upToId: number): number {
    const held = this.#loaded().get(user.id);
    if (held && held.lastReadId >= upToId) return held.lastReadId;
    return this.#move(user, upToId);
  }

  /** `mark_unread`: the post `fromId` and everything after it are unread again (back, or forward). */
  markUnread(user: { id: number; username: string }, fromId: number): number {
    const held = this.#loaded().get(user.id);
    if (held && held.lastReadId === fromId - 1) return held.lastReadId;
    return this.#move(user, fromId - 1);
  }

  /** Some position is not in D1 yet (read without loading the table, for a room that just woke). */
  get pending(): boolean {
    return this.#byUser ? this.#dirty.size > 0 : (this.storage.kv.get<boolean>(DIRTY_KEY) ?? false);
  }

  /** Up to {@link POSITIONS_PER_COPY} positions D1 does not have yet, as they are now. */
  toCopy(): ReadPosition[] {
    const holders = this.#loaded();
    const positions: ReadPosition[] = [];
    for (const userId of this.#dirty) {
      const held = holders.get(userId);
      if (held) positions.push({ userId, lastReadId: held.lastReadId, at: held.at });
      if (positions.length === POSITIONS_PER_COPY) break;
    }
    return positions;
  }

  /** D1 has these positions now; one that moved since it was taken stays to be copied. */
  copied(positions: readonly ReadPosition[]): void {
    const holders = this.#loaded();
    const clean: number[] = [];
    for (const position of positions) {
      const held = holders.get(position.userId);
      if (!held || held.lastReadId !== position.lastReadId || held.at !== position.at) continue;
      clean.push(position.userId);
      this.#dirty.delete(position.userId);
    }
    // One statement for the whole copy, not one per position.
    if (clean.length > 0) {
      this.storage.sql.exec(
        "UPDATE read_positions SET dirty = 0 WHERE user_id IN (SELECT value FROM json_each(?))",
        JSON.stringify(clean),
      );
    }
    if (this.#dirty.size === 0) {
      this.storage.kv.delete(DIRTY_KEY);
      this.#dirtyKeyStored = false;
    }
  }

  /**
   * Moves a position in memory and stores it: at once, durable before its answer (`mark_read`,
   * `mark_unread`, a membership that moves an older position up), or a little later for a position a first
   * join makes (`deferrable`: none was stored before, and were the room to stop first, the next join would
   * make it again), so that a burst of first joins shares one commit.
   */
  #move(user: { id: number; username: string }, lastReadId: number, deferrable = false): number {
    const held = this.#loaded().get(user.id);
    // Two moves in one millisecond must still tell a copy taken between them from the position now.
    const at = Math.max(Date.now(), (held?.at ?? 0) + 1);
    const holder = { userId: user.id, username: user.username, lastReadId, at };
    this.#remember(holder);
    this.#dirty.add(holder.userId);
    const store = () => {
      // Moved again meanwhile: the later move's own write stores it. Copied meanwhile: stored clean.
      if (this.#byUser?.get(holder.userId) === holder) this.#store(holder, this.#dirty.has(holder.userId));
    };
    if (deferrable && this.options.defer) this.options.defer(store);
    else store();
    this.options.changed();
    return lastReadId;
  }

  #write(holder: Holder, dirty: boolean): void {
    this.#remember(holder);
    if (dirty) this.#dirty.add(holder.userId);
    this.#store(holder, dirty);
  }

  /** The holder's row, and the key that tells a woken room some row is dirty. */
  #store(holder: Holder, dirty: boolean): void {
    this.storage.sql.exec(
      `INSERT INTO read_positions (user_id, username, last_read_id, at, dirty) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (user_id) DO UPDATE SET username = excluded.username, last_read_id = excluded.last_read_id,
         at = excluded.at, dirty = excluded.dirty`,
      holder.userId,
      holder.username,
      holder.lastReadId,
      holder.at,
      dirty ? 1 : 0,
    );
    if (dirty && !this.#dirtyKeyStored) {
      this.storage.kv.put(DIRTY_KEY, true);
      this.#dirtyKeyStored = true;
    }
  }

  #remember(holder: Holder): void {
    this.#byUser?.set(holder.userId, holder);
    this.#byName.set(holder.username.toLowerCase(), holder.userId);
  }

  #loaded(): Map<number, Holder> {
    if (this.#byUser) return this.#byUser;
    this.storage.sql.exec(`CREATE TABLE IF NOT EXISTS read_positions (
      user_id INTEGER PRIMARY KEY, username TEXT NOT NULL, last_read_id INTEGER NOT NULL, at INTEGER NOT NULL,
      dirty INTEGER NOT NULL DEFAULT 0
    )`);
    this.#byUser = new Map();
    for (const row of this.storage.sql.exec<Row>("SELECT * FROM read_positions")) {
      this.#remember({ userId: row.user_id, username: row.username, lastReadId: row.last_read_id, at: row.at });
      if (row.dirty) this.#dirty.add(row.user_id);
    }
    return this.#byUser;
  }
}
