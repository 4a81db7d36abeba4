/**
 * What a room knows of itself: its record (kind, title, owner) and its members with their roles, in its
 * own storage, so it decides every join, post and change without asking D1. Nothing is stored for a room
 * until it is created (or adopted from D1, for rooms from before rooms had owners).
 */
import type { Role, RoomKind } from "../../db/rooms";

export type { Role, RoomKind };

export interface RoomRecord {
  id: string;
  kind: RoomKind;
  title: string | null;
  /** Null for a direct message, whose two people are equals. */
  ownerId: number | null;
  /** Milliseconds since the epoch. */
  createdAt: number;
  dmPair: string | null;
  /** A direct message's two people by id, so each still sees who the other is after one of them left. */
  pairNames?: Record<string, string> | null;
}

export interface Member {
  userId: number;
  username: string;
  role: Role;
  /** Milliseconds since the epoch. */
  addedAt: number;
}

/** Higher acts on lower, never on equal or higher. */
export const RANK: Record<Role, number> = { member: 1, moderator: 2, owner: 3 };

const RECORD_KEY = "room";
/** Users whose membership D1 may not show yet (a mirror that failed), retried by the alarm. */
const UNMIRRORED_KEY = "unmirrored";
/** Set while D1 may not show the record's owner and title yet. */
const RECORD_UNMIRRORED_KEY = "recordUnmirrored";

interface MemberRow extends Record<string, SqlStorageValue> {
  user_id: number;
  username: string;
  role: string;
  added_at: number;
}

/** A membership change as the room's change stream tells it (type `member`): whom, and what they now are. */
export interface MemberChange {
  action: "added" | "role" | "removed";
  user: { id: number; username: string };
  /** Their role after it; absent once removed. */
  role?: Role;
}

export class Membership {
  #record: RoomRecord | null | undefined;
  #members: Map<number, Member> | undefined;
  #establishing = false;

  constructor(
    private readonly storage: DurableObjectStorage,
    /** Told of each change of who is in the room, or of their role (not of the room's first members). */
    private readonly changed: (change: MemberChange) => void = () => {},
  ) {}

  /** The room's record; undefined until the room is created. */
  get record(): RoomRecord | undefined {
    if (this.#record === undefined) this.#record = this.storage.kv.get<RoomRecord>(RECORD_KEY) ?? null;
    return this.#record ?? undefined;
  }

  /** Writes the record and the first members: the room exists from now on. */
  establish(record: RoomRecord, members: readonly Member[]): void {
    this.#createTable();
    this.storage.kv.put(RECORD_KEY, record);
    this.#record = record;
    this.#members = new Map();
    this.#establishing = true;
    try {
      for (const member of members) this.put(member);
    } finally {
      this.#establishing = false;
    }
  }

  updateRecord(patch: Partial<Pick<RoomRecord, "title" | "ownerId">>): RoomRecord {
    const record = this.record;
    if (!record) throw new Error("a room that does not exist has no record to update");
    const next = { ...record, ...patch };
    this.storage.kv.put(RECORD_KEY, next);
    this.storage.kv.put(RECORD_UNMIRRORED_KEY, true);
    this.#record = next;
    return next;
  }

  member(userId: number): Member | undefined {
    return this.#loaded().get(userId);
  }

  roleOf(userId: number): Role | undefined {
    return this.member(userId)?.role;
  }

  /** Everyone in the room, owner first, then moderators, then members, each by when they came. */
  all(): Member[] {
    return [...this.#loaded().values()].sort((a, b) => RANK[b.role] - RANK[a.role] || a.addedAt - b.addedAt);
  }

  put(member: Member): void {
    const before = this.#loaded().get(member.userId);
    this.storage.sql.exec(
      `INSERT INTO members (user_id, username, role, added_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (user_id) DO UPDATE SET username = excluded.username, role = excluded.role`,
      member.userId,
      member.username,
      member.role,
      member.addedAt,
    );
    this.#loaded().set(member.userId, member);
    this.#markUnmirrored([member.userId]);
    if (!this.#establishing && before?.role !== member.role) {
      const user = { id: member.userId, username: member.username };
      this.changed({ action: before ? "role" : "added", user, role: member.role });
    }
  }

  remove(userId: number): void {
    const before = this.#loaded().get(userId);
    this.storage.sql.exec("DELETE FROM members WHERE user_id = ?", userId);
    this.#loaded().delete(userId);
    this.#markUnmirrored([userId]);
    if (before) this.changed({ action: "removed", user: { id: userId, username: before.username } });
  }

  /** Users whose membership D1 has not been told of yet. */
  get unmirrored(): number[] {
    return this.storage.kv.get<number[]>(UNMIRRORED_KEY) ?? [];
  }

  /** The record's owner or title changed since D1 was last told. */
  get recordUnmirrored(): boolean {
    return this.storage.kv.get<boolean>(RECORD_UNMIRRORED_KEY) ?? false;
  }

  /** D1 now says what the room says of `userIds` (and of the record, when `record`). */
  mirrored(userIds: readonly number[], record = false): void {
    if (record) this.storage.kv.delete(RECORD_UNMIRRORED_KEY);
    const done = new Set(userIds);
    const left = this.unmirrored.filter((userId) => !done.has(userId));
    if (left.length === 0) this.storage.kv.delete(UNMIRRORED_KEY);
    else this.storage.kv.put(UNMIRRORED_KEY, left);
  }

  #markUnmirrored(userIds: readonly number[]): void {
    this.storage.kv.put(UNMIRRORED_KEY, [...new Set([...this.unmirrored, ...userIds])]);
  }

  #loaded(): Map<number, Member> {
    if (this.#members) return this.#members;
    const members = new Map<number, Member>();
    if (this.record) {
      for (const row of this.storage.sql.exec<MemberRow>("SELECT * FROM members")) {
        members.set(row.user_id, {
          userId: row.user_id,
          username: row.username,
          role: row.role as Role,
          addedAt: row.added_at,
        });
      }
    }
    this.#members = members;
    return members;
  }

  #createTable(): void {
    this.storage.sql.exec(`CREATE TABLE IF NOT EXISTS members (
      user_id INTEGER PRIMARY KEY, username TEXT NOT NULL, role TEXT NOT NULL, added_at INTEGER NOT NULL
    )`);
  }
}
