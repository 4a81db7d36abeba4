/**
 * A LongPoll session's outbox (the buffer of Phoenix.Transports.LongPoll.Server): the frames its rooms
 * sent that the client has not polled yet, in order, handed to the next poll as soon as there are any.
 * Bounded, so a client that stops polling cannot make its session grow (docs/ways-in.md#longpoll); one
 * join reply that does not fit may go beyond the bound at a time.
 */

export interface PollBufferLimits {
  /** The most frames held at once. */
  maxFrames: number;
  /** The most text held at once, in UTF-16 code units (a JSON frame's length). */
  maxChars: number;
}

interface Waiter {
  resolve(frames: string[]): void;
  timer: ReturnType<typeof setTimeout>;
}

export class PollBuffer {
  #frames: string[] = [];
  /** The text held, a join reply beyond the bound aside. */
  #chars = 0;
  /** A join reply that did not fit is queued: the one frame allowed beyond the bound. */
  #beyondBound = false;
  #waiter: Waiter | undefined;

  constructor(private readonly limits: PollBufferLimits) {}

  /**
   * Queues `frame` for the client, or hands it straight to a waiting poll; false when over the bound (the
   * session then ends, and the client rejoins with `last_seen_id`). A join reply that does not fit (a
   * catch-up of up to 500 posts) is taken beyond the bound, one at a time, however large: the session
   * starts no join while one is queued (see `holdsReplyBeyondBound`), so several big catch-ups, as
   * phoenix.js asks for when it rejoins every channel at once, never add up.
   */
  push(frame: string, joinReply = false): boolean {
    const fits = this.#frames.length < this.limits.maxFrames && this.#chars + frame.length <= this.limits.maxChars;
    if (fits) this.#chars += frame.length;
    else if (joinReply && !this.#beyondBound) this.#beyondBound = true;
    else return false;
    this.#frames.push(frame);
    if (this.#waiter) this.#settle(this.#waiter, this.#drain());
    return true;
  }

  /** A join reply beyond the bound waits to be polled: the next join waits too. */
  get holdsReplyBeyondBound(): boolean {
    return this.#beyondBound;
  }

  /**
   * Everything queued, at once if there is any; otherwise waits for the first frame, or `windowMs` (then
   * nothing). A newer poll supersedes a waiting one, which gets nothing: frames go to the newest poll, the
   * one the client is still listening to.
   */
  take(windowMs: number): Promise<string[]> {
    if (this.#waiter) this.#settle(this.#waiter, []);
    if (this.#frames.length > 0) return Promise.resolve(this.#drain());
    return new Promise((resolve) => {
      const waiter: Waiter = {
        resolve,
        timer: setTimeout(() => this.#settle(waiter, []), windowMs),
      };
      this.#waiter = waiter;
    });
  }

  /** A poll is waiting right now. */
  get waiting(): boolean {
    return this.#waiter !== undefined;
  }

  /** Answers a waiting poll now, with nothing: a client that is there polls again at once. */
  release(): void {
    if (this.#waiter) this.#settle(this.#waiter, []);
  }

  /** Ends a waiting poll with nothing (the session is ending) and drops what is queued. */
  clear(): void {
    this.release();
    this.#frames = [];
    this.#chars = 0;
    this.#beyondBound = false;
  }

  #drain(): string[] {
    const frames = this.#frames;
    this.#frames = [];
    this.#chars = 0;
    this.#beyondBound = false;
    return frames;
  }

  #settle(waiter: Waiter, frames: string[]): void {
    clearTimeout(waiter.timer);
    if (this.#waiter === waiter) this.#waiter = undefined;
    waiter.resolve(frames);
  }
}
