/**
 * Which origins may post our forms and open sockets: the app's own (the scheme, host and port the request
 * was sent to) and those listed in the ALLOWED_ORIGINS var. Exact matches only, unlike Phoenix's default
 * host-only check, so http://app and https://app:8443 are different origins.
 */
export function isAllowedOrigin(origin: string, requestUrl: string, allowedOrigins: string | undefined): boolean {
  if (origin === new URL(requestUrl).origin) return true;
  return parseAllowedOrigins(allowedOrigins).includes(origin);
}

/** The var rarely changes, so each distinct value is parsed (and its bad entries logged) once. */
const parsed = new Map<string, string[]>();

/** "https://a.example, https://b.example" → normalised origins; entries that are not URLs are ignored. */
export function parseAllowedOrigins(value: string | undefined): string[] {
  if (!value) return [];
  const known = parsed.get(value);
  if (known) return known;
  const origins: string[] = [];
  for (const entry of value.split(",")) {
    const trimmed = entry.trim();
    if (trimmed === "") continue;
    try {
      origins.push(new URL(trimmed).origin);
    } catch {
      console.error(`[pyre] ALLOWED_ORIGINS: ignoring ${JSON.stringify(trimmed)}, which is not an origin URL`);
    }
  }
  parsed.set(value, origins);
  return origins;
}
