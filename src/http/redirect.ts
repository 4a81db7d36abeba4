/**
 * Where to go after logging in: `next` when it is a path on this site, else "/". Anything that could leave
 * the site (//host, /\host, a scheme, control characters) is refused, so a login link cannot be turned
 * into an open redirect.
 */
export function safeNextPath(next: string | undefined): string | undefined {
  if (!next?.startsWith("/") || next.startsWith("//") || next.startsWith("/\\")) return undefined;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
  if (/[\u0000-\u001f\u007f]/.test(next)) return undefined;
  const base = "https://pyre.invalid";
  let url: URL;
  try {
    url = new URL(next, base);
  } catch {
    return undefined;
  }
  if (url.origin !== base) return undefined;
  return url.pathname + url.search + url.hash;
}
