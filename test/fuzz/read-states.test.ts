/**
 * Exact counts, a model test through the real room (issue 17, "What must hold"): three people in one room,
 * one of them with two tabs, are sent generated mixes of posts (mentioning any of them), edits and deletions
 * by their authors, `mark_read` and `mark_unread` from any tab, reconnects (a tab closed and opened again)
 * and evictions of the room. Every answer of `mark_read`/`mark_unread`, and every rejoin's `last_read_id`,
 * is the model's position (forward only for `mark_read`, so two tabs end at the furthest). At the end, once
 * a last post by a fourth person is in D1 (the room's group commit carries every position moved before it),
 * D1's counts (src/db/read-states.ts) are, for each person, exactly the posts after their position that are
 * not their own and not deleted, and those of them that mention them.
 *
 * Fixed seed (settings.ts); rate limits may refuse a post or an edit (the pool's post bucket is small):
 * the model then changes nothing.
 */
import { evictDurableObject } from "cloudflare:test";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { readStates } from "../../src/db/read-states";
import type { User } from "../../src/db/users";
import { closeAll, connectAndJoin, roomStub, type TestSocket } from "../helpers/socket";
import { db, makeUser } from "../helpers/users";
import { FUZZ_SEED, runsOr } from "./settings";

const RUNS = runsOr(10);
/** Tab → person: person 0 has two tabs. */
const TAB_PEOPLE = [0, 0, 1, 2] as const;
const PEOPLE = 3;

type Step =
  | { kind: "post"; author: number; mentions: boolean[] }
  | { kind: "edit"; pick: number; mentions: boolean[] }
  | { kind: "delete"; pick: number }
  | { kind: "read"; tab: number; pick: number }
  | { kind: "unread"; tab: number; pick: number }
  | { kind: "reconnect"; tab: number }
  | { kind: "evict" };

const mentions = fc.array(fc.boolean(), { minLength: PEOPLE, maxLength: PEOPLE });
const tab = fc.nat(TAB_PEOPLE.length - 1);
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("post" as const), author: fc.nat(PEOPLE - 1), mentions }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("edit" as const), pick: fc.nat(), mentions }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("delete" as const), pick: fc.nat() }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant("read" as const), tab, pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("unread" as const), tab, pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("reconnect" as const), tab }) },
  { weight: 1, arbitrary: fc.constant<Step>({ kind: "evict" }) },
);

interface ModelPost {
  id: number;
  author: number;
  /** Whom it mentions now, by person. */
  mentions: Set<number>;
  deleted: boolean;
}

const totals = { runs: 0, steps: 0, checked: 0, refused: 0, started: Date.now() };
let names = 0;

class Run {
  readonly topic: string;
  readonly tabs: Array<{ socket: TestSocket; joinRef: string }> = [];
  readonly open: TestSocket[] = [];
  readonly posts: ModelPost[] = [];
  /** Each person's read position, as the room must hold it. */
  readonly positions: number[] = Array(PEOPLE).fill(0);
  lastSeq = 0;
  readonly failures: string[] = [];

  constructor(
    readonly room: string,
    readonly people: User[],
  ) {
    this.topic = `room:${room}`;
  }

  async start(): Promise<void> {
    for (let index = 0; index < TAB_PEOPLE.length; index++) this.tabs.push(await this.#join(index));
  }

  async #join(tabIndex: number): Promise<{ socket: TestSocket; joinRef: string }> {
    const person = TAB_PEOPLE[tabIndex] as number;
    const { socket, joined, joinRef } = await connectAndJoin(this.people[person] as User, this.room);
    this.open.push(socket);
    this.#expect(`tab ${tabIndex} joined`, joined.response.last_read_id, this.positions[person]);
    return { socket, joinRef };
  }

  #expect(what: string, got: unknown, want: unknown): void {
    totals.checked += 1;
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      this.failures.push(`${what}: got ${JSON.stringify(got)}, the model ${JSON.stringify(want)}`);
    }
  }

  #text(mentioned: boolean[]): string {
    const names = this.people.filter((_, index) => mentioned[index]).map((person) => `@${person.username}`);
    return `hi ${names.join(" ")}`.trim();
  }

  #livePost(pick: number): ModelPost | undefined {
    const live = this.posts.filter((post) => !post.deleted);
    return live[pick % Math.max(1, live.length)];
  }

  /** A tab of `person` (their first), to push as them. */
  #tabOf(person: number) {
    return this.tabs[TAB_PEOPLE.indexOf(person as 0 | 1 | 2)] as { socket: TestSocket; joinRef: string };
  }

  async play(action: Step): Promise<void> {
    totals.steps += 1;
    switch (action.kind) {
      case "post": {
        const { socket, joinRef } = this.#tabOf(action.author);
        const reply = await socket.push(this.topic, "new_post", { message: this.#text(action.mentions) }, joinRef);
        if (reply.status !== "ok") {
          totals.refused += 1;
          return;
        }
        const id = reply.response.id as number;
        const mentioned = new Set(action.mentions.flatMap((on, person) => (on ? [person] : [])));
        this.posts.push({ id, author: action.author, mentions: mentioned, deleted: false });
        this.lastSeq = id;
        return;
      }
      case "edit":
      case "delete": {
        const post = this.#livePost(action.pick);
        if (!post) return;
        const { socket, joinRef } = this.#tabOf(post.author);
        const reply =
          action.kind === "edit"
            ? await socket.push(this.topic, "edit_post", { id: post.id, message: this.#text(action.mentions) }, joinRef)
            : await socket.push(this.topic, "delete_post", { id: post.id }, joinRef);
        if (reply.status !== "ok") {
          totals.refused += 1;
          return;
        }
        if (action.kind === "edit") post.mentions = new Set(action.mentions.flatMap((on, p) => (on ? [p] : [])));
        else post.deleted = true;
        this.lastSeq = reply.response.seq as number;
        return;
      }
      case "read":
      case "unread": {
        const person = TAB_PEOPLE[action.tab] as number;
        const { socket, joinRef } = this.tabs[action.tab] as { socket: TestSocket; joinRef: string };
        if (action.kind === "unread" && this.lastSeq === 0) return;
        const id = action.kind === "read" ? action.pick % (this.lastSeq + 1) : 1 + (action.pick % this.lastSeq);
        const payload = action.kind === "read" ? { up_to_id: id } : { from_id: id };
        const reply = await socket.push(this.topic, `mark_${action.kind}`, payload, joinRef);
        const position = this.positions[person] as number;
        this.positions[person] = action.kind === "read" ? Math.max(position, id) : id - 1;
        this.#expect(`${action.kind} ${id} on tab ${action.tab}`, reply.response, {
          last_read_id: this.positions[person],
        });
        return;
      }
      case "reconnect": {
        const { socket } = this.tabs[action.tab] as { socket: TestSocket };
        await closeAll([socket]);
        this.tabs[action.tab] = await this.#join(action.tab);
        return;
      }
      case "evict":
        // Twice in a row, the room is not running the second time: nothing to evict.
        await evictDurableObject(roomStub(this.room)).catch((problem: Error) => {
          if (!/not currently running/.test(problem.message)) throw problem;
        });
    }
  }

  /** D1's counts, once a last post (by someone outside the model's three) is in D1, against the model. */
  async checkCounts(witness: User): Promise<void> {
    const { socket, joinRef } = await connectAndJoin(witness, this.room);
    this.open.push(socket);
    const reply = await socket.push(this.topic, "new_post", { message: "the last word" }, joinRef);
    if (reply.status !== "ok") {
      this.failures.push(`the last post was answered ${JSON.stringify(reply.response)}`);
      return;
    }
    this.posts.push({ id: reply.response.id as number, author: -1, mentions: new Set(), deleted: false });
    const states = await readStates(db, { userIds: this.people.map((person) => person.id), rooms: [this.room] });
    const got = states.map(({ user_id, last_read_id, unread, mentions }) => ({
      user_id,
      last_read_id,
      unread,
      mentions,
    }));
    const want = this.people.map((person, index) => {
      const position = this.positions[index] as number;
      const unread = this.posts.filter((post) => post.id > position && post.author !== index && !post.deleted);
      return {
        user_id: person.id,
        last_read_id: position,
        unread: unread.length,
        mentions: unread.filter((post) => post.mentions.has(index)).length,
      };
    });
    this.#expect(
      "D1's counts",
      got,
      want.sort((a, b) => a.user_id - b.user_id),
    );
  }
}

describe("unread and mention counts against a model", () => {
  afterAll(() => {
    const seconds = ((Date.now() - totals.started) / 1000).toFixed(1);
    console.log(
      `read-state fuzz: seed ${FUZZ_SEED}, ${totals.runs} runs, ${totals.steps} steps, ${totals.checked} answers ` +
        `and counts checked, ${totals.refused} posts or edits refused by rate limits, in ${seconds} s`,
    );
  });

  it("agrees after any mix of posts, edits, deletions, reads on two tabs, reconnects and evictions", {
    timeout: 300_000,
  }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 30, size: "max" }), async (steps) => {
        totals.runs += 1;
        names += 1;
        const people = [];
        for (const who of ["ann", "ben", "cal"]) people.push(await makeUser(`rs${names}_${who}`));
        const run = new Run(`read_states_${names}`, people);
        try {
          await run.start();
          for (const action of steps) await run.play(action);
          await run.checkCounts(await makeUser(`rs${names}_dan`));
        } finally {
          await closeAll(run.open);
        }
        expect(run.failures).toEqual([]);
      }),
      { seed: FUZZ_SEED, numRuns: RUNS, endOnFailure: true },
    );
  });
});
