/**
 * Who is in the room (Phoenix.Presence), in the shapes the official JS `Presence` class syncs: keyed by
 * user id, one meta per open join. A joiner's state holds everyone the room has accepted, itself included;
 * joins and leaves collect for a short window and go out as one `presence_diff`, so many joins at once cost
 * a few frames per member (docs/protocol.md#presence).
 */
import type { PresenceDiff, PresenceMeta, PresenceState } from "../../shared/room-contract";

/** How long joins and leaves collect before they go out as one diff, at least. */
export const PRESENCE_WINDOW_MS = 50;

/**
 * And at most. Between the two, the window is a millisecond per person present: a diff is a frame to every
 * member, so a burst of joins and leaves costs a room of up to 1,000 people at most about 1,000 frames a
 * second (20 diffs a second to 50 people, 2 to 500), not 20 a second to every member whatever its size.
 */
export const PRESENCE_WINDOW_MAX_MS = 1_000;
const WINDOW_PER_PERSON_MS = 1;

type Metas = Map<string, PresenceMeta>;

export class Presence {
  /**
   * Every join accepted and not seen leave, published or still pending: what a joiner is told, as Phoenix's
   * tracker lists a local track at once. Key → phx_ref → meta.
   */
  readonly #present = new Map<string, Metas>();
  /** Each key's `"key":{metas}` in the state, encoded; a change re-encodes only its key. */
  readonly #keyJson = new Map<string, string>();
  #joins = new Map<string, Metas>();
  #leaves = new Map<string, Metas>();
  /** Pending joins no state has included yet: leaving before the diff, nobody has to hear of them. */
  readonly #untold = new Set<string>();
  #stateJson: string | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly broadcastDiff: (diff: PresenceDiff) => void,
    private readonly windowMs = PRESENCE_WINDOW_MS,
    private readonly maxWindowMs = PRESENCE_WINDOW_MAX_MS,
  ) {}

  /**
   * Sets the state from members found joined after an eviction; sends nothing. The state is never the only
   * copy: each joined socket's attachment holds its meta.
   */
  rebuild(entries: Iterable<[key: string, meta: PresenceMeta]>): void {
    this.#present.clear();
    this.#keyJson.clear();
    for (const [key, meta] of entries) metasOf(this.#present, key).set(meta.phx_ref, meta);
    this.#stateJson = undefined;
  }

  track(key: string, meta: PresenceMeta): void {
    const arrives = !this.#present.has(key);
    metasOf(this.#present, key).set(meta.phx_ref, meta);
    if (arrives) this.#appended(key);
    else this.#changed(key);
    metasOf(this.#joins, key).set(meta.phx_ref, meta);
    this.#untold.add(meta.phx_ref);
    this.#schedule();
  }

  untrack(key: string, meta: PresenceMeta): void {
    if (deleteMeta(this.#present, key, meta.phx_ref)) this.#changed(key);
    const pending = deleteMeta(this.#joins, key, meta.phx_ref);
    // A join that was never published and that no joiner's state included leaves without anyone hearing of it.
    if (pending && this.#untold.delete(meta.phx_ref)) return;
    metasOf(this.#leaves, key).set(meta.phx_ref, meta);
    this.#schedule();
  }

  /**
   * The state as JSON, for a joiner's `presence_state`: everyone present, the joiner and joins still
   * waiting for their diff included. The joiner then gets every diff after it, which may repeat joins it
   * already has (`Presence.syncDiff` keeps one meta per phx_ref) and leaves of metas it never had (ignored).
   * Built from each key's cached encoding: a burst of N joins costs each joiner O(N), the state it is sent.
   */
  stateJson(): string {
    this.#untold.clear();
    if (this.#stateJson === undefined) {
      const entries: string[] = [];
      for (const key of this.#present.keys()) entries.push(this.#encodedKey(key));
      this.#stateJson = `{${entries.join(",")}}`;
    }
    return this.#stateJson;
  }

  /** `"key":{metas}`, encoded once for as long as the key's metas stay the same. */
  #encodedKey(key: string): string {
    let json = this.#keyJson.get(key);
    if (json === undefined) {
      json = `${JSON.stringify(key)}:${JSON.stringify({ metas: [...(this.#present.get(key)?.values() ?? [])] })}`;
      this.#keyJson.set(key, json);
    }
    return json;
  }

  /** Publishes what is pending now; the window's timer calls it. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#untold.clear();
    if (this.#joins.size === 0 && this.#leaves.size === 0) return;
    const diff: PresenceDiff = { joins: toState(this.#joins), leaves: toState(this.#leaves) };
    this.#joins = new Map();
    this.#leaves = new Map();
    this.broadcastDiff(diff);
  }

  #changed(key: string): void {
    this.#keyJson.delete(key);
    this.#stateJson = undefined;
  }

  /**
   * A key new to the state, which goes last in it as in {@link #present}: the state encoded so far gains one
   * entry instead of being joined again from every key, so a burst of N joins costs O(N) encoding in all.
   */
  #appended(key: string): void {
    this.#keyJson.delete(key);
    if (this.#stateJson === undefined) return;
    const entry = this.#encodedKey(key);
    this.#stateJson = this.#stateJson === "{}" ? `{${entry}}` : `${this.#stateJson.slice(0, -1)},${entry}}`;
  }

  /** Arms the window's timer on a change; no timer runs while nobody joins or leaves. */
  #schedule(): void {
    this.#timer ??= setTimeout(() => this.flush(), this.windowFor(this.#present.size));
  }

  /** The window for a room with `people` present (keys: a person with two tabs is one). */
  windowFor(people: number): number {
    return Math.min(this.maxWindowMs, Math.max(this.windowMs, people * WINDOW_PER_PERSON_MS));
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
