/**
 * Unread and mention counts in D1 (src/db/read-states.ts): a model test over posts, deletions and read
 * positions; the cap; positions written as the room copies them; and counts that vanish with access.
 */
import { env } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { batch } from "../../src/db/batch";
import { COUNT_CAP, type ReadState, readPositionStatements, readStates } from "../../src/db/read-states";
import { posts, roomBans, roomMembers, rooms } from "../../src/db/schema";
import type { User } from "../../src/db/users";
import { FUZZ_SEED, runsOr } from "../fuzz/settings";
import { copiedPosts, db, makeUser } from "../helpers/users";

let made = 0;
/** A new public room, as creating one leaves it in D1: its row, before any post. */
async function roomName(prefix: string): Promise<string> {
  made += 1;
  const id = `${prefix}_${made}`;
  await db.insert(rooms).values({ id, kind: "public", postCount: 0, lastPostAt: new Date() });
  return id;
}

async function setPositions(room: string, positions: Array<[User, number]>): Promise<void> {
  const at = Date.now();
  await batch(
    db,
    readPositionStatements(
      room,
      positions.map(([user, lastReadId]) => ({ userId: user.id, lastReadId, at })),
    ),
  );
}

async function deletePost(room: string, seq: number): Promise<void> {
  await db
    .update(posts)
    .set({ message: "", deletedAt: new Date(), deletedBy: "author" })
    .where(and(eq(posts.room, room), eq(posts.seq, seq)));
}

describe("counting what is new for each person", () => {
  it("agrees with a model after any mix of posts, mentions, deletions and moves of the read positions", async () => {
    const people = [await makeUser("rs_ann"), await makeUser("rs_ben"), await makeUser("rs_cal")];
    const op = fc.oneof(
      fc.record({
        kind: fc.constant("post" as const),
        author: fc.nat(2),
        mention: fc.option(fc.nat(2), { nil: null }),
      }),
      fc.record({ kind: fc.constant("delete" as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant("read" as const), who: fc.nat(2), pick: fc.nat() }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), async (ops) => {
        const room = await roomName("model");
        // The model: each post's author, whom it mentions, whether deleted; each person's position.
        const model: Array<{ author: number; mention: number | null; deleted: boolean }> = [];
        const position = [0, 0, 0];
        await setPositions(
          room,
          people.map((person) => [person, 0]),
        );
        for (const step of ops) {
          if (step.kind === "post") {
            const mention = step.mention === null ? "" : ` @${people[step.mention]?.username}`;
            await copiedPosts(room, [[people[step.author] as User, `hello${mention}`]], model.length + 1);
            model.push({ author: step.author, mention: step.mention, deleted: false });
          } else if (step.kind === "delete" && model.length > 0) {
            const index = step.pick % model.length;
            await deletePost(room, index + 1);
            (model[index] as { deleted: boolean }).deleted = true;
          } else if (step.kind === "read") {
            const to = step.pick % (model.length + 1);
            await setPositions(room, [[people[step.who] as User, to]]);
            position[step.who] = to;
          }
        }
        const expected: ReadState[] = people.map((person, who) => {
          const after = model.filter((post, index) => index + 1 > (position[who] ?? 0) && !post.deleted);
          const others = after.filter((post) => post.author !== who);
          return {
            room,
            user_id: person.id,
            last_read_id: position[who] ?? 0,
            unread: others.length,
            // A post never mentions its own author (src/shared/mentions.ts's rule, as D1 records it).
            mentions: others.filter((post) => post.mention === who).length,
          };
        });
        const got = await readStates(db, { userIds: people.map((person) => person.id), rooms: [room] });
        expect(got).toEqual(expected);
      }),
      { seed: FUZZ_SEED, numRuns: runsOr(15) },
    );
  });

  it(`stops counting at ${COUNT_CAP}, and answers for all of a person's rooms in one query`, async () => {
    const reader = await makeUser("rs_reader");
    const writer = await makeUser("rs_writer");
    const busy = await roomName("busy");
    const quiet = await roomName("quiet");
    const untouched = await roomName("untouched");
    await copiedPosts(
      busy,
      Array.from({ length: COUNT_CAP + 20 }, () => [writer, `@rs_reader hi`]),
      1,
    );
    await copiedPosts(
      quiet,
      [
        [writer, "one"],
        [reader, "mine"],
        [writer, "two"],
      ],
      1,
    );
    await copiedPosts(untouched, [[writer, "never opened"]], 1);
    await setPositions(busy, [[reader, 0]]);
    await setPositions(quiet, [[reader, 1]]);
    const states = await readStates(db, { userIds: [reader.id] });
    expect(states).toEqual([
      { room: busy, user_id: reader.id, last_read_id: 0, unread: COUNT_CAP, mentions: COUNT_CAP },
      { room: quiet, user_id: reader.id, last_read_id: 1, unread: 1, mentions: 0 },
    ]);
    expect(await readStates(db, { userIds: [reader.id], rooms: [quiet] })).toHaveLength(1);
    expect(await readStates(db, { userIds: [reader.id], rooms: [] })).toEqual([]);
    expect(await readStates(db, { userIds: [] })).toEqual([]);
  });

  it("writes positions as the room copies them, back as well as forward, and drops a deleted account's", async () => {
    const reader = await makeUser("rs_mover");
    const room = await roomName("moves");
    await setPositions(room, [[reader, 5]]);
    await setPositions(room, [[reader, 2]]);
    expect((await readStates(db, { userIds: [reader.id] }))[0]?.last_read_id).toBe(2);
    await batch(db, readPositionStatements(room, [{ userId: 999_999, lastReadId: 1, at: Date.now() }]));
    expect(await readStates(db, { userIds: [999_999] })).toEqual([]);
  });

  it("never counts a room its reader lost: removed from a private room, or banned from a public one", async () => {
    const member = await makeUser("rs_member");
    const owner = await makeUser("rs_owner");
    const secret = `~${"r".repeat(34)}`;
    const at = new Date();
    await db.insert(rooms).values({ id: secret, kind: "private", title: "Quiet", postCount: 0, lastPostAt: at });
    await db.insert(roomMembers).values([
      { room: secret, userId: member.id, role: "member", addedAt: at },
      { room: secret, userId: owner.id, role: "owner", addedAt: at },
    ]);
    const open = await roomName("open");
    await copiedPosts(secret, [[owner, "@rs_member secret"]], 1);
    await copiedPosts(open, [[owner, "@rs_member public"]], 1);
    await setPositions(secret, [[member, 0]]);
    await setPositions(open, [[member, 0]]);
    const rooms_ = async () => (await readStates(db, { userIds: [member.id] })).map((state) => state.room);
    expect(await rooms_()).toEqual([open, secret].sort());

    await db.delete(roomMembers).where(and(eq(roomMembers.room, secret), eq(roomMembers.userId, member.id)));
    await db.insert(roomBans).values({ room: open, userId: member.id, bannedAt: at, bannedBy: owner.id });
    expect(await rooms_()).toEqual([]);
    // The owner still counts the secret room: only the lost reader's counts go.
    expect(await readStates(db, { userIds: [owner.id] })).toEqual([]);
    await setPositions(secret, [[owner, 0]]);
    expect(await readStates(db, { userIds: [owner.id] })).toEqual([
      { room: secret, user_id: owner.id, last_read_id: 0, unread: 0, mentions: 0 },
    ]);
    expect(env.DB).toBeDefined();
  });
});
