/**
 * Private rooms on the three ways in (room-bound, multiplexed, LongPoll): the room decides at the upgrade
 * and at every join and post; a non-member gets exactly what a room that does not exist gets; a removal
 * ends the member's channel on every socket within a second.
 */
import { env, exports } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import type { User } from "../../../src/db/users";
import { mintPrivateRoomId } from "../../../src/realtime/room/client";
import { LongPollClient } from "../../helpers/longpoll";
import { closeAll, connect, connectMultiplexed, TEST_HOST, type TestSocket, upgrade } from "../../helpers/socket";
import { makeUser, tokenFor } from "../../helpers/users";

const open: TestSocket[] = [];
afterEach(() => closeAll(open));

async function api(user: User, method: string, path: string, body?: unknown) {
  const response = await exports.default.fetch(new URL(path, TEST_HOST), {
    method,
    headers: {
      Authorization: `Bearer ${await tokenFor(user)}`,
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : null };
}

/** A private room owned by `owner` with `members` in it; returns its id. */
async function privateRoom(owner: User, members: User[] = []): Promise<string> {
  const created = await api(owner, "POST", "/api/rooms", { kind: "private", title: "Plans" });
  expect(created.status).toBe(201);
  const id = (created.body?.room as { id: string } | undefined)?.id;
  if (id === undefined) throw new Error(`no room in ${JSON.stringify(created.body)}`);
  for (const member of members) {
    expect((await api(owner, "POST", `/api/rooms/${id}/members`, { username: member.username })).status).toBe(201);
  }
  return id;
}

async function multiplexed(user: User): Promise<TestSocket> {
  const socket = await connectMultiplexed(user);
  open.push(socket);
  return socket;
}

async function longPoll(user: User): Promise<LongPollClient> {
  const client = new LongPollClient({ token: await tokenFor(user) });
  expect((await client.poll()).status).toBe(410);
  return client;
}

describe("a private room", () => {
  it("lets its members in on a room-bound socket and refuses anyone else at the upgrade, as a room that does not exist", async () => {
    const owner = await makeUser("pr_owner");
    const member = await makeUser("pr_member");
    const outsider = await makeUser("pr_outsider");
    const id = await privateRoom(owner, [member]);

    const socket = await connect(member, id);
    open.push(socket);
    expect((await socket.join(id)).status).toBe("ok");
    expect((await socket.push(`room:${id}`, "new_post", { message: "for members" })).status).toBe("ok");

    const refused = await upgrade({ room: id, token: await tokenFor(outsider) });
    const neverMinted = await upgrade({ room: await mintedElsewhere(), token: await tokenFor(outsider) });
    expect([refused.status, await refused.text()]).toEqual([404, "There is no such room."]);
    expect([neverMinted.status, await neverMinted.text()]).toEqual([404, "There is no such room."]);
  });

  it("answers a non-member's join on a multiplexed socket exactly as a join of a room that does not exist", async () => {
    const owner = await makeUser("pr_mx_owner");
    const outsider = await makeUser("pr_mx_outsider");
    const id = await privateRoom(owner);
    const socket = await multiplexed(outsider);

    const refused = await socket.join(id);
    const missing = await socket.join(await mintedElsewhere());
    expect(refused.status).toBe("error");
    expect(refused.response).toEqual({ reason: "no such room" });
    expect(missing.response).toEqual(refused.response);
    // Nothing of the room reached the outsider, and the socket carries on.
    expect(socket.received("presence_state")).toEqual([]);
    await socket.barrier();
  });

  it("answers a non-member's join over LongPoll the same way", async () => {
    const owner = await makeUser("pr_lp_owner");
    const outsider = await makeUser("pr_lp_outsider");
    const id = await privateRoom(owner);
    const client = await longPoll(outsider);
    const refused = await client.join(id);
    expect(refused.status).toBe("error");
    expect(refused.response).toEqual({ reason: "no such room" });
  });

  it("never lets an id nobody minted reach a Durable Object", async () => {
    const user = await makeUser("pr_forger");
    const forged = await mintedElsewhere();
    const before = await roomObjects();
    expect((await upgrade({ room: forged, token: await tokenFor(user) })).status).toBe(404);
    expect((await api(user, "GET", `/rooms/${forged}/posts`)).status).toBe(404);
    expect((await api(user, "GET", `/api/rooms/${forged}`)).status).toBe(404);
    const socket = await multiplexed(user);
    expect((await socket.join(forged)).response).toEqual({ reason: "no such room" });
    expect(await roomObjects()).toBe(before);
  });
});

describe("removal from a private room", () => {
  it("ends the member's channel within a second on all three ways in; they get nothing more and cannot rejoin", async () => {
    const owner = await makeUser("rm_owner");
    const leaver = await makeUser("rm_leaver");
    const id = await privateRoom(owner, [leaver]);

    const ownerSocket = await connect(owner, id);
    open.push(ownerSocket);
    expect((await ownerSocket.join(id)).status).toBe("ok");
    const bound = await connect(leaver, id);
    open.push(bound);
    const boundJoin = await bound.join(id);
    const mux = await multiplexed(leaver);
    const muxJoin = await mux.join(id);
    const poll = await longPoll(leaver);
    const pollJoin = await poll.join(id);
    expect([boundJoin.status, muxJoin.status, pollJoin.status]).toEqual(["ok", "ok", "ok"]);

    const removedAt = Date.now();
    expect((await api(owner, "DELETE", `/api/rooms/${id}/members/${leaver.username}`)).status).toBe(204);
    const ended = (joinRef: string) => (f: unknown[]) => f[0] === joinRef && f[3] === "phx_close";
    await Promise.all([
      bound.waitFor(ended(boundJoin.joinRef), 1_000),
      mux.waitFor(ended(muxJoin.joinRef), 1_000),
      poll.waitFor(ended(pollJoin.joinRef), 1_000),
    ]);
    expect(Date.now() - removedAt).toBeLessThan(1_000);
    for (const frames of [bound.frames, mux.frames, poll.frames]) {
      expect(frames.find((f) => f[3] === "membership_ended")?.[4]).toEqual({ reason: "removed" });
    }

    // Nothing more reaches them: the owner's next post goes to the owner only.
    expect((await ownerSocket.push(`room:${id}`, "new_post", { message: "after the removal" })).status).toBe("ok");
    await ownerSocket.waitFor(
      (f) => f[3] === "new_post" && (f[4] as { message: string }).message === "after the removal",
    );
    await bound.barrier();
    await mux.barrier();
    expect(bound.received("new_post")).toEqual([]);
    expect(mux.received("new_post")).toEqual([]);

    // A rejoin, on any of them, is refused as for a room that does not exist.
    expect((await bound.join(id)).response).toEqual({ reason: "no such room" });
    expect((await mux.join(id)).response).toEqual({ reason: "no such room" });
    expect((await poll.join(id)).response).toEqual({ reason: "no such room" });
    expect((await api(leaver, "GET", `/rooms/${id}/posts`)).status).toBe(404);
  });

  it("leaving yourself ends your channels the same way, saying you left", async () => {
    const owner = await makeUser("lv_owner");
    const leaver = await makeUser("lv_leaver");
    const id = await privateRoom(owner, [leaver]);
    const socket = await connect(leaver, id);
    open.push(socket);
    const joined = await socket.join(id);
    expect((await api(leaver, "DELETE", `/api/rooms/${id}/members/${leaver.username}`)).status).toBe(204);
    await socket.waitFor((f) => f[0] === joined.joinRef && f[3] === "phx_close", 1_000);
    expect(socket.received("membership_ended").map((f) => f[4])).toEqual([{ reason: "left" }]);
  });
});

describe("a public room", () => {
  it("is created by its first joiner, who owns it", async () => {
    const first = await makeUser("pub_first");
    const second = await makeUser("pub_second");
    const a = await connect(first, "pub_created_by_join");
    open.push(a);
    expect((await a.join("pub_created_by_join")).status).toBe("ok");
    const b = await connect(second, "pub_created_by_join");
    open.push(b);
    expect((await b.join("pub_created_by_join")).status).toBe("ok");
    const seen = await api(second, "GET", "/api/rooms/pub_created_by_join");
    expect(seen.body?.members).toEqual([expect.objectContaining({ username: first.username, role: "owner" })]);
    expect((seen.body?.room as { role: unknown } | undefined)?.role).toBeNull();
  });
});

describe("a join that would create a room past the daily allowance", () => {
  it("is answered room limit, creating nothing, and the socket goes on", async () => {
    const busy = await makeUser("pub_busy");
    for (let n = 0; n < 20; n++) {
      expect((await api(busy, "POST", "/api/rooms", { kind: "public", name: `pub_busy_${n}` })).status).toBe(201);
    }
    const socket = await connect(busy, "pub_busy_one_more");
    open.push(socket);
    const refused = await socket.join("pub_busy_one_more");
    expect(refused.status).toBe("error");
    expect(refused.response).toEqual({
      reason: "room limit",
      detail: "Joining would create this room, and you have created as many rooms as you may today.",
    });
    expect((await api(busy, "GET", "/api/rooms/pub_busy_one_more")).status).toBe(404);
    await socket.barrier();
  });
});

/** A well-formed private id with a tag no secret of this server made. */
async function mintedElsewhere(): Promise<string> {
  return mintPrivateRoomId({ ...env, TOKEN_SECRET: "another-server-entirely-0123456789abcdef" });
}

async function roomObjects(): Promise<number> {
  const { listDurableObjectIds } = await import("cloudflare:test");
  return (await listDurableObjectIds(env.ROOMS)).length;
}
