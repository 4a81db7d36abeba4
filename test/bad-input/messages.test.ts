/**
 * docs/bad-input.md, "Message content": what `new_post` answers to text a person (or a script) should not
 * or might not expect to post. Refused text is answered `invalid` naming the field and is never altered;
 * accepted text is stored and shown exactly as sent (escaped on the page, never interpreted). Each test
 * is one row and ends with a witness post reaching another member.
 */
import { and, eq } from "drizzle-orm";
import { afterEach, describe, expect, it } from "vitest";
import { posts } from "../../src/db/schema";
import { closeAll, type Frame, type TestSocket } from "../helpers/socket";
import { db } from "../helpers/users";
import { Visitor } from "../helpers/visitor";
import { errorReply, freshRoom, joinedSubject, storedMessages, witnessedRoom } from "./witness";

const open: TestSocket[] = [];
afterEach(() => closeAll(open));

const FORBIDDEN = "must not contain control characters or unpaired surrogates";

/** Sends `new_post {message}` (plus `extra`) and returns the reply frame. */
async function post(socket: TestSocket, joinRef: string, topic: string, message: unknown, extra = {}): Promise<Frame> {
  const ref = socket.nextRef();
  socket.send([joinRef, ref, topic, "new_post", { message, ...extra }]);
  return socket.waitFor((f) => f[1] === ref && f[3] === "phx_reply");
}

function invalid(errors: Record<string, string>) {
  return { status: "error", response: { reason: "invalid", errors } };
}

/** Checks the replies to several messages that must all be refused with the same error. */
async function expectRefused(room: string, messages: string[], error: string) {
  const { socket, joinRef } = await joinedSubject(room, open);
  const topic = `room:${room}`;
  for (const message of messages) {
    const reply = await post(socket, joinRef, topic, message);
    expect(reply[4], JSON.stringify(message)).toEqual(invalid({ message: error }));
  }
  return { socket, joinRef, topic };
}

describe("message length and blankness", () => {
  it("message of 2001 characters: invalid, 'is too long (2001 characters, at most 2000)'", async () => {
    const { room, stillServes } = await witnessedRoom(freshRoom("long"), open);
    const { socket } = await expectRefused(
      room,
      ["x".repeat(2001), `  ${"é".repeat(2001)}  `],
      "is too long (2001 characters, at most 2000)",
    );
    expect(await storedMessages(room)).toEqual([]);
    await stillServes([socket]);
  });

  it('empty and whitespace-only message: invalid, "can\'t be blank"', async () => {
    const { room, stillServes } = await witnessedRoom(freshRoom("blank"), open);
    const { socket, joinRef, topic } = await expectRefused(
      room,
      ["", " ", "   \n\t\n  ", "\u00a0\u3000\u2003"],
      "can't be blank",
    );
    // null and a missing message are blank too; only a string is a message.
    expect((await post(socket, joinRef, topic, null))[4]).toEqual(invalid({ message: "can't be blank" }));
    // U+200B is a format character, not whitespace: it is text, and it is accepted as sent.
    const zeroWidth = await post(socket, joinRef, topic, "\u200b");
    expect(zeroWidth[4]).toMatchObject({ status: "ok", response: { message: "\u200b" } });
    expect(await storedMessages(room)).toEqual(["\u200b"]);
    await stillServes([socket]);
  });
});

describe("characters that are refused, never cleaned", () => {
  it("control characters in a message: invalid naming message, nothing stored; newline and tab are fine", async () => {
    const { room, stillServes } = await witnessedRoom(freshRoom("controls"), open);
    const { socket, joinRef, topic } = await expectRefused(
      room,
      ["nul\u0000byte", "bell\u0007", "\u001b[31mred\u001b[0m", "del\u007f", "c1\u0085next", "crlf\r\nline", "\u000b"],
      FORBIDDEN,
    );
    expect(await storedMessages(room)).toEqual([]);
    const fine = await post(socket, joinRef, topic, "line one\nline\ttwo");
    expect(fine[4]).toMatchObject({ status: "ok", response: { message: "line one\nline\ttwo" } });
    expect(await storedMessages(room)).toEqual(["line one\nline\ttwo"]);
    await stillServes([socket]);
  });

  it("lone surrogates in a message: invalid naming message, nothing stored; a surrogate pair is fine", async () => {
    const { room, topic, stillServes } = await witnessedRoom(freshRoom("surrogates"), open);
    const { socket, joinRef } = await expectRefused(room, ["a\ud800b", "\udfff", "\udc00\ud800"], FORBIDDEN);
    // The JSON text as it travels: a lone surrogate can only arrive as a \u escape.
    socket.sendRaw(`["${joinRef}","raw","${topic}","new_post",{"message":"x\\ud83dy"}]`);
    expect(await socket.waitFor((f) => f[1] === "raw")).toEqual(
      errorReply(joinRef, "raw", topic, { reason: "invalid", errors: { message: FORBIDDEN } }),
    );
    expect(await storedMessages(room)).toEqual([]);
    socket.sendRaw(`["${joinRef}","pair","${topic}","new_post",{"message":"fire \\ud83d\\udd25"}]`);
    expect((await socket.waitFor((f) => f[1] === "pair"))[4]).toMatchObject({ response: { message: "fire 🔥" } });
    expect(await storedMessages(room)).toEqual(["fire 🔥"]);
    await stillServes([socket]);
  });

  it("client_id of the wrong shape: invalid naming client_id, nothing stored; with a bad message, both named", async () => {
    const { room, topic, stillServes } = await witnessedRoom(freshRoom("client_id"), open);
    const { socket, joinRef } = await joinedSubject(room, open);
    const shape = "must be 1 to 64 of A-Z, a-z, 0-9 and -";
    for (const clientId of ["../../etc/passwd", "a".repeat(65), "", "id with spaces", 7, ["a"]]) {
      const reply = await post(socket, joinRef, topic, "hello", { client_id: clientId });
      expect(reply[4], JSON.stringify(clientId)).toEqual(invalid({ client_id: shape }));
    }
    const both = await post(socket, joinRef, topic, "", { client_id: "no_underscores" });
    expect(both[4]).toEqual(invalid({ message: "can't be blank", client_id: shape }));
    expect(await storedMessages(room)).toEqual([]);
    await stillServes([socket]);
  });
});

describe("text that is stored and shown verbatim", () => {
  /** Posts `message`, then checks the D1 row, the broadcast and the room page. */
  async function postedVerbatim(room: string, message: string) {
    const witnessed = await witnessedRoom(room, open);
    const { socket, joinRef } = await joinedSubject(room, open, "author");
    const reply = await post(socket, joinRef, witnessed.topic, message);
    expect(reply[4]).toMatchObject({ status: "ok", response: { message } });
    const id = (reply[4] as { response: { id: number } }).response.id;
    const row = await db.query.posts.findFirst({ where: and(eq(posts.room, room), eq(posts.seq, id)) });
    expect(row?.message).toBe(message);
    expect(row?.room).toBe(room);
    const broadcast = await socket.waitFor((f) => f[3] === "new_post" && f[4].id === id);
    expect(broadcast[4].message).toBe(message);

    const reader = new Visitor();
    expect((await reader.register(`reader_${crypto.randomUUID().slice(0, 8)}`)).status).toBe(303);
    const page = await reader.get(`/rooms/${room}`);
    expect(page.status).toBe(200);
    await witnessed.stillServes([socket]);
    return page.html;
  }

  it("SQL-looking text: stored exactly as sent (D1 row), broadcast and shown as text", async () => {
    const attack = "Robert'); DROP TABLE posts;-- ' OR '1'='1";
    const room = freshRoom("sql");
    const html = await postedVerbatim(room, attack);
    expect(html).toContain("Robert&#39;); DROP TABLE posts;-- &#39; OR &#39;1&#39;=&#39;1");
    // The table is still there and holds what was sent, nothing more.
    expect(await storedMessages(room)).toEqual([attack, "still serving 1"]);
  });

  it("HTML/script text: stored exactly as sent (D1 row), shown escaped on the room page with no live tag", async () => {
    const attack = `<script>alert("x")</script><img src=x onerror=alert(1)> & <b>bold</b>`;
    const html = await postedVerbatim(freshRoom("html"), attack);
    expect(html).toContain(
      "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt; &amp; &lt;b&gt;bold&lt;/b&gt;",
    );
    expect(html).not.toContain("<script>alert");
    expect(html).not.toContain("<img src=x");
    expect(html).not.toContain("<b>bold");
  });
});
