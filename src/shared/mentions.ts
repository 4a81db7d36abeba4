/**
 * Whether `message` mentions `@username`: case-insensitive, and only as a whole name, so "@al" is not a
 * mention of "alice" and "bob@alice.dev" is not a mention at all. Shared by the room's mention filter and
 * the page's highlighting, so both always agree.
 */
export function mentions(message: string, username: string): boolean {
  const name = username.replace(/[^A-Za-z0-9_]/g, "");
  if (name === "") return false;
  return new RegExp(`(?<![A-Za-z0-9_])@${name}(?![A-Za-z0-9_])`, "i").test(message);
}
