/**
 * Whose unread or mention counts in this room a D1 commit may have changed, told to their UserSockets
 * (`readStatesChanged`), which push the new counts to the tabs watching `user:ID`. Decided from what each
 * commit carried, never per member per post: a new post changes every holder's count but its author's; a
 * deletion those who had not read up to it; an edit the counts of those its old or new text mentions; a
 * moved position its holder's; a membership or ban mirrored to D1 its person's (a room they may no longer
 * read vanishes from their counts). Grouped and throttled: at most one notice a second per room, the first
 * after a quiet second at once, so counts reach other tabs within two seconds.
 */
import type { Logged } from "../../db/posts";
import { mentionedNames } from "../../shared/mentions";
import type { Post } from "../../shared/post";
import type { Holder, ReadPosition } from "./read-positions";

/** What the notices need of the room's read positions (read-positions.ts's `ReadPositions`). */
export interface PositionHolders {
  holders(): Iterable<Holder>;
  get(userId: number): number | undefined;
  userNamed(name: string): number | undefined;
}

/** At most one notice per this many milliseconds per room. */
export const NOTICE_INTERVAL_MS = 1_000;

/** Edits whose earlier text is remembered until their commit (a room that is evicted meanwhile forgets). */
const EDITS_REMEMBERED = 1_000;

export class ReadStateNotices {
  /** Users told by name (positions, deletions, edits, access). */
  readonly #users = new Set<number>();
  /** Authors of the new posts since the last notice: a sole author's own posts change nobody's count of theirs. */
  readonly #authors = new Set<number>();
  #newPosts = false;
  #lastAt = Number.NEGATIVE_INFINITY;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** The names an edited post's earlier text mentioned, by the edit's seq, until the edit is committed. */
  readonly #earlierMentions = new Map<number, string[]>();

  constructor(
    private readonly positions: PositionHolders,
    private readonly options: {
      /** Whether `userId` may read the room now: a post's, an edit's or a deletion's notice goes only to those who may. */
      mayRead(userId: number): boolean;
      /** Tells the users' UserSockets; never rejects. */
      send(userIds: number[]): Promise<void>;
      intervalMs?: number;
    },
  ) {}

  /** An edit (numbered `seq`) was logged over `previous`: whom its text mentioned counts too, once committed. */
  edited(seq: number, previous: Post): void {
    const names = mentionedNames(previous.message);
    if (names.length === 0) return;
    this.#earlierMentions.set(seq, names);
    const oldest = this.#earlierMentions.keys().next();
    if (this.#earlierMentions.size > EDITS_REMEMBERED && !oldest.done) this.#earlierMentions.delete(oldest.value);
  }

  /** D1 took this commit: the room's entries in it and the positions it carried. */
  committed(logged: readonly Logged[], positions: readonly ReadPosition[]): void {
    for (const entry of logged) {
      if ("post" in entry) {
        this.#newPosts = true;
        this.#authors.add(entry.post.user.id);
        continue;
      }
      const { change } = entry;
      const post = change.post;
      if (!post) continue;
      if (change.type === "delete") {
        for (const holder of this.positions.holders()) {
          if (holder.lastReadId < post.id && holder.userId !== post.user.id && this.options.mayRead(holder.userId)) {
            this.#users.add(holder.userId);
          }
        }
      } else if (change.type === "edit") {
        const names = new Set([...mentionedNames(post.message), ...(this.#earlierMentions.get(change.seq) ?? [])]);
        this.#earlierMentions.delete(change.seq);
        for (const name of names) {
          const userId = this.positions.userNamed(name);
          const position = userId === undefined ? undefined : this.positions.get(userId);
          const concerned = userId !== undefined && userId !== post.user.id && this.options.mayRead(userId);
          if (concerned && position !== undefined && position < post.id) {
            this.#users.add(userId);
          }
        }
      }
    }
    for (const { userId } of positions) this.#users.add(userId);
    this.#schedule();
  }

  /** D1 now says what the room says of these people's membership or ban. */
  accessChanged(userIds: readonly number[]): void {
    for (const userId of userIds) this.#users.add(userId);
    this.#schedule();
  }

  #schedule(): void {
    if (this.#timer !== undefined || (this.#users.size === 0 && !this.#newPosts)) return;
    const wait = this.#lastAt + (this.options.intervalMs ?? NOTICE_INTERVAL_MS) - Date.now();
    if (wait <= 0) this.#flush();
    else this.#timer = setTimeout(() => this.#flush(), wait);
  }

  #flush(): void {
    this.#timer = undefined;
    const users = new Set(this.#users);
    if (this.#newPosts) {
      const [soleAuthor] = this.#authors.size === 1 ? this.#authors : [undefined];
      for (const { userId } of this.positions.holders()) {
        if (userId !== soleAuthor && this.options.mayRead(userId)) users.add(userId);
      }
    }
    this.#users.clear();
    this.#authors.clear();
    this.#newPosts = false;
    if (users.size === 0) return;
    this.#lastAt = Date.now();
    void this.options.send([...users]);
  }
}
