/**
 * docs/bad-input.md, "Edits and deletions": what `edit_post` and `delete_post` answer to what they should
 * never be sent, and `GET /rooms/:room/changes` to bad parameters. Each refusal changes nothing (no
 * change logged, nothing broadcast) and each test ends with a witness post reaching another member.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Post } from "../../src/shared/post";
import { bearer } from "../helpers/rooms";
import { closeAll, connectAndJoin, type Frame, type TestSocket } from "../helpers/socket";
import { postAs } from "../helpers/users";
import { Visitor } from "../helpers/visitor";
import { binaryPush } from "./frames";
import { freshRoom, joinedSubject, witnessedRoom } from "./witness";

const open: TestSocket[] = [];
afterEach(() => closeAll(open));

const NOT_A_POST_ID = "must be a post id (a positive integer)";

/** Sends `event` with `payload` on the subject's join and returns the reply's `{status, response}`. */
async function send(socket: TestSocket, joinRef: string, topic: string, event: string, payload: unknown) {
  const ref = socket.nextRef();
  socket.send([joinRef, ref, topic, event, payload as Record<string, unknown>]);
  return (await socket.waitFor((f) => f[1] === ref && f[3] === "phx_reply"))[4];
}

const refused = (reason: string) => ({ status: "error", response: { reason } });
const invalid = (errors: Record<string, string>) => ({ status: "error", response: { reason: "invalid", errors } });

/** Nothing was told to the room about a change: no post_updated, no post_deleted, on `socket`. */
async function noChangeTold(socket: TestSocket): Promise<void> {
  await socket.barrier();
  expect(socket.received("post_updated").concat(socket.received("post_deleted"))).toEqual([]);
}

describe("edit_post and delete_post", () => {
  it("another's post: forbidden, for an edit by anyone and a deletion by a member who does not moderate", async () => {
    const { room, topic, stillServes } = await witnessedRoom(freshRoom("forbidden"), open);
    const author = await joinedSubject(room, open, "author");
    const other = await joinedSubject(room, open, "other");
    const id = (await author.socket.push(topic, "new_post", { message: "mine" })).response.id as number;
    expect(await send(other.socket, other.joinRef, topic, "edit_post", { id, message: "yours now" })).toEqual(
      refused("forbidden"),
    );
    expect(await send(other.socket, other.joinRef, topic, "delete_post", { id })).toEqual(refused("forbidden"));
    await noChangeTold(author.socket);
    await stillServes([author.socket, other.socket]);
  });

  it("an unknown or deleted id: not found, for an edit and a deletion alike", async () => {
    const { room, topic, stillServes } = await witnessedRoom(freshRoom("not_found"), open);
    const { socket, joinRef } = await joinedSubject(room, open, "author");
    const id = (await socket.push(topic, "new_post", { message: "soon gone" })).response.id as number;
    const edit = (await socket.push(topic, "edit_post", { id, message: "edited" })).response.seq as number;
    // 999999 was never used; `edit` is a seq, but an edit's, not a post's.
    for (const unknown of [999_999, edit]) {
      expect(await send(socket, joinRef, topic, "edit_post", { id: unknown, message: "x" })).toEqual(
        refused("not found"),
      );
      expect(await send(socket, joinRef, topic, "delete_post", { id: unknown })).toEqual(refused("not found"));
    }
    expect((await send(socket, joinRef, topic, "delete_post", { id })) as object).toMatchObject({ status: "ok" });
    expect(await send(socket, joinRef, topic, "edit_post", { id, message: "back" })).toEqual(refused("not found"));
    expect(await send(socket, joinRef, topic, "delete_post", { id })).toEqual(refused("not found"));
    await stillServes([socket]);
  });

  it("past the window: edit window closed, nothing changed; the author may still delete it", async () => {
    const { room, topic, stillServes } = await witnessedRoom(freshRoom("window"), open);
    const author = await bearer("window_author");
    const old: Post = await postAs(author.user, room, "yesterday's", new Date(Date.now() - 25 * 60 * 60 * 1000));
    const { socket, joinRef } = await connectAndJoin(author.user, room);
    open.push(socket);
    expect(await send(socket, joinRef, topic, "edit_post", { id: old.id, message: "rewritten" })).toEqual(
      refused("edit window closed"),
    );
    await noChangeTold(socket);
    expect((await author.get(`/rooms/${room}/posts?after=0`)).body.posts[0].message).toBe("yesterday's");
    expect(await send(socket, joinRef, topic, "delete_post", { id: old.id })).toMatchObject({ status: "ok" });
    await stillServes([socket]);
  });

  it("bad text in an edit: invalid naming message, exactly as a new post's; the post is unchanged", async () => {
    const { room, topic, stillServes } = await witnessedRoom(freshRoom("edit_text"), open);
    const { socket, joinRef } = await joinedSubject(room, open, "author");
    const id = (await socket.push(topic, "new_post", { message: "fine" })).response.id as number;
    const cases: Array<[unknown, string]> = [
      ["", "can't be blank"],
      [" \n\t ", "can't be blank"],
      ["x".repeat(2001), "is too long (2001 characters, at most 2000)"],
      ["bell\u0007", "must not contain control characters or unpaired surrogates"],
      ["a\ud800b", "must not contain control characters or unpaired surrogates"],
      [42, "must be a string"],
      [undefined, "can't be blank"],
    ];
    for (const [message, error] of cases) {
      expect(await send(socket, joinRef, topic, "edit_post", { id, message }), JSON.stringify(message)).toEqual(
        invalid({ message: error }),
      );
    }
    await noChangeTold(socket);
    await stillServes([socket]);
  });

  it("a bad id or client_id: invalid naming each field; a binary push: invalid", async () => {
    const { room, topic, stillServes } = await witnessedRoom(freshRoom("edit_ids"), open);
    const { socket, joinRef } = await joinedSubject(room, open, "author");
    for (const id of [undefined, "5", -1, 0, 1.5, null, [3]]) {
      expect(await send(socket, joinRef, topic, "delete_post", { id }), JSON.stringify(id)).toEqual(
        invalid({ id: NOT_A_POST_ID }),
      );
      expect(await send(socket, joinRef, topic, "edit_post", { id, message: "x" })).toEqual(
        invalid({ id: NOT_A_POST_ID }),
      );
    }
    expect(await send(socket, joinRef, topic, "edit_post", { id: "x", message: "", client_id: "no spaces" })).toEqual(
      invalid({ id: NOT_A_POST_ID, message: "can't be blank", client_id: "must be 1 to 64 of A-Z, a-z, 0-9 and -" }),
    );
    const body = new TextEncoder().encode('{"id":1,"message":"hi"}');
    socket.sendRaw(binaryPush(joinRef, "bin-edit", topic, "edit_post", body));
    socket.sendRaw(binaryPush(joinRef, "bin-delete", topic, "delete_post", body));
    const reply = (ref: string) => socket.waitFor((f: Frame) => f[1] === ref && f[3] === "phx_reply");
    expect((await reply("bin-edit"))[4]).toEqual(invalid({ message: "must be text, not binary" }));
    expect((await reply("bin-delete"))[4]).toEqual(invalid({ id: "must be sent as JSON, not binary" }));
    await noChangeTold(socket);
    await stillServes([socket]);
  });

  it("HTML/script text in an edit: stored as sent, shown escaped on the room page", async () => {
    const { room, topic, stillServes } = await witnessedRoom(freshRoom("edit_html"), open);
    const { socket, joinRef } = await joinedSubject(room, open, "author");
    const id = (await socket.push(topic, "new_post", { message: "plain" })).response.id as number;
    const attack = `<img src=x onerror=alert(1)><script>alert("x")</script>`;
    expect(await send(socket, joinRef, topic, "edit_post", { id, message: attack })).toMatchObject({
      status: "ok",
      response: { message: attack },
    });
    const reader = new Visitor();
    expect((await reader.register(`edit_reader_${crypto.randomUUID().slice(0, 8)}`)).status).toBe(303);
    const html = (await reader.get(`/rooms/${room}`)).html;
    expect(html).toContain("&lt;img src=x onerror=alert(1)&gt;&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
    expect(html).not.toContain("<img src=x");
    expect(html).not.toContain("<script>alert");
    await stillServes([socket]);
  });
});

describe("GET /rooms/:room/changes", () => {
  it.each([
    ["", "after_seq is required: the last seq you have (0 for the first change)."],
    ["?limit=5", "after_seq is required: the last seq you have (0 for the first change)."],
    ["?after_seq=-1", "after_seq must be a non-negative integer (a seq, or 0 for the first)."],
    ["?after_seq=abc", "after_seq must be a non-negative integer (a seq, or 0 for the first)."],
    ["?after_seq=01", "after_seq must be a non-negative integer (a seq, or 0 for the first)."],
    ["?after_seq=0&limit=0", "limit must be a positive integer, at most 200."],
    ["?after_seq=0&limit=201", "limit must be at most 200."],
    [
      "?after_seq=x&limit=x",
      "after_seq must be a non-negative integer (a seq, or 0 for the first); limit must be a positive integer, at most 200.",
    ],
  ])("bad parameters %j: 400 saying what is wrong", async (query, error) => {
    const reader = await bearer(`changes_bad_${crypto.randomUUID().slice(0, 8)}`);
    const answer = await reader.get(`/rooms/lobby/changes${query}`);
    expect([answer.status, answer.body]).toEqual([400, { error }]);
  });
});
