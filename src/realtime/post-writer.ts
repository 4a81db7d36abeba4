/**
 * Group commit: posts go to D1 in batches, one write at a time. Posts that arrive while a write is in
 * flight wait for the next one, which takes them all in a single round trip; so at a low rate each post
 * costs one write, and at a high rate a write carries many posts instead of each post queueing behind
 * the one before it. Writes never overlap, so ids ascend in arrival order and stored posts are announced
 * in id order.
 *
 * Nothing is announced before D1 has it: `onStored` runs once a batch is stored (the room appends the
 * posts to its history and broadcasts them), and only then is each poster answered. A post not stored
 * within `timeoutMs` is answered `unavailable`; if its write lands later after all, it is still announced
 * (it is stored, so members see it), and the poster's retry with the same `client_id` finds it.
 */
import type { PostDraft, StoreOutcome } from "../db/posts";
import type { Post } from "../shared/post";

export type WriteResult = StoreOutcome | { kind: "unavailable" };

export interface PostWriterOptions {
  store(drafts: readonly PostDraft[]): Promise<StoreOutcome[]>;
  /** Stored posts, in id order, before their posters are answered. */
  onStored(posts: readonly Post[]): void;
  log(where: string, problem: unknown): void;
  timeoutMs: number;
  /** Posts per write at most; D1 takes up to 100 statements' worth of parameters happily. */
  maxBatch?: number;
}

interface Pending {
  draft: PostDraft;
  settle(result: WriteResult): void;
  settled: boolean;
  timer: ReturnType<typeof setTimeout>;
}

export class PostWriter {
  readonly #queue: Pending[] = [];
  #writing = false;

  constructor(private readonly options: PostWriterOptions) {}

  /** Resolves when the post is stored (or found stored before), refused, or given up on. */
  submit(draft: PostDraft): Promise<WriteResult> {
    return new Promise((resolve) => {
      const pending: Pending = {
        draft,
        settled: false,
        settle: (result) => {
          if (pending.settled) return;
          pending.settled = true;
          clearTimeout(pending.timer);
          resolve(result);
        },
        timer: setTimeout(() => {
          const queued = this.#queue.indexOf(pending);
          if (queued !== -1) this.#queue.splice(queued, 1); // never written: nothing to announce later
          pending.settle({ kind: "unavailable" });
        }, this.options.timeoutMs),
      };
      this.#queue.push(pending);
      if (!this.#writing) void this.#drain();
    });
  }

  get queued(): number {
    return this.#queue.length;
  }

  async #drain(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, this.options.maxBatch ?? 50);
        await this.#write(batch);
      }
    } finally {
      this.#writing = false;
    }
  }

  async #write(batch: Pending[]): Promise<void> {
    let outcomes: StoreOutcome[];
    try {
      outcomes = await this.options.store(batch.map((pending) => pending.draft));
    } catch (problem) {
      this.options.log("PostWriter:store", problem);
      for (const pending of batch) pending.settle({ kind: "unavailable" });
      return;
    }
    const stored: Post[] = [];
    for (const outcome of outcomes) if (outcome.kind === "stored") stored.push(outcome.post);
    if (stored.length > 0) {
      try {
        this.options.onStored(stored);
      } catch (problem) {
        this.options.log("PostWriter:onStored", problem);
      }
    }
    batch.forEach((pending, index) => {
      pending.settle(outcomes[index] ?? { kind: "unavailable" });
    });
  }
}
