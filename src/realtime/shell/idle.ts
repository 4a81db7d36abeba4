/**
 * The idle rule (Phoenix closes a socket that sent nothing for 60 s): a socket silent for `SOCKET_IDLE_MS`,
 * no frame and no heartbeat, is closed, so a client that vanished without a close (a half-open connection)
 * does not keep its socket, presence, rooms and slot until the runtime notices. Two clocks say when a socket
 * last spoke: its last frame, which the object hears, and the runtime's last auto-response to pyre's constant
 * heartbeat (`getWebSocketAutoResponseTimestamp`), which the object never hears: a hibernating room is not
 * woken for each heartbeat, only by a sweep now and then, and only while it holds sockets.
 *
 * A frame's time is kept in memory; the socket's attachment (`lastFrameAt`) gets it only when the one it
 * holds is older than a twelfth of the idle time, so a busy socket costs an attachment write every few
 * seconds, not one per frame. An object woken from hibernation knows only the attachment's time, and counts
 * from the latest the unrecorded frames could have been: the rule may then close up to that twelfth late,
 * never early.
 */

/** What a watched socket's attachment carries for the rule; null for a socket the rule leaves alone. */
export interface FrameClock {
  lastFrameAt: number | null;
}

/** Each watched socket's last frame, and the time its attachment holds; null for a socket not watched. */
interface Clock {
  heardAt: number;
  recordedAt: number;
}

export interface Sweep {
  /** The open sockets silent for the idle time or longer: close them. */
  silent: WebSocket[];
  /** When to sweep again; undefined when no watched socket is left. */
  nextAt: number | undefined;
}

export class IdleWatch {
  readonly #clocks = new WeakMap<WebSocket, Clock | null>();
  /** Sweeps at most this often: a silent socket closes between the idle time and 1.25 times it (plus the twelfth). */
  readonly sweepEveryMs: number;
  readonly recordEveryMs: number;

  constructor(
    readonly idleMs: number,
    /** Writes `at` as the socket's `lastFrameAt` in its attachment (the object owns its attachments). */
    private readonly record: (ws: WebSocket, at: number) => void,
  ) {
    this.sweepEveryMs = idleMs / 4;
    this.recordEveryMs = idleMs / 12;
  }

  /** What the close says. */
  get reason(): string {
    return `nothing received for ${Math.round(this.idleMs / 1000)} s; reconnect`;
  }

  /**
   * A socket was just accepted and its first attachment written (with `lastFrameAt` now, or null when the
   * rule leaves it alone). Answers whether the rule watches it.
   */
  opened(ws: WebSocket, now: number): boolean {
    const watched = recordedFrameAt(ws) !== undefined;
    this.#clocks.set(ws, watched ? { heardAt: now, recordedAt: now } : null);
    return watched;
  }

  /** A frame arrived from the socket. */
  heard(ws: WebSocket, now: number): void {
    const clock = this.#clockOf(ws);
    if (!clock) return;
    clock.heardAt = now;
    if (now - clock.recordedAt < this.recordEveryMs) return;
    this.record(ws, now);
    clock.recordedAt = now;
  }

  /** Which of `sockets` have been silent for the idle time at `now`, and when the next may be. */
  sweep(sockets: Iterable<WebSocket>, autoAnsweredAt: (ws: WebSocket) => number | null, now: number): Sweep {
    const silent: WebSocket[] = [];
    let earliestDue: number | undefined;
    for (const ws of sockets) {
      if (ws.readyState !== WebSocket.READY_STATE_OPEN) continue; // already on its way out
      const clock = this.#clockOf(ws);
      if (!clock) continue;
      const due = Math.max(clock.heardAt, autoAnsweredAt(ws) ?? 0) + this.idleMs;
      if (due <= now) silent.push(ws);
      else if (earliestDue === undefined || due < earliestDue) earliestDue = due;
    }
    const nextAt = earliestDue === undefined ? undefined : Math.max(earliestDue, now + this.sweepEveryMs);
    return { silent, nextAt };
  }

  /** The socket's clock: remembered, or (after hibernation) read from its attachment. */
  #clockOf(ws: WebSocket): Clock | null {
    const known = this.#clocks.get(ws);
    if (known !== undefined) return known;
    const recordedAt = recordedFrameAt(ws);
    // Frames after the recorded one went unrecorded for at most `recordEveryMs`: count from the latest.
    const clock = recordedAt === undefined ? null : { heardAt: recordedAt + this.recordEveryMs, recordedAt };
    this.#clocks.set(ws, clock);
    return clock;
  }
}

/** The `lastFrameAt` of the socket's attachment; undefined when it has none (a socket the rule leaves alone). */
function recordedFrameAt(ws: WebSocket): number | undefined {
  let attachment: unknown;
  try {
    attachment = ws.deserializeAttachment();
  } catch {
    return undefined;
  }
  const at = (attachment as Partial<FrameClock> | null)?.lastFrameAt;
  return typeof at === "number" ? at : undefined;
}
