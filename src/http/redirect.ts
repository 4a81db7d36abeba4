/**
 * Where to go after logging in: `next` when it is a path on this site, else undefined (the caller goes
 * to "/"). The path is resolved the way a browser resolves a Location header, and the result must itself
 * be a plain local path: "/..//evil.example" resolves to "//evil.example", which a browser would read as
 * another host, so it is refused like "//host", "/\host", schemes and control characters.
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
  const path = url.pathname + url.search + url.hash;
  if (url.origin !== base || path.startsWith("//") || path.startsWith("/\\")) return undefined;
  return path;
}
