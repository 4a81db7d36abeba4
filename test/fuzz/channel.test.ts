/**
 * Property-based test of the channel core through the real room, over real sockets: four sockets (two of
 * them one user's) in one room are sent generated sequences of frames, valid joins, leaves, posts, typing
 * and heartbeats mixed with malformed frames, stale join_refs, unknown events, foreign topics, binary
 * pushes and the frames that close a socket. After each sequence:
 * - every frame that carried a ref got exactly one `phx_reply` with that ref, the one the model expects
 *   (channel-model.ts), and no reply came for anything else;
 * - no socket was closed but by a frame that must close it, with that frame's code and reason;
 * - nothing was logged by console.error (the room logs every error it catches there);
 * - the room agrees with the model on who is joined: a newcomer's presence (state + diffs, synced with the
 *   official client's `Presence`) lists exactly the joined sockets, and a post reaches exactly them, as a
 *   push with the right join_ref for those who joined with `mentions_only` (the post mentions everyone).
 *
 * Fixed seed (settings.ts); every run prints it. Runs × frames: see the summary line this file prints.
 */
import fc from "fast-check";
import { Presence } from "phoenix";
import { afterAll, describe, expect, it, vi } from "vitest";
import type { User } from "../../src/db/users";
import { closeAll, connect, connectAndJoin, type Frame, type TestSocket } from "../helpers/socket";
import { makeUser } from "../helpers/users";
import { type Expectation, type Outgoing, SocketModel, type Step, stepArbitrary } from "./channel-model";
import { FUZZ_SEED, RUNS_OVERRIDDEN, runsOr } from "./settings";

/** Member index → which of the run's users it is: user 0 has two sockets (one presence key, two metas). */
const MEMBER_USERS = [0, 0, 1, 2] as const;
const USERS_PER_RUN = 3;
const RUNS = runsOr(50);
const MAX_FRAMES_PER_RUN = 600;
/** What `npm test` must generate in this file when the run count is its own. */
const MIN_FRAMES = 10_000;

const HEARTBEAT_REPLY: Frame = [null, "hb", "phoenix", "phx_reply", { status: "ok", response: {} }];

/** What the runs covered, printed at the end: how often each kind of frame got each answer. */
const totals = { runs: 0, frames: 0, replies: 0, closes: 0, outcomes: new Map<string, number>(), started: Date.now() };
let names = 0;

/** One socket of a member: a member whose socket was closed gets a new one at its next step. */
interface Incarnation {
  model: SocketModel;
  socket: TestSocket;
  closed: boolean;
  expected: Array<{ ref: string; expectation: Expectation; clientId?: string }>;
  constantHeartbeats: number;
  closeExpected?: { code: number; reason: string };
}

class Run {
  readonly topic: string;
  readonly incarnations: Incarnation[] = [];
  readonly current: Array<Incarnation | undefined> = [];
  readonly open: TestSocket[] = [];
  readonly failures: string[] = [];

  constructor(
    readonly room: string,
    readonly users: User[],
  ) {
    this.topic = `room:${room}`;
  }

  get usernames(): string[] {
    return this.users.map((user) => user.username);
  }

  async socketOf(member: number): Promise<Incarnation> {
    const existing = this.current[member];
    if (existing && existing.closeExpected === undefined) return existing;
    const user = this.users[MEMBER_USERS[member] ?? 0] as User;
    const socket = await connect(user, this.room);
    this.open.push(socket);
    const incarnation: Incarnation = {
      model: new SocketModel(`m${member}i${this.incarnations.length}`, this.topic, user.id),
      socket,
      closed: false,
      expected: [],
      constantHeartbeats: 0,
    };
    void socket.closed.then(() => {
      incarnation.closed = true;
    });
    this.incarnations.push(incarnation);
    this.current[member] = incarnation;
    return incarnation;
  }

  async play(step: Step): Promise<void> {
    const incarnation = await this.socketOf(step.member);
    const outgoing: Outgoing = incarnation.model.frameFor(step.action, this.usernames);
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

  /** The room agrees with the model on who is joined: presence and delivery of a post to exactly them. */
  async checkMembership(): Promise<void> {
    const live = this.incarnations.filter((incarnation) => incarnation.closeExpected === undefined);
    const observerUser = await makeUser(`fzobs${++names}`);
    const { socket: observer } = await connectAndJoin(observerUser, this.room);
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
        `${totals.closes} sockets closed on purpose, in ${seconds} s. Answers: ` +
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
          try {
            for (let member = 0; member < MEMBER_USERS.length; member++) await run.socketOf(member);
            for (const step of steps) await run.play(step);
            await run.checkAnswers();
            await run.checkMembership();
          } finally {
            await closeAll(run.open);
          }
          const logged = errors.mock.calls.slice(loggedBefore);
          if (logged.length > 0) run.failures.push(`console.error: ${JSON.stringify(logged)}`);
          expect(run.failures).toEqual([]);
        },
      ),
      { seed: FUZZ_SEED, numRuns: RUNS },
    );
    if (!RUNS_OVERRIDDEN) expect(totals.frames).toBeGreaterThanOrEqual(MIN_FRAMES);
    // `unavailable` is allowed for a slow D1, but a room that stored nothing would be no test at all.
    expect(totals.outcomes.get("post: ok") ?? 0).toBeGreaterThan(totals.outcomes.get("post: unavailable") ?? 0);
  });
});
