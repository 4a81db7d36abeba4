/**
 * Where to go after logging in: `next` when it is a path on this site, else undefined (the caller goes
 * to "/"). The path is resolved the way a browser would resolve the Location header; anything that lands
 * on another origin (//host, /\host, a scheme) or carries control characters is refused, so a login link
 * cannot be turned into an open redirect.
 */
export function safeNextPath(next: string | undefined): string | undefined {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
  if (!next?.startsWith("/") || /[\u0000-\u001f\u007f]/.test(next)) return undefined;
  const base = "https://pyre.invalid";
  let url: URL;
  try {
    url = new URL(next, base);
  } catch {
    return undefined; // e.g. "//[" names an invalid host
  }
  return url.origin === base ? url.pathname + url.search + url.hash : undefined;
}
