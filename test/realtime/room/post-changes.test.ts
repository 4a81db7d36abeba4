/**
 * Edits and deletions of posts (room/post-changes.ts, decided in room/channel.ts): the rules themselves,
 * then through real rooms on every way in (a room-bound socket, a multiplexed socket, LongPoll), since
 * the room decides them whichever way they come: what the author and the others receive, what D1 and the
 * room's own log keep (no text once deleted), the edit window, the mention filter, and idempotent edits.
 * The refusals themselves, each with a witness, are docs/bad-input.md's rows (test/bad-input/post-changes).
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { and, eq } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { changes, posts } from "../../../src/db/schema";
import type { User } from "../../../src/db/users";
import { decideDelete, decideEdit } from "../../../src/realtime/room/post-changes";
import type { Post } from "../../../src/shared/post";
import { LongPollClient } from "../../helpers/longpoll";
import { bearer } from "../../helpers/rooms";
import {
  closeAll,
  connectAndJoin,
  connectMultiplexed,
  type Frame,
  roomStub,
  type TestSocket,
} from "../../helpers/socket";
import { db, makeUser, postAs, seedPosts, tokenFor } from "../../helpers/users";

const open: TestSocket[] = [];
afterEach(() => closeAll(open));

const DAY_MS = 24 * 60 * 60 * 1000;

function post(overrides: Partial<Post> = {}): Post {
  return {
    id: 7,
    message: "hello",
    inserted_at: new Date("2026-12-01T10:00:00Z").toISOString(),
    user: { id: 1, username: "ann" },
    ...overrides,
  };
}

describe("the rules (post-changes.ts)", () => {
  const at = new Date("2026-12-01T12:00:00Z");

  it("lets the author edit within the window, keeping id, time and author, and sets edited_at", () => {
    expect(decideEdit(post(), 1, "fixed", at, DAY_MS)).toEqual({
      ok: true,
      post: { ...post(), message: "fixed", edited_at: at.toISOString() },
    });
  });

  it("refuses an edit of someone else's post, of a deleted or unknown post, and past the window (0: none)", () => {
    expect(decideEdit(post(), 2, "mine now", at, DAY_MS)).toEqual({ ok: false, reason: "forbidden" });
    expect(decideEdit(undefined, 1, "x", at, DAY_MS)).toEqual({ ok: false, reason: "not found" });
    const deleted = post({ message: "", deleted_at: at.toISOString(), deleted_by: "author" });
    expect(decideEdit(deleted, 1, "back", at, DAY_MS)).toEqual({ ok: false, reason: "not found" });
    const later = new Date(Date.parse(post().inserted_at) + DAY_MS + 1);
    expect(decideEdit(post(), 1, "late", later, DAY_MS)).toEqual({ ok: false, reason: "edit window closed" });
    expect(decideEdit(post(), 1, "late", later, 0)).toMatchObject({ ok: true, post: { message: "late" } });
  });

  it("lets the author, a moderator or the owner delete, leaving a tombstone without text; nobody else", () => {
    const tombstone = { ...post(), message: "", deleted_at: at.toISOString() };
    expect(decideDelete(post(), 1, "member", at)).toEqual({ ok: true, post: { ...tombstone, deleted_by: "author" } });
    // An author who moderates deletes their own post as its author.
    expect(decideDelete(post(), 1, "owner", at)).toMatchObject({ post: { deleted_by: "author" } });
    expect(decideDelete(post(), 2, "moderator", at)).toMatchObject({ post: { deleted_by: "moderator" } });
    expect(decideDelete(post(), 2, "owner", at)).toMatchObject({ post: { deleted_by: "moderator" } });
    expect(decideDelete(post(), 2, "member", at)).toEqual({ ok: false, reason: "forbidden" });
    expect(decideDelete(post(), 2, undefined, at)).toEqual({ ok: false, reason: "forbidden" });
    expect(decideDelete(post({ deleted_at: at.toISOString() }), 1, "owner", at)).toEqual({
      ok: false,
      reason: "not found",
    });
    // An edited post's tombstone does not say it was edited either: nothing of what it said remains.
    expect(decideDelete(post({ edited_at: at.toISOString() }), 1, undefined, at)).toEqual({
      ok: true,
      post: { ...tombstone, deleted_by: "author" },
    });
  });
});

async function joined(user: User, room: string, params: Record<string, unknown> = {}) {
  const result = await connectAndJoin(user, room, params);
  open.push(result.socket);
  return result.socket;
}

async function d1Row(room: string, seq: number) {
  const [row] = await db
    .select()
    .from(posts)
    .where(and(eq(posts.room, room), eq(posts.seq, seq)));
  return row;
}

async function d1Changes(room: string) {
  return db.select().from(changes).where(eq(changes.room, room)).orderBy(changes.seq);
}

/** Every text the room's own storage holds, in its post log and change log. */
function textsInRoomLog(room: string): Promise<string[]> {
  return runInDurableObject(roomStub(room), (_room, state) => [
    ...state.storage.sql
      .exec<{ message: string }>("SELECT message FROM post_log")
      .toArray()
      .map((row) => row.message),
    ...state.storage.sql
      .exec<{ post: string | null }>("SELECT post FROM change_log")
      .toArray()
      .map((row) => (row.post === null ? "" : (JSON.parse(row.post) as Post).message)),
  ]);
}

describe("edit_post and delete_post through a room", () => {
  it("edits: ok with the updated post and its seq, post_updated to everyone, D1 has it; the log keeps no old text", async () => {
    const [ann, ben] = [await makeUser("ed_ann"), await makeUser("ed_ben")];
    const a = await joined(ann, "edits");
    const b = await joined(ben, "edits");
    const sent = await a.push("room:edits", "new_post", { message: "teh typo" });
    const id = sent.response.id as number;

    const edited = await a.push("room:edits", "edit_post", { id, message: "  the typo fixed  " });
    expect(edited.status).toBe("ok");
    expect(edited.response).toEqual({
      ...sent.response,
      message: "the typo fixed",
      edited_at: expect.any(String),
      seq: id + 1,
    });
    const broadcast = await b.waitFor((f) => f[3] === "post_updated");
    expect(broadcast.slice(0, 3)).toEqual([null, null, "room:edits"]);
    expect(broadcast[4]).toEqual(edited.response);
    await a.waitFor((f) => f[3] === "post_updated"); // the author's other views hear of it too

    // Acknowledged means in D1: the row is the edited post, and the change is logged there without text.
    const row = await d1Row("edits", id);
    expect([row?.message, row?.editedAt?.toISOString()]).toEqual(["the typo fixed", edited.response.edited_at]);
    expect((await d1Changes("edits")).map((c) => [c.seq, c.type, c.postSeq, c.data])).toEqual([
      [id + 1, "edit", id, null],
    ]);
    expect(await textsInRoomLog("edits")).toEqual(["the typo fixed", "the typo fixed"]);

    // A plain join and the history pages show the post as it is now.
    const c = await connectAndJoin(await makeUser("ed_cat"), "edits");
    open.push(c.socket);
    expect(c.joined.response).toEqual({
      posts: [broadcastPost(broadcast)],
      has_more: false,
      seq: id + 1,
      changes: [],
      last_read_id: id + 1,
    });
  });

  it("deletes: the text is gone from the room's log, its memory and D1; a tombstone remains; everyone is told", async () => {
    const [ann, ben] = [await makeUser("del_ann"), await makeUser("del_ben")];
    const a = await joined(ann, "deletes");
    const b = await joined(ben, "deletes");
    const id = (await a.push("room:deletes", "new_post", { message: "oops, my password is hunter2" })).response
      .id as number;
    await a.push("room:deletes", "edit_post", { id, message: "oops, my password is hunter3" });

    const deleted = await a.push("room:deletes", "delete_post", { id });
    expect(deleted.status).toBe("ok");
    expect(deleted.response).toEqual({ id, deleted_by: "author", deleted_at: expect.any(String), seq: id + 2 });
    const told = await b.waitFor((f) => f[3] === "post_deleted");
    expect(told.slice(0, 3)).toEqual([null, null, "room:deletes"]);
    expect(told[4]).toEqual(deleted.response);

    const row = await d1Row("deletes", id);
    expect([row?.message, row?.deletedBy, row?.deletedAt?.toISOString()]).toEqual([
      "",
      "author",
      deleted.response.deleted_at,
    ]);
    expect((await d1Changes("deletes")).map((c) => [c.type, c.postSeq, c.data])).toEqual([
      ["edit", id, null],
      ["delete", id, null],
    ]);
    expect((await textsInRoomLog("deletes")).filter((text) => text.includes("hunter"))).toEqual([]);

    const c = await connectAndJoin(await makeUser("del_cat"), "deletes");
    open.push(c.socket);
    const [tombstone] = c.joined.response.posts as Post[];
    expect(tombstone).toEqual({
      id,
      message: "",
      inserted_at: expect.any(String),
      user: { id: ann.id, username: ann.username },
      deleted_at: deleted.response.deleted_at,
      deleted_by: "author",
    });
    expect(JSON.stringify(c.joined.response)).not.toContain("hunter");
  });

  it("numbers a deletion sent right after posts after them, as they came, though a busy room's posts wait for its write turn", async () => {
    const [ann, ben] = [await makeUser("turn_ann"), await makeUser("turn_ben")];
    const a = await joined(ann, "turns");
    const b = await joined(ben, "turns");
    const earlier = (await a.push("room:turns", "new_post", { message: "earlier" })).response.id as number;
    // The frames leave at once: the first post is stored at once, the second waits for the room's write
    // turn (it came right after), and the deletion arrives while it waits.
    const [first, second, deleted] = await Promise.all([
      a.push("room:turns", "new_post", { message: "first" }),
      a.push("room:turns", "new_post", { message: "second" }),
      a.push("room:turns", "delete_post", { id: earlier }),
    ]);
    expect([first.status, second.status, deleted.status]).toEqual(["ok", "ok", "ok"]);
    expect([second.response.id, deleted.response.seq]).toEqual([earlier + 2, earlier + 3]);
    await b.waitFor((f) => f[3] === "post_deleted");
    expect(b.frames.filter((f) => f[3] === "new_post" || f[3] === "post_deleted").map((f) => f[3])).toEqual([
      "new_post",
      "new_post",
      "new_post",
      "post_deleted",
    ]);
  });

  it("lets the owner and a moderator delete anyone's post as moderators (room-bound, multiplexed, LongPoll); a member may not", async () => {
    const owner = await bearer("mod_owner");
    const moderator = await bearer("mod_mod");
    const [author, member] = [await makeUser("mod_author"), await makeUser("mod_member")];
    await joined(owner.user, "moderated"); // the first joiner of a public room owns it
    expect(
      (await owner.post("/api/rooms/moderated/members", { username: moderator.username, role: "moderator" })).status,
    ).toBe(201);
    const writer = await joined(author, "moderated");
    const ids: number[] = [];
    for (const n of [1, 2, 3])
      ids.push((await writer.push("room:moderated", "new_post", { message: `spam ${n}` })).response.id as number);

    const refused = await (await joined(member, "moderated")).push("room:moderated", "delete_post", { id: ids[0] });
    expect(refused.response).toEqual({ reason: "forbidden" });

    const byOwner = await (await joined(owner.user, "moderated")).push("room:moderated", "delete_post", { id: ids[0] });
    expect(byOwner.response).toMatchObject({ id: ids[0], deleted_by: "moderator" });

    const mx = await connectMultiplexed(moderator.user);
    open.push(mx);
    expect((await mx.join("moderated")).status).toBe("ok");
    const byModerator = await mx.push("room:moderated", "delete_post", { id: ids[1] }, "1");
    expect(byModerator.response).toMatchObject({ id: ids[1], deleted_by: "moderator" });
    const mxRefused = await mx.push("room:moderated", "edit_post", { id: ids[2], message: "not yours" }, "1");
    expect(mxRefused.response).toEqual({ reason: "forbidden" });

    const poll = new LongPollClient({ token: await tokenFor(moderator.user) });
    expect((await poll.poll()).status).toBe(410);
    const polled = await poll.join("moderated");
    expect(polled.status).toBe("ok");
    const viaPoll = await poll.push("room:moderated", "delete_post", { id: ids[2] }, polled.joinRef);
    expect(viaPoll.response).toMatchObject({ id: ids[2], deleted_by: "moderator" });
    await writer.barrier();
    expect(writer.received("post_deleted").map((f) => f[4].id)).toEqual(ids);
  });

  it("lets an author edit and delete over a multiplexed socket and LongPoll, and refuses another's post on both", async () => {
    const [ann, ben] = [await makeUser("ways_ann"), await makeUser("ways_ben")];
    const bens = await joined(ben, "ways_in");
    const benPost = (await bens.push("room:ways_in", "new_post", { message: "ben's" })).response.id as number;

    const mx = await connectMultiplexed(ann);
    open.push(mx);
    expect((await mx.join("ways_in")).status).toBe("ok");
    const mine = (await mx.push("room:ways_in", "new_post", { message: "ann's" }, "1")).response.id as number;
    expect(
      (await mx.push("room:ways_in", "edit_post", { id: mine, message: "ann's, edited" }, "1")).response,
    ).toMatchObject({
      message: "ann's, edited",
    });
    expect((await mx.push("room:ways_in", "delete_post", { id: benPost }, "1")).response).toEqual({
      reason: "forbidden",
    });

    const poll = new LongPollClient({ token: await tokenFor(ann) });
    expect((await poll.poll()).status).toBe(410);
    const polled = await poll.join("ways_in");
    const edit = await poll.push("room:ways_in", "edit_post", { id: benPost, message: "mine" }, polled.joinRef);
    expect(edit.response).toEqual({ reason: "forbidden" });
    const deleted = await poll.push("room:ways_in", "delete_post", { id: mine }, polled.joinRef);
    expect(deleted.response).toMatchObject({ id: mine, deleted_by: "author" });
    await bens.barrier();
    expect(bens.received("post_updated").map((f) => f[4].message)).toEqual(["ann's, edited"]);
    expect(bens.received("post_deleted").map((f) => f[4].id)).toEqual([mine]);
  });

  it("refuses an edit past EDIT_WINDOW_SECONDS (a post read from D1), while its author may still delete it", async () => {
    const ann = await makeUser("window_ann");
    const old = await postAs(ann, "window", "from two days ago", new Date(Date.now() - 2 * DAY_MS));
    const recent = await postAs(ann, "window", "from a minute ago", new Date(Date.now() - 60_000));
    const a = await joined(ann, "window");
    expect((await a.push("room:window", "edit_post", { id: old.id, message: "rewritten" })).response).toEqual({
      reason: "edit window closed",
    });
    expect((await a.push("room:window", "edit_post", { id: recent.id, message: "still in time" })).status).toBe("ok");
    expect((await a.push("room:window", "delete_post", { id: old.id })).response).toMatchObject({
      id: old.id,
      deleted_by: "author",
    });
  });

  it("finds a post older than the room's memory in D1; while D1 fails the change is served from the room's log", async () => {
    const ann = await bearer("deep_ann");
    const ids = await seedPosts(ann.user, "deep", 505); // more than the room's memory holds
    const a = await joined(ann.user, "deep");
    const [first, second] = ids as [number, number];
    await env.DB.exec(
      "CREATE TRIGGER fail_deep_updates BEFORE UPDATE ON posts WHEN OLD.room = 'deep' BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
    );
    try {
      const edit = { id: first, message: "far back, fixed", client_id: "deep-1" };
      const failed = await a.push("room:deep", "edit_post", edit);
      // Logged and told, not acknowledged: D1 does not have it yet.
      expect(failed.response).toEqual({ reason: "unavailable" });
      await a.waitFor((f) => f[3] === "post_updated" && f[4].id === first);
      expect((await d1Row("deep", first))?.message).toBe("seed 1");
      // Every read merges the room's log over D1, so nobody sees the old text meanwhile.
      const page = await ann.get("/rooms/deep/posts?after=0&limit=1");
      expect(page.body.posts).toEqual([expect.objectContaining({ id: first, message: "far back, fixed" })]);
      const changed = await ann.get(`/rooms/deep/changes?after_seq=${ids.at(-1)}`);
      expect(changed.body.changes).toEqual([
        {
          seq: (ids.at(-1) as number) + 1,
          type: "edit",
          post: expect.objectContaining({ message: "far back, fixed" }),
        },
      ]);
      await env.DB.exec("DROP TRIGGER fail_deep_updates");
      // The retry is the same edit: answered with it once D1 has it, not made twice.
      const retried = await a.push("room:deep", "edit_post", edit);
      expect(retried.response).toMatchObject({
        id: first,
        message: "far back, fixed",
        seq: (ids.at(-1) as number) + 1,
      });
      expect((await d1Row("deep", first))?.message).toBe("far back, fixed");
      expect((await a.push("room:deep", "delete_post", { id: second })).response).toMatchObject({ id: second });
      expect((await d1Row("deep", second))?.message).toBe("");
    } finally {
      await env.DB.exec("DROP TRIGGER IF EXISTS fail_deep_updates");
    }
  });

  it("recomputes mentions: a mentions-only member gets an edit when the old or the new text mentions them, not otherwise", async () => {
    const [ann, ben] = [await makeUser("mention_ann"), await makeUser("mention_ben")];
    const a = await joined(ann, "mention_edits");
    const filtered = await connectAndJoin(ben, "mention_edits", { mentions_only: true });
    open.push(filtered.socket);
    const b = filtered.socket;
    const id = (await a.push("room:mention_edits", "new_post", { message: "plain" })).response.id as number;
    const edit = async (message: string) =>
      (await a.push("room:mention_edits", "edit_post", { id, message })).response.seq as number;
    const plainAgain = await edit("still plain");
    const added = await edit(`now for @${ben.username}`);
    const kept = await edit(`still for @${ben.username.toUpperCase()}`);
    const removed = await edit("taken back");
    const plainAtLast = await edit("plain at last");
    await b.barrier();
    const got = b.received("post_updated");
    // A push from the member's own channel, as for a post that mentions them.
    expect(got.map((f) => [f[0], f[4].seq])).toEqual([
      [filtered.joinRef, added],
      [filtered.joinRef, kept],
      [filtered.joinRef, removed],
    ]);
    expect([plainAgain, plainAtLast].some((seq) => got.some((f) => f[4].seq === seq))).toBe(false);
    // Deletions go to everyone: whatever the member shows of the post must become its tombstone.
    await a.push("room:mention_edits", "delete_post", { id });
    await b.waitFor((f) => f[3] === "post_deleted");
  });

  it("is idempotent per client_id: a retried edit is answered with the first one's seq, logged and broadcast once", async () => {
    const [ann, ben] = [await makeUser("idem_ann"), await makeUser("idem_ben")];
    const a = await joined(ann, "idem_edits");
    const b = await joined(ben, "idem_edits");
    const [first, second] = [
      (await a.push("room:idem_edits", "new_post", { message: "one" })).response.id as number,
      (await a.push("room:idem_edits", "new_post", { message: "two" })).response.id as number,
    ];
    const edit = await a.push("room:idem_edits", "edit_post", { id: first, message: "one!", client_id: "e-1" });
    const retry = await a.push("room:idem_edits", "edit_post", { id: first, message: "one!", client_id: "e-1" });
    expect(retry.response).toEqual(edit.response);
    // The same client_id on another post is another edit; a new_post with it is a new post.
    const other = await a.push("room:idem_edits", "edit_post", { id: second, message: "two!", client_id: "e-1" });
    expect(other.response).toMatchObject({ id: second, message: "two!" });
    expect(other.response.seq).not.toBe(edit.response.seq);
    const fresh = await a.push("room:idem_edits", "new_post", { message: "three", client_id: "e-1" });
    expect(fresh.response).toMatchObject({ message: "three" });
    await b.barrier();
    expect(b.received("post_updated").map((f) => f[4].seq)).toEqual([edit.response.seq, other.response.seq]);
    expect((await d1Changes("idem_edits")).map((c) => c.seq)).toEqual([edit.response.seq, other.response.seq]);
  });
});

function broadcastPost(frame: Frame): Post {
  const { seq: _seq, ...post } = frame[4] as unknown as Post & { seq: number };
  return post;
}
