/**
 * Mentions in D1 (src/db/mentions.ts, migration `post_mentions`): recorded by the room's copy by the one
 * mention rule, the migration's SQL for older posts agreeing with that rule, following edits and deletions,
 * newest first with a cursor, only in rooms the person can read, and the top bar's count.
 */
import { env } from "cloudflare:workers";
import { and, eq, sql } from "drizzle-orm";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type MentionCursor,
  mentionsOf,
  openMentions,
  UNSEEN_MENTIONS_CAP,
  unseenMentionCount,
} from "../../src/db/mentions";
import { copyLogged, copyPosts, type LoggedPost } from "../../src/db/posts";
import { postMentions, posts, roomBans, roomMembers, rooms } from "../../src/db/schema";
import type { User } from "../../src/db/users";
import { mentions } from "../../src/shared/mentions";
import { FUZZ_SEED, runsOr } from "../fuzz/settings";
import { db, makeUser } from "../helpers/users";

let made = 0;

function roomName(prefix: string): string {
  made += 1;
  return `${prefix}_${made}`;
}

/** Posts copied to D1 exactly as a room copies its log (copyPosts), numbered after `first`. */
async function copied(room: string, entries: Array<[User, string]>, first = 1, at = Date.now()): Promise<void> {
  const logged: LoggedPost[] = entries.map(([author, message], n) => ({
    post: {
      id: first + n,
      message,
      inserted_at: new Date(at + n).toISOString(),
      user: { id: author.id, username: author.username },
    },
    clientId: null,
  }));
  const outcomes = await copyPosts(db, room, logged);
  expect(outcomes.every((outcome) => outcome.kind === "copied")).toBe(true);
}

/** Who is recorded as mentioned in each post of `room`: [seq, username] sorted. */
async function recorded(room: string): Promise<Array<[number, string]>> {
  const rows = await db.all<{ seq: number; username: string }>(sql`
    SELECT p.seq AS seq, u.username AS username FROM post_mentions m
    JOIN posts p ON p.id = m.post_id JOIN users u ON u.id = m.user_id
    WHERE p.room = ${room} ORDER BY p.seq, u.username`);
  return rows.map(({ seq, username }) => [seq, username]);
}

async function privateRoom(members: User[]): Promise<string> {
  made += 1;
  const id = `~${String(made).padStart(34, "m")}`;
  const at = new Date();
  await db.insert(rooms).values({ id, kind: "private", title: "Quiet", postCount: 0, lastPostAt: at });
  for (const member of members) {
    await db.insert(roomMembers).values({ room: id, userId: member.id, role: "member", addedAt: at });
  }
  return id;
}

function messagesOf(page: Awaited<ReturnType<typeof mentionsOf>>): string[] {
  return page.mentions.map((found) => found.post.message);
}

describe("recording mentions with the room's copy to D1", () => {
  it("records each person a post mentions once, by the mention rule, never its author nor a name nobody has", async () => {
    const alice = await makeUser("rec_alice");
    const bob = await makeUser("Rec_Bob");
    const room = roomName("recording");
    await copied(room, [
      [alice, "hi @REC_BOB and @rec_bob again, @rec_alice is me"],
      [bob, "@rec_alice: look at rec_bob@example.com and @rec_alicex and @rec_ghost"],
      [bob, "no mentions here"],
    ]);
    expect(await recorded(room)).toEqual([
      [1, "Rec_Bob"],
      [2, "rec_alice"],
    ]);
    const [row] = await db
      .select()
      .from(postMentions)
      .where(and(eq(postMentions.userId, bob.id), eq(postMentions.room, room)));
    const [post] = await db
      .select()
      .from(posts)
      .where(and(eq(posts.room, room), eq(posts.seq, 1)));
    expect(row).toEqual({ userId: bob.id, postId: post?.id, room, at: post?.insertedAt });

    // A retried copy (its answer lost) records nothing twice.
    await copied(room, [[alice, "hi @REC_BOB and @rec_bob again, @rec_alice is me"]]);
    expect(await recorded(room)).toEqual([
      [1, "Rec_Bob"],
      [2, "rec_alice"],
    ]);
  });

  it("follows the post's text: an edit mentions whom the new text does, a deletion nobody", async () => {
    const alice = await makeUser("edit_alice");
    const bob = await makeUser("edit_bob");
    const carol = await makeUser("edit_carol");
    const room = roomName("edits");
    await copied(room, [
      [alice, "@edit_bob first"],
      [alice, "@edit_bob to be deleted"],
      [alice, "@edit_carol row to be removed"],
    ]);
    // An edit as the room's copy to D1 carries it (a change with the post as it now is), then a deletion.
    const edited = "now @edit_carol instead";
    const post = (seq: number, message: string) => ({
      id: seq,
      message,
      inserted_at: new Date().toISOString(),
      user: { id: alice.id, username: alice.username },
    });
    const at = Date.now();
    await copyLogged(db, room, [
      {
        change: {
          seq: 4,
          type: "edit",
          postSeq: 1,
          at,
          data: null,
          post: { ...post(1, edited), edited_at: new Date(at).toISOString() },
        },
      },
    ]);
    await db
      .update(posts)
      .set({ message: "" })
      .where(and(eq(posts.room, room), eq(posts.seq, 2)));
    await db.delete(posts).where(and(eq(posts.room, room), eq(posts.seq, 3)));
    expect(await recorded(room)).toEqual([[1, "edit_carol"]]);
    expect(messagesOf(await mentionsOf(db, bob.id, { limit: 10 }))).toEqual([]);
    expect(messagesOf(await mentionsOf(db, carol.id, { limit: 10 }))).toEqual(["now @edit_carol instead"]);

    // Text set to what it already was (an edit that changes nothing) keeps the mentions.
    await db
      .update(posts)
      .set({ message: "now @edit_carol instead" })
      .where(and(eq(posts.room, room), eq(posts.seq, 1)));
    expect(await recorded(room)).toEqual([[1, "edit_carol"]]);
  });

  it("finds, in the migration's SQL for older posts, exactly the mentions the rule finds, as the copy does", async () => {
    const names = ["mig_al", "Mig_Alice", "mig_alice_b", "MIG_BOB9", "mig_x"];
    const people = await Promise.all(names.map((name) => makeUser(name)));
    // The migration's statement, as wrangler applies it: run again over posts it has not seen.
    const backfill = env.TEST_MIGRATIONS.flatMap((migration) => migration.queries).find((query) =>
      query.includes("INSERT OR IGNORE INTO `post_mentions`"),
    );
    if (!backfill) throw new Error("the migration that fills post_mentions is missing");

    const pieces = fc.constantFrom(
      ...["@", "@@", " ", ".", "_", "x", "9", "é", "🔥", "\n", "mail", "mig_al", "MIG_ALICE", "mig_alice", "_b"],
      ...["mig_alice_b", "mig_bob9", "Mig_Bob", "mig_x", "mig_xy", "(", ":", "-", "a@"],
    );
    const message = fc.array(pieces, { minLength: 1, maxLength: 12 }).map((parts) => parts.join(""));
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(people.length - 1), message), { minLength: 1, maxLength: 8 }),
        async (drafts) => {
          const entries = drafts.map(([author, text]): [User, string] => [people[author] as User, text]);
          const expected = entries
            .flatMap(([author, text], n) =>
              people
                .filter((person) => person.id !== author.id && mentions(text, person.username))
                .map((person): [number, string] => [n + 1, person.username]),
            )
            .sort(([a, x], [b, y]) => a - b || (x < y ? -1 : x > y ? 1 : 0));

          const viaCopy = roomName("mig_copy");
          await copied(viaCopy, entries);
          expect(await recorded(viaCopy)).toEqual(expected);

          // Written straight into D1, as posts from before the migration were: no mentions recorded.
          const viaMigration = roomName("mig_sql");
          await db.insert(posts).values(
            entries.map(([author, text], n) => ({
              room: viaMigration,
              seq: n + 1,
              userId: author.id,
              message: text,
            })),
          );
          expect(await recorded(viaMigration)).toEqual([]);
          await env.DB.prepare(backfill).run();
          expect(await recorded(viaMigration)).toEqual(expected);
        },
      ),
      { seed: FUZZ_SEED, numRuns: runsOr(25) },
    );
    // About 1 s alone; bounded well above that for a machine busy with other work.
  }, 30_000);
});

describe("mentionsOf", () => {
  it("pages a person's mentions newest first across rooms, with a cursor that splits posts of one millisecond", async () => {
    const me = await makeUser("pager_me");
    const them = await makeUser("pager_them");
    const [one, two] = [roomName("pager_one"), roomName("pager_two")];
    const at = Date.UTC(2026, 5, 1);
    await copied(
      one,
      [
        [them, "@pager_me 1"],
        [them, "@pager_me 2"],
        [them, "not you"],
      ],
      1,
      at,
    );
    await copied(
      two,
      [
        [them, "@pager_me 3"],
        [me, "@pager_me myself"],
      ],
      1,
      at + 10,
    );
    // Three more in one millisecond: copied in one batch, the same inserted_at.
    const same = new Date(at + 20).toISOString();
    await copyPosts(
      db,
      one,
      ["@pager_me 4", "@pager_me 5", "@pager_me 6"].map((message, n) => ({
        post: { id: 4 + n, message, inserted_at: same, user: { id: them.id, username: them.username } },
        clientId: null,
      })),
    );

    const seen: string[] = [];
    let before: MentionCursor | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const page = await mentionsOf(db, me.id, { before, limit: 2 });
      seen.push(...messagesOf(page));
      if (!page.next) break;
      before = page.next;
    }
    expect(seen).toEqual(["@pager_me 6", "@pager_me 5", "@pager_me 4", "@pager_me 3", "@pager_me 2", "@pager_me 1"]);
    const first = await mentionsOf(db, me.id, { limit: 1 });
    expect(first.mentions[0]?.room).toEqual({ id: one, kind: "public", title: null, partner: null });
    expect(first.mentions[0]?.post.user).toEqual({ id: them.id, username: "pager_them" });
    expect((await mentionsOf(db, me.id, { limit: 6 })).next).toBeNull();
  });

  it("lists only rooms the person can read: a private room's mentions vanish when they are removed", async () => {
    const me = await makeUser("hidden_me");
    const them = await makeUser("hidden_them");
    const room = await privateRoom([me, them]);
    const elsewhere = await privateRoom([them]);
    await copied(room, [[them, "@hidden_me in our room"]]);
    await copied(elsewhere, [[them, "@hidden_me behind your back"]]);
    expect(messagesOf(await mentionsOf(db, me.id, { limit: 10 }))).toEqual(["@hidden_me in our room"]);
    expect(await unseenMentionCount(db, me.id)).toBe(1);

    await db.delete(roomMembers).where(and(eq(roomMembers.room, room), eq(roomMembers.userId, me.id)));
    expect(messagesOf(await mentionsOf(db, me.id, { limit: 10 }))).toEqual([]);
    expect(await unseenMentionCount(db, me.id)).toBe(0);
  });

  it("leaves out a room that banned the person: its mentions and their count vanish", async () => {
    const me = await makeUser("banned_me");
    const them = await makeUser("banned_them");
    const room = await privateRoom([me, them]);
    await copied(room, [[them, "@banned_me before the ban"]]);
    expect(messagesOf(await mentionsOf(db, me.id, { limit: 10 }))).toEqual(["@banned_me before the ban"]);
    expect(await unseenMentionCount(db, me.id)).toBe(1);

    await db.insert(roomBans).values({ room, userId: me.id, bannedAt: new Date(), bannedBy: them.id });
    expect(messagesOf(await mentionsOf(db, me.id, { limit: 10 }))).toEqual([]);
    expect(await unseenMentionCount(db, me.id)).toBe(0);
  });
});

describe("the count of new mentions", () => {
  it("counts mentions that reached D1 since the mentions page was opened, up to the cap", async () => {
    const me = await makeUser("count_me");
    const them = await makeUser("count_them");
    const room = roomName("count");
    expect(await unseenMentionCount(db, me.id)).toBe(0);
    await copied(room, [
      [them, "@count_me one"],
      [them, "@count_me two"],
      [me, "@count_me mine"],
    ]);
    expect(await unseenMentionCount(db, me.id)).toBe(2);

    const opened = await openMentions(db, me.id, 50);
    expect(messagesOf(opened)).toEqual(["@count_me two", "@count_me one"]);
    expect(await unseenMentionCount(db, me.id)).toBe(0);

    // A post numbered and timed before the visit but copied after it (a retried copy) still counts.
    await copied(room, [[them, "@count_me late"]], 4, Date.now() - 60_000);
    expect(await unseenMentionCount(db, me.id)).toBe(1);

    const many = Array.from({ length: UNSEEN_MENTIONS_CAP + 5 }, (_, n): [User, string] => [them, `@count_me ${n}`]);
    await copied(room, many, 5);
    expect(await unseenMentionCount(db, me.id)).toBe(UNSEEN_MENTIONS_CAP);
  });
});
