/**
 * What moderation means for the composer, from the room's `moderation` push: muted ("You are muted until
 * 14:05", until then the composer is off), read-only for members ("Only moderators can post here"), slow
 * mode (a hint), a role changed since the page was drawn (reload for the moderator's menus). Learnt at every
 * join (the room pushes it when anything applies; a join without it means nothing does) and whenever it
 * changes; a mute's end is kept by the page's clock too.
 */
import { type ModerationState, RoomErrorReason } from "../shared/room-contract";
import { formatPostTime } from "../shared/time";

export class ComposerModeration {
  #state: ModerationState | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;

  /**
   * `changed` is called whenever whether the composer may send changes (a mute ending included);
   * `rendered` is whether the page was drawn for someone who moderates (undefined: a direct message).
   */
  constructor(
    private readonly element: HTMLElement,
    private readonly changed: () => void,
    private readonly rendered?: boolean,
  ) {}

  /** The room's latest word; null at a join, until (unless) a push says something applies. */
  apply(state: ModerationState | null): void {
    clearTimeout(this.#timer);
    this.#state = state;
    const until = state?.muted_until ? Date.parse(state.muted_until) - Date.now() : 0;
    // The mute ends by the clock; past 24 days setTimeout would overflow, and a later push or join says more.
    if (until > 0 && until < 2 ** 31)
      this.#timer = setTimeout(() => this.apply({ ...(state as ModerationState), muted_until: null }), until);
    this.element.textContent = this.#words() ?? "";
    this.element.hidden = this.element.textContent === "";
    this.changed();
  }

  /** Posting (and typing) is refused now: muted, or a member in a read-only room. */
  get blocked(): boolean {
    const state = this.#state;
    return state !== null && (this.#muted() || (state.read_only && !state.exempt));
  }

  #muted(): boolean {
    const until = this.#state?.muted_until;
    return until != null && Date.parse(until) > Date.now();
  }

  #words(): string | undefined {
    const state = this.#state;
    if (!state) return undefined;
    if (this.#muted()) return `You are muted until ${formatPostTime(state.muted_until as string)}.`;
    // Promoted or demoted while the page is open: its moderator's menus are drawn at load.
    if (this.rendered !== undefined && state.exempt !== this.rendered)
      return "Your role in this room changed: reload the page to see what it lets you do.";
    if (state.exempt) return undefined;
    if (state.read_only) return "Only moderators can post here.";
    if (state.slow_mode_seconds > 0) return `Slow mode: one post every ${state.slow_mode_seconds} s.`;
    return undefined;
  }
}

/** What a post refused by moderation means, in words (the outbox gives the text back with it). */
export function moderationRefusal(response: { reason?: string; until?: string }): string | undefined {
  switch (response.reason) {
    case RoomErrorReason.muted:
      return response.until ? `You are muted until ${formatPostTime(response.until)}.` : "You are muted.";
    case RoomErrorReason.readOnly:
      return "Only moderators can post here.";
    case RoomErrorReason.banned:
      return "You are banned from this room.";
    default:
      return undefined;
  }
}
