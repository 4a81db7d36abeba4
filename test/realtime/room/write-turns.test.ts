/**
 * WriteTurns: in a quiet room a post's write runs at once; posts that come close together run in one later
 * turn, in the order they came; a write nobody waits for waits up to LATER_MS or rides with the next post;
 * `flush` runs them at once (a change must not overtake posts that came before it); a failing write fails
 * only its own caller.
 */
import { describe, expect, it } from "vitest";
import { BUSY_WITHIN_MS, LATER_MS, WriteTurns } from "../../../src/realtime/room/write-turns";

const noLog = (where: string, problem: unknown) => {
  throw new Error(`unexpected log from ${where}: ${problem}`);
};

/** A clock the test moves. */
function clock(start = 1_000) {
  let at = start;
  return { now: () => at, advance: (ms: number) => (at += ms) };
}

describe("WriteTurns", () => {
  it("runs a write at once in a quiet room, and queues the writes that follow within BUSY_WITHIN_MS for one later turn", async () => {
    const time = clock();
    const turns = new WriteTurns(noLog, time.now);
    const ran: string[] = [];
    const write = (name: string) => () => {
      ran.push(name);
      return name;
    };
    const first = turns.run(write("a"));
    expect(ran).toEqual(["a"]); // quiet: in the caller's turn
    time.advance(BUSY_WITHIN_MS - 1);
    const second = turns.run(write("b"));
    const third = turns.run(write("c"));
    expect(ran).toEqual(["a"]);
    await Promise.resolve();
    expect(ran).toEqual(["a"]); // nor in the caller's microtasks: a frame arriving meanwhile still joins the turn
    expect(await Promise.all([first, second, third])).toEqual(["a", "b", "c"]);
    expect(ran).toEqual(["a", "b", "c"]);
    time.advance(BUSY_WITHIN_MS);
    void turns.run(write("d"));
    expect(ran).toEqual(["a", "b", "c", "d"]); // quiet again
  });

  it("flush runs the queued writes at once, and the turn's timer then finds nothing to run again", async () => {
    const turns = new WriteTurns(noLog, () => 0);
    const ran: string[] = [];
    void turns.run(() => ran.push("quiet"));
    const queued = turns.run(() => ran.push("post"));
    expect(ran).toEqual(["quiet"]);
    turns.flush();
    ran.push("change");
    expect(ran).toEqual(["quiet", "post", "change"]);
    await queued;
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(ran).toEqual(["quiet", "post", "change"]);
  });

  it("holds a write nobody waits for up to LATER_MS, or runs it before the next post, in the order they came", async () => {
    const time = clock();
    const turns = new WriteTurns(noLog, time.now);
    const ran: string[] = [];
    turns.later(() => ran.push("position 1"));
    turns.later(() => ran.push("position 2"));
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(ran).toEqual([]); // held for others to share the commit
    void turns.run(() => ran.push("post"));
    expect(ran).toEqual(["position 1", "position 2", "post"]); // a quiet room's post takes them along
    turns.later(() => ran.push("position 3"));
    const started = Date.now();
    while (!ran.includes("position 3")) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(Date.now() - started).toBeGreaterThanOrEqual(LATER_MS - 5);
  });

  it("logs a write nobody waits for that throws, and still runs the posts queued after it", async () => {
    const logged: string[] = [];
    const turns = new WriteTurns(
      (where, problem) => logged.push(`${where}: ${(problem as Error).message}`),
      () => 0,
    );
    void turns.run(() => "quiet");
    turns.later(() => {
      throw new Error("storage full");
    });
    const post = turns.run(() => "stored");
    expect(await post).toBe("stored");
    expect(logged).toEqual(["WriteTurns:later: storage full"]);
  });

  it("fails only the caller whose write threw, at once or in a turn; the writes after it still run", async () => {
    const turns = new WriteTurns(noLog, () => 0);
    await expect(
      turns.run(() => {
        throw new Error("refused at once");
      }),
    ).rejects.toThrow("refused at once");
    const failing = turns.run(() => {
      throw new Error("refused in a turn");
    });
    const after = turns.run(() => "stored");
    await expect(failing).rejects.toThrow("refused in a turn");
    expect(await after).toBe("stored");
  });
});
