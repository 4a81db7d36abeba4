/**
 * Who is in the room (Phoenix.Presence), in the shapes the official JS `Presence` class syncs: keyed by
 * user id, one meta per open join. Joins and leaves collect for a short window and go out as one
 * `presence_diff`, so many joins at once cost a few frames per member (docs/protocol.md#presence).
 */
import type { PresenceDiff, PresenceMeta, PresenceState } from "../../shared/room-contract";

/** How long joins and leaves collect before they go out as one diff. */
export const PRESENCE_WINDOW_MS = 50;

type Metas = Map<string, PresenceMeta>;

export class Presence {
  /** What every member has been told so far (by state or diffs): key → phx_ref → meta. */
  readonly #published = new Map<string, Metas>();
  #joins = new Map<string, Metas>();
  #leaves = new Map<string, Metas>();
  #publishedJson: string | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly broadcastDiff: (diff: PresenceDiff) => void,
    private readonly windowMs = PRESENCE_WINDOW_MS,
  ) {}

  /**
   * Sets the published state from members found joined after an eviction; sends nothing. The state is
   * never the only copy: each joined socket's attachment holds its meta.
   */
  rebuild(entries: Iterable<[key: string, meta: PresenceMeta]>): void {
    this.#published.clear();
    for (const [key, meta] of entries) metasOf(this.#published, key).set(meta.phx_ref, meta);
    this.#publishedJson = undefined;
  }

  track(key: string, meta: PresenceMeta): void {
    metasOf(this.#joins, key).set(meta.phx_ref, meta);
    this.#schedule();
  }

  untrack(key: string, meta: PresenceMeta): void {
    // A join that was never published leaves without anyone having to hear of it.
    if (deleteMeta(this.#joins, key, meta.phx_ref)) return;
    metasOf(this.#leaves, key).set(meta.phx_ref, meta);
    this.#schedule();
  }

  /**
   * The published state as JSON, for a joiner's `presence_state`; encoded once per change, not per join.
   * The joiner then gets every diff after it, its own join included: exactly what `Presence.syncDiff` needs.
   */
  stateJson(): string {
    this.#publishedJson ??= JSON.stringify(toState(this.#published));
    return this.#publishedJson;
  }

  /** Publishes what is pending now; the window's timer calls it. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#joins.size === 0 && this.#leaves.size === 0) return;
    const diff: PresenceDiff = { joins: toState(this.#joins), leaves: toState(this.#leaves) };
    for (const [key, metas] of this.#leaves) for (const ref of metas.keys()) deleteMeta(this.#published, key, ref);
    for (const [key, metas] of this.#joins)
      for (const [ref, meta] of metas) metasOf(this.#published, key).set(ref, meta);
    this.#joins = new Map();
    this.#leaves = new Map();
    this.#publishedJson = undefined;
    this.broadcastDiff(diff);
  }

  /** Arms the window's timer on a change; no timer runs while nobody joins or leaves. */
  #schedule(): void {
    this.#timer ??= setTimeout(() => this.flush(), this.windowMs);
  }
}

function metasOf(map: Map<string, Metas>, key: string): Metas {
  let metas = map.get(key);
  if (!metas) {
    metas = new Map();
    map.set(key, metas);
  }
  return metas;
}

function deleteMeta(map: Map<string, Metas>, key: string, ref: string): boolean {
  const metas = map.get(key);
  if (!metas?.delete(ref)) return false;
  if (metas.size === 0) map.delete(key);
  return true;
}

function toState(map: Map<string, Metas>): PresenceState {
  const state: PresenceState = {};
  for (const [key, metas] of map) state[key] = { metas: [...metas.values()] };
  return state;
}
