/**
 * A LongPoll session's outbox (the buffer of Phoenix.Transports.LongPoll.Server): the frames its rooms
 * sent that the client has not polled yet, in order, handed to the next poll as soon as there are any.
 * Bounded, so a client that stops polling cannot make its session grow (docs/ways-in.md#longpoll).
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
  #chars = 0;
  #waiter: Waiter | undefined;

  constructor(private readonly limits: PollBufferLimits) {}

  /**
   * Queues `frame` for the client, or hands it straight to a waiting poll; false when over the bound (the
   * session then ends, and the client rejoins with `last_seen_id`). A frame into an empty outbox is always
   * taken, however large, so one big catch-up reply never ends a session.
   */
  push(frame: string): boolean {
    if (this.#frames.length > 0) {
      if (this.#frames.length >= this.limits.maxFrames) return false;
      if (this.#chars + frame.length > this.limits.maxChars) return false;
    }
    this.#frames.push(frame);
    this.#chars += frame.length;
    if (this.#waiter) this.#settle(this.#waiter, this.#drain());
    return true;
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

  /** Ends a waiting poll with nothing (the session is ending) and drops what is queued. */
  clear(): void {
    if (this.#waiter) this.#settle(this.#waiter, []);
    this.#frames = [];
    this.#chars = 0;
  }

  #drain(): string[] {
    const frames = this.#frames;
    this.#frames = [];
    this.#chars = 0;
    return frames;
  }

  #settle(waiter: Waiter, frames: string[]): void {
    clearTimeout(waiter.timer);
    if (this.#waiter === waiter) this.#waiter = undefined;
    waiter.resolve(frames);
  }
}
