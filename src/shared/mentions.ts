/**
 * The mention rule: `@name` mentions the person called `name`, case-insensitively, and only as a whole
 * name: the `@` must not follow a letter, digit or `_`, and the name is the whole run of A-Z a-z 0-9 _ after
 * it. So "@al" is not a mention of "alice", "@alice_b" is not one of "alice", and "bob@alice.dev" is not a
 * mention at all. One rule for the room's mention filter, the page's highlighting and the mentions D1
 * stores (src/db/mentions.ts), so all three always agree.
 */

/** An `@` not after a name character, and the whole run of name characters after it. */
const MENTION = /(?<![A-Za-z0-9_])@([A-Za-z0-9_]+)/g;

/** The names `message` mentions, lower-cased, each once, in order of first mention. */
export function mentionedNames(message: string): string[] {
  const names = new Set<string>();
  for (const [, name] of message.matchAll(MENTION)) if (name) names.add(name.toLowerCase());
  return [...names];
}

/** Whether `message` mentions `@username`. */
export function mentions(message: string, username: string): boolean {
  const name = username.replace(/[^A-Za-z0-9_]/g, "").toLowerCase();
  if (name === "") return false;
  return mentionedNames(message).includes(name);
}
