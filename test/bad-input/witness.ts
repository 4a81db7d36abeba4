/**
 * The "others unaffected" half of every bad-input row: a room with two well-behaved members, one who
 * posts after the bad input and one who must still receive that post. A bad frame that hurt the room
 * (crashed it, wedged its queue, dropped its members) would fail `stillServes`.
 */
import { eq } from "drizzle-orm";
import { expect } from "vitest";
import { posts } from "../../src/db/schema";
import type { User } from "../../src/db/users";
import type { Ref } from "../../src/realtime/phoenix/protocol";
import { connect, connectAndJoin, type Frame, type TestSocket } from "../helpers/socket";
import { db, makeUser } from "../helpers/users";

let users = 0;

/** A fresh user; usernames stay unique within the test file's database. */
export function freshUser(prefix: string): Promise<User> {
  users += 1;
  return makeUser(`${prefix.slice(0, 16)}_${users}`);
}

/** Rooms get a fresh name per test, so one test's posts and presence never meet another's. */
let rooms = 0;
export function freshRoom(prefix: string): string {
  rooms += 1;
  return `${prefix.slice(0, 50)}_${rooms}`;
}

export interface Witnessed {
  room: string;
  topic: string;
  /**
   * A post by one well-behaved member after the bad input: it is acknowledged, and the other member and
   * every socket in `alsoReaching` receive it.
   */
  stillServes(alsoReaching?: TestSocket[]): Promise<void>;
}

/** Opens `room` with a poster and a listener, both joined; their sockets go into `open` for cleanup. */
export async function witnessedRoom(room: string, open: TestSocket[]): Promise<Witnessed> {
  const poster = await connectAndJoin(await freshUser("poster"), room);
  const listener = await connectAndJoin(await freshUser("listener"), room);
  open.push(poster.socket, listener.socket);
  const topic = `room:${room}`;
  let posted = 0;
  return {
    room,
    topic,
    async stillServes(alsoReaching = []) {
      posted += 1;
      const message = `still serving ${posted}`;
      const reply = await poster.socket.push(topic, "new_post", { message });
      expect(reply.status, JSON.stringify(reply.response)).toBe("ok");
      const isIt = (f: Frame) => f[3] === "new_post" && f[4].id === reply.response.id && f[4].message === message;
      for (const socket of [listener.socket, ...alsoReaching]) await socket.waitFor(isIt);
    },
  };
}

/** A member who will send the bad input: connected to `room` and joined. */
export async function joinedSubject(room: string, open: TestSocket[], prefix = "subject") {
  const joined = await connectAndJoin(await freshUser(prefix), room);
  open.push(joined.socket);
  return joined;
}

/** A member connected to `room` but not joined. */
export async function connectedSubject(room: string, open: TestSocket[], prefix = "subject") {
  const socket = await connect(await freshUser(prefix), room);
  open.push(socket);
  return socket;
}

export async function storedMessages(room: string): Promise<string[]> {
  const rows = await db.select().from(posts).where(eq(posts.room, room)).orderBy(posts.seq);
  return rows.map((row) => row.message);
}

/** The exact error reply frame a push with `ref` gets. */
export function errorReply(joinRef: Ref, ref: Ref, topic: string, response: Record<string, unknown>): Frame {
  return [joinRef, ref, topic, "phx_reply", { status: "error", response }];
}
