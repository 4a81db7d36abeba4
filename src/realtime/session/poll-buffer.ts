/**
 * A LongPoll session's outbox (the buffer of Phoenix.Transports.LongPoll.Server): the frames its rooms
 * sent that the client has not polled yet, in order, handed to the next poll as soon as there are any.
 * Bounded, so a client that stops polling cannot make its session grow (docs/ways-in.md#longpoll); one
 * join reply at a time is outside the bound.
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
  /** The text held, join replies aside. */
  #chars = 0;
  /** A join reply is queued: the one frame outside the bound. */
  #holdsJoinReply = false;
  #waiter: Waiter | undefined;

  constructor(private readonly limits: PollBufferLimits) {}

  /**
   * Queues `frame` for the client, or hands it straight to a waiting poll; false when over the bound (the
   * session then ends, and the client rejoins with `last_seen_id`). One join reply at a time is taken
   * outside the bound, however large (a catch-up of up to 500 posts): the session starts a join only once
   * the previous join's reply has been polled (see `holdsJoinReply`), so several big catch-ups, as
   * phoenix.js asks for when it rejoins every channel at once, never add up.
   */
  push(frame: string, joinReply = false): boolean {
    if (joinReply && !this.#holdsJoinReply) {
      this.#holdsJoinReply = true;
    } else {
      if (this.#frames.length >= this.limits.maxFrames) return false;
      if (this.#chars + frame.length > this.limits.maxChars) return false;
      this.#chars += frame.length;
    }
    this.#frames.push(frame);
    if (this.#waiter) this.#settle(this.#waiter, this.#drain());
    return true;
  }

  /** A join reply waits to be polled: the next join waits too. */
  get holdsJoinReply(): boolean {
    return this.#holdsJoinReply;
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
    this.#holdsJoinReply = false;
  }

  #drain(): string[] {
    const frames = this.#frames;
    this.#frames = [];
    this.#chars = 0;
    this.#holdsJoinReply = false;
    return frames;
  }

  #settle(waiter: Waiter, frames: string[]): void {
    clearTimeout(waiter.timer);
    if (this.#waiter === waiter) this.#waiter = undefined;
    waiter.resolve(frames);
  }
}
