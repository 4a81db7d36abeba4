/**
 * Property-based test of the channel core through the real room, over real sockets: four sockets (two of
 * them one user's) in one room are sent generated sequences of frames, valid joins, leaves, posts, edits
 * and deletions (of the posts stored so far, by their authors, by the room's owner and by anyone else),
 * typing and heartbeats mixed with malformed frames, stale join_refs, unknown events, foreign topics,
 * binary pushes and the frames that close a socket; members drop (a socket closed) and come back with
 * `last_seen_seq`, as a page does. After each sequence:
 * - every frame that carried a ref got exactly one `phx_reply` with that ref, the one the model expects
 *   (channel-model.ts), and no reply came for anything else;
 * - no socket was closed but by a frame that must close it, with that frame's code and reason;
 * - nothing was logged by console.error (the room logs every error it catches there);
 * - every member's view equals the room's: each member keeps what it received (join replies, posts, edits,
 *   deletions) in the page's own `RoomFeed` (src/client/room-feed.ts), comes back once more at the end with
 *   its `last_seen_seq` (members 0 and 3 on a room-bound socket, 1 on a multiplexed one, 2 over LongPoll),
 *   and then shows exactly the room's posts from its oldest on, each as the room has it now;
 * - the room agrees with the model on who is joined: a newcomer's presence (state + diffs, synced with the
 *   official client's `Presence`) lists exactly the joined sockets, and a post reaches exactly them, as a
 *   push with the right join_ref for those who joined with `mentions_only` (the post mentions everyone).
 *
 * Fixed seed (settings.ts); every run prints it. Runs × frames: see the summary line this file prints.
 */
import { exports } from "cloudflare:workers";
import fc from "fast-check";
import { Presence } from "phoenix";
import { afterAll, describe, expect, it, vi } from "vitest";
import { RoomFeed } from "../../src/client/room-feed";
import type { User } from "../../src/db/users";
import type { Post } from "../../src/shared/post";
import {
  type JoinParams,
  type JoinResponse,
  type PostDeleted,
  type PostUpdated,
  RECENT_POSTS_LIMIT,
} from "../../src/shared/room-contract";
import { LongPollClient } from "../helpers/longpoll";
import {
  closeAll,
  connect,
  connectAndJoin,
  connectMultiplexed,
  type Frame,
  TEST_HOST,
  type TestSocket,
} from "../helpers/socket";
import { makeUser, seedRooms, tokenFor } from "../helpers/users";
import {
  type Expectation,
  type Outgoing,
  type RoomKnowledge,
  SocketModel,
  type Step,
  stepArbitrary,
} from "./channel-model";
import { FUZZ_SEED, RUNS_OVERRIDDEN, runsOr } from "./settings";

/** Member index → which of the run's users it is: user 0 has two sockets (one presence key, two metas). */
const MEMBER_USERS = [0, 0, 1, 2] as const;
const USERS_PER_RUN = 3;
const RUNS = runsOr(50);
const MAX_FRAMES_PER_RUN = 600;
/** What `npm test` must generate in this file when the run count is its own. */
const MIN_FRAMES = 10_000;

const HEARTBEAT_REPLY: Frame = [null, "hb", "phoenix", "phx_reply", { status: "ok", response: {} }];

/** How a member comes back at the end of a run, in turn. */
const WAYS_IN = ["room-bound", "multiplexed", "longpoll"] as const;
type WayIn = (typeof WAYS_IN)[number];

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** What the runs covered, printed at the end: how often each kind of frame got each answer. */
const totals = {
  runs: 0,
  frames: 0,
  replies: 0,
  closes: 0,
  views: 0,
  outcomes: new Map<string, number>(),
  started: Date.now(),
};
let names = 0;

/** One socket of a member: a member whose socket was closed gets a new one at its next step. */
interface Incarnation {
  member: number;
  model: SocketModel;
  socket: TestSocket;
  closed: boolean;
  expected: Array<{ ref: string; expectation: Expectation; clientId?: string }>;
  constantHeartbeats: number;
  closeExpected?: { code: number; reason: string };
  /** How far its frames have gone into the member's view. */
  fed: number;
  /** How far its frames have been read for the posts stored. */
  learned: number;
  /** Its joins by ref: whether each starts a view afresh (and with what filter) or goes on with the member's. */
  joins: Map<string, { fresh: boolean; mentionsOnly: boolean }>;
}

/** A member's view of the room: the page's own RoomFeed, every post it has shown, and whether it filters. */
interface View {
  feed: RoomFeed;
  ids: Set<number>;
  mentionsOnly: boolean;
}

class Run implements RoomKnowledge {
  readonly topic: string;
  readonly incarnations: Incarnation[] = [];
  readonly current: Array<Incarnation | undefined> = [];
  readonly views: View[];
  readonly open: TestSocket[] = [];
  readonly failures: string[] = [];
  /** Posts seen stored, in the order they were first seen, with their authors. */
  readonly #posts: Array<{ id: number; userId: number }> = [];
  readonly #seenPosts = new Set<number>();
  readonly #deletions = new Set<number>();
  readonly #editKeys = new Set<string>();
  /** The room's posts as they are at the end, when the membership check saw them all. */
  #roomNow: Post[] | undefined;

  constructor(
    readonly room: string,
    readonly users: User[],
  ) {
    this.topic = `room:${room}`;
    this.views = MEMBER_USERS.map((userIndex) => this.#newView(users[userIndex] as User));
  }

  get ownerId(): number {
    return (this.users[0] as User).id;
  }

  post(target: number): { id: number; userId: number } | undefined {
    this.#learn();
    return this.#posts[target % Math.max(1, this.#posts.length)];
  }

  deletionSent(id: number): void {
    this.#deletions.add(id);
  }

  mayBeDeleted(id: number): boolean {
    return this.#deletions.has(id);
  }

  editSent(userId: number, id: number, clientId: string): boolean {
    const key = `${userId}/${id}/${clientId}`;
    const before = this.#editKeys.has(key);
    this.#editKeys.add(key);
    return before;
  }

  /** Learns the posts stored so far from what the sockets received: every new_post, and ok replies to posts. */
  #learn(): void {
    for (const incarnation of this.incarnations) {
      const { frames } = incarnation.socket;
      for (; incarnation.learned < frames.length; incarnation.learned++) {
        const frame = frames[incarnation.learned] as Frame;
        const payload = frame[4] as { id?: unknown; user?: { id?: unknown }; response?: Record<string, unknown> };
        const post = frame[3] === "new_post" ? payload : frame[3] === "phx_reply" ? payload.response : undefined;
        const id = post?.id;
        const userId = (post?.user as { id?: unknown } | undefined)?.id;
        const isPost = frame[3] === "new_post" || (post !== undefined && "inserted_at" in post && !("seq" in post));
        if (isPost && typeof id === "number" && typeof userId === "number" && !this.#seenPosts.has(id)) {
          this.#seenPosts.add(id);
          this.#posts.push({ id, userId });
        }
      }
    }
  }

  #newView(user: User, mentionsOnly = false): View {
    const ids = new Set<number>();
    const feed = new RoomFeed({
      show: (posts) => {
        for (const post of posts) ids.add(post.id);
      },
      fetchChanges: async (after, limit) => {
        const response = await exports.default.fetch(
          new URL(`/rooms/${this.room}/changes?after_seq=${after}&limit=${limit}`, TEST_HOST),
          { headers: { Authorization: `Bearer ${await tokenFor(user)}` } },
        );
        return response.json();
      },
    });
    feed.mentionsOnly = mentionsOnly;
    return { feed, ids, mentionsOnly };
  }

  /** Puts what the member's socket received since last time into the member's view, in order. */
  feed(incarnation: Incarnation): void {
    const { socket, member } = incarnation;
    while (incarnation.fed < socket.frames.length) {
      const [, ref, , event, payload] = socket.frames[incarnation.fed++] as Frame;
      const view = this.views[member] as View;
      // The model's refs are strings (a ref of another type is the decoder fuzzer's subject).
      if (event === "phx_reply" && typeof ref === "string" && incarnation.joins.has(ref)) {
        const reply = payload as { status: string; response: JoinResponse };
        const join = incarnation.joins.get(ref);
        if (reply.status !== "ok" || !join) continue;
        // A page that joins without last_seen_seq (or filtered) starts its view afresh; one coming back goes on.
        if (join.fresh) this.views[member] = this.#newView(this.#userOf(member), join.mentionsOnly);
        const current = this.views[member] as View;
        current.feed.mentionsOnly = join.mentionsOnly;
        current.mentionsOnly = join.mentionsOnly;
        current.feed.joined(reply.response);
      } else if (event === "phx_close") {
        view.feed.interrupted();
      } else if (ref === null) {
        if (event === "new_post") view.feed.received(payload as unknown as Post);
        if (event === "post_updated" || event === "post_deleted")
          view.feed.changed(payload as unknown as PostUpdated | PostDeleted);
      }
    }
  }

  #userOf(member: number): User {
    return this.users[MEMBER_USERS[member] ?? 0] as User;
  }

  get usernames(): string[] {
    return this.users.map((user) => user.username);
  }

  async socketOf(member: number): Promise<Incarnation> {
    const existing = this.current[member];
    if (existing && existing.closeExpected === undefined) return existing;
    if (existing) {
      // Everything the old socket received happened before the new one exists: into the view first.
      await existing.socket.closed;
      this.feed(existing);
    }
    const user = this.users[MEMBER_USERS[member] ?? 0] as User;
    const socket = await connect(user, this.room);
    this.open.push(socket);
    const incarnation: Incarnation = {
      member,
      model: new SocketModel(`m${member}i${this.incarnations.length}`, this.topic, user.id),
      socket,
      closed: false,
      expected: [],
      constantHeartbeats: 0,
      fed: 0,
      learned: 0,
      joins: new Map(),
    };
    // A new socket: whatever the old one was doing for the view is over.
    this.views[member]?.feed.interrupted();
    void socket.closed.then(() => {
      incarnation.closed = true;
    });
    this.incarnations.push(incarnation);
    this.current[member] = incarnation;
    return incarnation;
  }

  async play(step: Step): Promise<void> {
    const incarnation = await this.socketOf(step.member);
    this.feed(incarnation);
    let action = step.action;
    if (action.kind === "rejoin") {
      // As a page comes back: from the last seq its view has every change up to.
      const seen = (this.views[step.member] as View).feed.completeThrough;
      const params: JoinParams = seen === undefined ? {} : { last_seen_seq: seen };
      action = { kind: "join", params: params as Record<string, unknown>, joinRefNull: action.joinRefNull };
    }
    const outgoing: Outgoing = incarnation.model.frameFor(action, this.usernames, this);
    if (action.kind === "join" && outgoing.ref !== null) {
      const params = action.params;
      incarnation.joins.set(outgoing.ref, {
        fresh: !("last_seen_seq" in params) || params.last_seen_seq === undefined,
        mentionsOnly: params.mentions_only === true,
      });
    }
    if (outgoing.close) {
      // Only what the socket sent before is owed a reply: wait for those, then close it.
      await awaitReplies(incarnation);
      incarnation.closeExpected = outgoing.close;
    } else if (outgoing.ref === "hb") {
      incarnation.constantHeartbeats += 1;
    } else if (outgoing.ref !== null && outgoing.expectation) {
      incarnation.expected.push({
        ref: outgoing.ref,
        expectation: outgoing.expectation,
        ...(outgoing.clientId ? { clientId: outgoing.clientId } : {}),
      });
    }
    incarnation.socket.sendRaw(outgoing.data);
    totals.frames += 1;
  }

  /** Every reply arrived exactly once and is the expected one; sockets closed only as expected. */
  async checkAnswers(): Promise<void> {
    const originals = new Map<string, number>();
    for (const incarnation of this.incarnations) {
      const { socket, model } = incarnation;
      if (incarnation.closeExpected) {
        const closed = await socket.closed;
        if (closed.code !== incarnation.closeExpected.code || closed.reason !== incarnation.closeExpected.reason) {
          this.failures.push(
            `${model.label} closed with ${JSON.stringify(closed)}, not ${JSON.stringify(incarnation.closeExpected)}`,
          );
        }
        totals.closes += 1;
      } else {
        await awaitReplies(incarnation);
        await socket.barrier();
        if (incarnation.closed) this.failures.push(`${model.label} was closed, though nothing it sent may close it`);
      }
      const replies = new Map<string, Frame[]>();
      for (const frame of socket.frames) {
        if (frame[3] !== "phx_reply") continue;
        const ref = String(frame[1]);
        replies.set(ref, [...(replies.get(ref) ?? []), frame]);
      }
      for (const { ref, expectation, clientId } of incarnation.expected) {
        const got = replies.get(ref) ?? [];
        replies.delete(ref);
        totals.replies += 1;
        if (got.length !== 1) {
          this.failures.push(`${ref} (${expectation.what}) got ${got.length} replies: ${JSON.stringify(got)}`);
          continue;
        }
        const [joinRef, , topic, , payload] = got[0] as Frame;
        const { status, response } = payload as { status: string; response: Record<string, unknown> };
        const wrong =
          JSON.stringify(joinRef) !== JSON.stringify(expectation.joinRef) || topic !== expectation.topic
            ? `reply refs/topic ${JSON.stringify([joinRef, topic])}, expected ${JSON.stringify([expectation.joinRef, expectation.topic])}`
            : expectation.check(status, response);
        if (wrong) this.failures.push(`${ref} (${expectation.what}): ${wrong}; got ${JSON.stringify(payload)}`);
        const outcome = `${expectation.what.split(" ")[0]}: ${String(response.reason ?? status)}`;
        totals.outcomes.set(outcome, (totals.outcomes.get(outcome) ?? 0) + 1);
        if (clientId && status === "ok") {
          const key = `${model.userId}/${clientId}`;
          const id = response.id as number;
          if ((originals.get(key) ?? id) !== id)
            this.failures.push(`${ref}: client_id ${clientId} answered post ${id}, not ${originals.get(key)}`);
          originals.set(key, id);
        }
      }
      const heartbeats = replies.get("hb") ?? [];
      replies.delete("hb");
      if (
        heartbeats.length !== incarnation.constantHeartbeats ||
        heartbeats.some((f) => JSON.stringify(f) !== JSON.stringify(HEARTBEAT_REPLY))
      ) {
        this.failures.push(
          `${model.label}: ${incarnation.constantHeartbeats} constant heartbeats, replies ${JSON.stringify(heartbeats)}`,
        );
      }
      // What is left should be the test helper's own barriers (numeric refs); anything else was never asked.
      const unasked = [...replies].filter(([ref]) => !/^\d+$/.test(ref));
      if (unasked.length > 0)
        this.failures.push(`${model.label}: replies nobody asked for: ${JSON.stringify(unasked)}`);
      if (socket.garbage.length > 0)
        this.failures.push(`${model.label}: unparseable frames ${JSON.stringify(socket.garbage)}`);
    }
  }

  /**
   * Every member's view equals the room's, shown from its oldest post on, each post as the room has it now:
   * every member still joined (unfiltered) as it is, and `comingBack` after it joins once more with its
   * last_seen_seq on `wayIn` and catches up (one member every other run: each costs a connection, and the
   * runs take every member and way in in turn).
   */
  async checkViews(comingBack: number | undefined, wayIn: WayIn): Promise<void> {
    for (const incarnation of this.incarnations) this.feed(incarnation);
    const room = this.#roomNow ?? (await this.#roomPosts());
    for (let member = 0; member < MEMBER_USERS.length; member++) {
      let view = this.views[member] as View;
      let from = "as it is";
      if (member === comingBack) {
        view.feed.interrupted();
        view.feed.mentionsOnly = false;
        view.mentionsOnly = false;
        const params = view.feed.joinParams();
        const user = this.#userOf(member);
        const reply = await this.#joinBack(wayIn, user, params as Record<string, unknown>);
        if (reply.status !== "ok") {
          this.failures.push(`member ${member} could not come back on ${wayIn}: ${JSON.stringify(reply)}`);
          continue;
        }
        if (params.last_seen_seq === undefined) this.views[member] = this.#newView(user);
        view = this.views[member] as View;
        view.feed.joined(reply.response as unknown as JoinResponse);
        for (let waited = 0; view.feed.catchingUp && waited < 200; waited++) await pause(25);
        from = `back on ${wayIn} from last_seen_seq ${params.last_seen_seq}`;
      } else {
        const incarnation = this.current[member];
        const joined = incarnation?.closeExpected === undefined && incarnation?.model.joinRef != null;
        if (!joined || view.mentionsOnly || view.feed.catchingUp) continue;
      }
      const ids = [...view.ids].sort((a, b) => a - b);
      const shown = ids.map((id) => view.feed.shown(id));
      const expected = room.filter((post) => post.id >= (ids[0] ?? Number.POSITIVE_INFINITY));
      totals.views += 1;
      if (JSON.stringify(shown) !== JSON.stringify(expected)) {
        this.failures.push(
          `member ${member} (${from}) shows ${JSON.stringify(shown)}, the room ${JSON.stringify(expected)}`,
        );
      }
    }
  }

  /** Joins the room again for a member on `wayIn`, a new connection of its own. */
  async #joinBack(wayIn: WayIn, user: User, params: Record<string, unknown>) {
    if (wayIn === "longpoll") {
      const poll = new LongPollClient({ token: await tokenFor(user) });
      await poll.poll();
      return poll.join(this.room, params);
    }
    const socket = wayIn === "multiplexed" ? await connectMultiplexed(user) : await connect(user, this.room);
    this.open.push(socket);
    return socket.join(this.room, params);
  }

  /** Every post of the room, oldest first, as it is now. */
  async #roomPosts(): Promise<Post[]> {
    const all: Post[] = [];
    for (;;) {
      const response = await exports.default.fetch(
        new URL(`/rooms/${this.room}/posts?after=${all.at(-1)?.id ?? 0}&limit=200`, TEST_HOST),
        { headers: { Authorization: `Bearer ${await tokenFor(this.users[0] as User)}` } },
      );
      const { posts } = (await response.json()) as { posts: Post[] };
      all.push(...posts);
      if (posts.length < 200) return all;
    }
  }

  /** The room agrees with the model on who is joined: presence and delivery of a post to exactly them. */
  async checkMembership(): Promise<void> {
    const live = this.incarnations.filter((incarnation) => incarnation.closeExpected === undefined);
    const observerUser = await makeUser(`fzobs${++names}`);
    const { socket: observer, joined } = await connectAndJoin(observerUser, this.room);
    this.open.push(observer);
    const ownKey = String(observerUser.id);
    await observer.waitFor((f) => f[3] === "presence_diff" && ownKey in ((f[4].joins as object) ?? {}));

    let presence: Record<string, { metas: unknown[] }> = {};
    for (const frame of observer.frames) {
      if (frame[3] === "presence_state") presence = Presence.syncState(presence, frame[4]);
      if (frame[3] === "presence_diff") presence = Presence.syncDiff(presence, frame[4] as never);
    }
    const seen = Object.fromEntries(Object.entries(presence).map(([key, { metas }]) => [key, metas.length]));
    const expected: Record<string, number> = { [ownKey]: 1 };
    for (const { model } of live) {
      if (model.joinRef !== null) expected[String(model.userId)] = (expected[String(model.userId)] ?? 0) + 1;
    }
    if (JSON.stringify(sortedEntries(seen)) !== JSON.stringify(sortedEntries(expected))) {
      this.failures.push(`presence ${JSON.stringify(seen)}, model ${JSON.stringify(expected)}`);
    }

    const message = `final check ${this.usernames.map((name) => `@${name}`).join(" ")}`;
    // As a client should: an `unavailable` post is retried with the same client_id.
    let posted = await observer.push(this.topic, "new_post", { message, client_id: "final" });
    for (let retry = 0; retry < 3 && posted.response.reason === "unavailable"; retry++) {
      posted = await observer.push(this.topic, "new_post", { message, client_id: "final" });
    }
    if (posted.status !== "ok") {
      this.failures.push(`the final post was answered ${JSON.stringify(posted.response)}`);
      return;
    }
    const id = posted.response.id;
    // The room as it now is, for the views: its newest posts then, and this one (all of them, if fewer).
    const newest = joined.response.posts as Post[];
    if (newest.length < RECENT_POSTS_LIMIT) this.#roomNow = [...newest, posted.response as unknown as Post];
    for (const { socket, model } of live) {
      await socket.barrier();
      const got = socket.frames.filter((f) => f[3] === "new_post" && f[1] === null && f[4].id === id);
      const want = model.joinRef === null ? [] : [model.mentionsOnly ? model.joinRef : null];
      if (JSON.stringify(got.map((f) => f[0])) !== JSON.stringify(want)) {
        this.failures.push(`${model.label} (joinRef ${model.joinRef}) got the final post as ${JSON.stringify(got)}`);
      }
    }
  }
}

/** Waits until every reply `incarnation` is owed has arrived (or fails with what it got). */
async function awaitReplies(incarnation: Incarnation): Promise<void> {
  for (const { ref } of incarnation.expected) {
    await incarnation.socket.waitFor((f) => f[1] === ref && f[3] === "phx_reply", 10_000);
  }
}

function sortedEntries(record: Record<string, number>): Array<[string, number]> {
  return Object.entries(record).sort(([a], [b]) => (a < b ? -1 : 1));
}

describe("the channel core under generated frames", () => {
  const errors = vi.spyOn(console, "error");

  afterAll(() => {
    errors.mockRestore();
    const seconds = ((Date.now() - totals.started) / 1000).toFixed(1);
    console.log(
      `channel fuzz: seed ${FUZZ_SEED}, ${totals.runs} runs, ${totals.frames} frames, ${totals.replies} replies checked, ` +
        `${totals.closes} sockets closed on purpose, ${totals.views} views checked against the room's, in ${seconds} s. Answers: ` +
        JSON.stringify(Object.fromEntries([...totals.outcomes].sort())),
    );
  });

  it("answers every ref exactly once, closes only what must close, and stays consistent", {
    timeout: 600_000,
  }, async () => {
    console.log(`channel fuzz: seed ${FUZZ_SEED}, ${RUNS} runs (replay with VITE_FUZZ_SEED=${FUZZ_SEED})`);
    await fc.assert(
      fc.asyncProperty(
        fc.array(stepArbitrary(MEMBER_USERS.length), { minLength: 1, maxLength: MAX_FRAMES_PER_RUN, size: "max" }),
        async (steps) => {
          totals.runs += 1;
          const loggedBefore = errors.mock.calls.length;
          const users: User[] = [];
          for (let index = 0; index < USERS_PER_RUN; index++) users.push(await makeUser(`fz${++names}`));
          const run = new Run(`fuzz_${names}`, users);
          // Opened by user 0 beforehand, so the owner (who may delete anyone's post) is known.
          await seedRooms(users[0] as User, [run.room]);
          try {
            for (let member = 0; member < MEMBER_USERS.length; member++) await run.socketOf(member);
            for (const step of steps) await run.play(step);
            await run.checkAnswers();
            await run.checkMembership();
            // Last: its join of the room would be presence the membership check does not expect.
            const turn = totals.runs / 2;
            const comingBack = Number.isInteger(turn) ? turn % MEMBER_USERS.length : undefined;
            await run.checkViews(comingBack, WAYS_IN[(turn % WAYS_IN.length) | 0] as WayIn);
          } finally {
            await closeAll(run.open);
          }
          const logged = errors.mock.calls.slice(loggedBefore);
          if (logged.length > 0) run.failures.push(`console.error: ${JSON.stringify(logged)}`);
          expect(run.failures).toEqual([]);
        },
      ),
      { seed: FUZZ_SEED, numRuns: RUNS, endOnFailure: true },
    );
    if (!RUNS_OVERRIDDEN) expect(totals.frames).toBeGreaterThanOrEqual(MIN_FRAMES);
    // `unavailable` is allowed for a slow D1, but a room that stored nothing would be no test at all; nor
    // would edits and deletions that never reached a post.
    expect(totals.outcomes.get("post: ok") ?? 0).toBeGreaterThan(totals.outcomes.get("post: unavailable") ?? 0);
    expect(totals.outcomes.get("edit: ok") ?? 0).toBeGreaterThan(0);
    expect(totals.outcomes.get("delete: ok") ?? 0).toBeGreaterThan(0);
    expect(totals.outcomes.get("edit: forbidden") ?? 0).toBeGreaterThan(0);
  });
});
