/**
 * Which origins may post our forms and open sockets: the app's own (the scheme, host and port the request
 * was sent to) and those listed in ALLOWED_ORIGINS. Exact matches only, unlike Phoenix's host-only check,
 * and never `Origin: null` (docs/security.md#forms-and-origins).
 */

const WEB_SCHEMES = new Set(["http:", "https:"]);

/**
 * The origin a header value or ALLOWED_ORIGINS entry names, normalised; undefined when it names none: the
 * literal "null", text that is not a URL, a URL with credentials, a path, a query or a fragment, or a scheme
 * with no host (file:, data:, blob:). Web origins (http, https) are their URL origin; any other scheme is
 * lower-cased `scheme://host[:port]`, because its URL origin is the opaque "null" that sandboxed iframes and
 * data: pages send too, so comparing URL origins would let every such page in.
 */
export function normaliseOrigin(text: string): string | undefined {
  if (text === "null") return undefined;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if (url.username !== "" || url.password !== "" || url.search !== "" || url.hash !== "") return undefined;
  if (url.host === "" || (url.pathname !== "" && url.pathname !== "/")) return undefined;
  if (WEB_SCHEMES.has(url.protocol)) return url.origin;
  // URL keeps the case of a host under a scheme it does not know; origins ignore it.
  return `${url.protocol}//${url.host.toLowerCase()}`;
}

export function isAllowedOrigin(origin: string, requestUrl: string, allowed: ReadonlySet<string>): boolean {
  const normalised = normaliseOrigin(origin);
  if (normalised === undefined) return false;
  return normalised === new URL(requestUrl).origin || allowed.has(normalised);
}

export type AllowedOriginsResult = { ok: true; origins: ReadonlySet<string> } | { ok: false; problem: string };

/**
 * "https://a.example, capacitor://localhost" → normalised origins. An entry that names no origin makes the
 * whole value unusable: ignoring it would leave the operator's app locked out with no sign why, and
 * guessing what it meant could let in more than intended.
 */
export function parseAllowedOrigins(value: string | undefined): AllowedOriginsResult {
  const origins = new Set<string>();
  for (const entry of (value ?? "").split(",")) {
    const trimmed = entry.trim();
    if (trimmed === "") continue;
    const origin = normaliseOrigin(trimmed);
    if (origin === undefined) {
      return {
        ok: false,
        problem:
          `ALLOWED_ORIGINS entry ${JSON.stringify(trimmed)} is not an origin: list scheme://host[:port] entries ` +
          'separated by commas, e.g. "https://chat.example.com, capacitor://localhost" ("null" is never allowed)',
      };
    }
    origins.add(origin);
  }
  return { ok: true, origins };
}
