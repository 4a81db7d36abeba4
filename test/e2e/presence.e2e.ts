/**
 * Who is online, as the official phoenix `Presence` class sees it (`new Presence(channel)`, `onSync`,
 * `list`), against a real `wrangler dev`: the joiner itself, one person with two tabs, a leave and a
 * dropped connection. People are listed with the room page's own chooser (`onlinePeople`).
 */
import { Presence } from "phoenix";
import { afterEach, describe, expect, inject, it } from "vitest";
import { type OnlinePerson, onlinePeople } from "../../src/client/online-list";
import type { PresenceMeta } from "../../src/shared/room-contract";
import { registerUser, uniqueName, waitUntil } from "./helpers";
import { enterRoom, type Member, OpenSockets } from "./phoenix";

const baseUrl = inject("baseUrl");
const sockets = new OpenSockets();
afterEach(() => sockets.disconnectAll());

interface Watcher extends Member {
  presence: Presence;
  /** `username×tabs` per person as of the latest `onSync`, e.g. ["ann_1f…×2", "ben_07…×1"]. */
  online(): string[];
  /** The same as of the first `onSync` (undefined until there was one). */
  firstSync(): string[] | undefined;
}

/** Joins `room` with a `Presence` attached before the join, as the room page does. */
async function watch(room: string, token: string): Promise<Watcher> {
  let presence: Presence | undefined;
  let people: OnlinePerson[] = [];
  let first: OnlinePerson[] | undefined;
  const member = await enterRoom({
    baseUrl,
    room,
    token,
    sockets,
    prepare: (channel) => {
      const attached = new Presence(channel);
      attached.onSync(() => {
        people = onlinePeople(attached);
        first ??= people;
      });
      presence = attached;
    },
  });
  if (!presence) throw new Error("prepare did not run");
  const listed = (list: OnlinePerson[]) => list.map((person) => `${person.username}×${person.tabs}`);
  return { ...member, presence, online: () => listed(people), firstSync: () => first && listed(first) };
}

function online(...entries: Array<[username: string, tabs: number]>): string[] {
  return entries.map(([username, tabs]) => `${username}×${tabs}`).sort((a, b) => a.localeCompare(b));
}

async function waitForOnline(watcher: Watcher, expected: string[], timeoutMs = 3_000): Promise<void> {
  await waitUntil(
    `the presence list is ${JSON.stringify(expected)} (now ${JSON.stringify(watcher.online())})`,
    () => JSON.stringify([...watcher.online()].sort((a, b) => a.localeCompare(b))) === JSON.stringify(expected),
    timeoutMs,
  );
}

describe("presence through the official Presence class", () => {
  it("shows a joiner itself in its first sync", async () => {
    const ann = await registerUser(baseUrl, uniqueName("ann"));
    const room = uniqueName("e2e");
    const self = await watch(room, ann.token);
    await waitUntil("the first onSync", () => self.firstSync() !== undefined, 3_000);
    expect(self.firstSync()).toEqual(online([ann.username, 1]));
    expect(self.presence.inPendingSyncState()).toBe(false);
  });

  it("gives each of several quick joiners itself and everyone who joined before it in its first sync", async () => {
    const people = await Promise.all(["ann", "ben", "cat"].map((name) => registerUser(baseUrl, uniqueName(name))));
    const room = uniqueName("e2e");
    const watchers: Watcher[] = [];
    // One after another: whether or not the room has published the joins before (it collects them for 50 ms).
    for (const person of people) watchers.push(await watch(room, person.token));
    for (const [n, watcher] of watchers.entries()) {
      await waitUntil("the first onSync", () => watcher.firstSync() !== undefined, 3_000);
      const before = people.slice(0, n + 1).map((person) => [person.username, 1] as [string, number]);
      expect([...(watcher.firstSync() ?? [])].sort((a, b) => a.localeCompare(b))).toEqual(online(...before));
    }
  });

  it("lists a person with two tabs once, with two metas; a leave and a dropped connection each take one", async () => {
    const ann = await registerUser(baseUrl, uniqueName("ann"));
    const ben = await registerUser(baseUrl, uniqueName("ben"));
    const room = uniqueName("e2e");
    const observer = await watch(room, ben.token);
    const firstTab = await watch(room, ann.token);
    const secondTab = await watch(room, ann.token);

    const bothTabs = online([ann.username, 2], [ben.username, 1]);
    await waitForOnline(observer, bothTabs);
    await waitForOnline(firstTab, bothTabs);
    await waitForOnline(secondTab, bothTabs);

    // One key (ann's user id) holding one meta per tab, told apart by phx_ref.
    const annEntries = observer.presence.list((key: string, { metas }: { metas: PresenceMeta[] }) => ({ key, metas }));
    const annEntry = annEntries.find((entry) => entry.metas[0]?.username === ann.username);
    expect(annEntry?.key).toMatch(/^\d+$/);
    expect(annEntry?.metas).toHaveLength(2);
    expect(annEntry?.metas.map((meta) => meta.username)).toEqual([ann.username, ann.username]);
    expect(new Set(annEntry?.metas.map((meta) => meta.phx_ref)).size).toBe(2);
    for (const meta of annEntry?.metas ?? []) expect(Date.parse(meta.online_at)).not.toBeNaN();

    // A leave takes one meta: ann is still online, with one tab.
    secondTab.channel.leave();
    const oneTab = online([ann.username, 1], [ben.username, 1]);
    await waitForOnline(observer, oneTab);
    await waitForOnline(firstTab, oneTab);

    // A dropped connection (no leave sent) takes the other: ann is gone.
    firstTab.socket.disconnect();
    await waitForOnline(observer, online([ben.username, 1]));
  });

  it("gives a late joiner everyone already present in its first sync", async () => {
    const ann = await registerUser(baseUrl, uniqueName("ann"));
    const ben = await registerUser(baseUrl, uniqueName("ben"));
    const cat = await registerUser(baseUrl, uniqueName("cat"));
    const room = uniqueName("e2e");
    const first = await watch(room, ann.token);
    await watch(room, ben.token);
    await waitForOnline(first, online([ann.username, 1], [ben.username, 1]));

    const late = await watch(room, cat.token);
    await waitForOnline(late, online([ann.username, 1], [ben.username, 1], [cat.username, 1]));
    await waitForOnline(first, online([ann.username, 1], [ben.username, 1], [cat.username, 1]));
  });
});
