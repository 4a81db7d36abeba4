/**
 * The key the abuse limits count a client under: its address from CF-Connecting-IP, which Cloudflare's
 * edge sets (and overwrites if a client sent one). An IPv6 client counts as its /64 network, since one
 * subscriber usually holds a whole /64 and could otherwise take a fresh address for every attempt.
 * Without the header (local tools, tests that do not send it) every request shares one key, so the caps
 * still apply.
 */
export const UNKNOWN_CLIENT = "unknown";

/** Longer than any address; what a non-Cloudflare client sends is cut to this. */
const MAX_KEY_LENGTH = 64;

export function clientAddressKey(header: string | undefined): string {
  const text = (header ?? "").trim().toLowerCase();
  if (text === "") return UNKNOWN_CLIENT;
  if (!text.includes(":")) return text.slice(0, MAX_KEY_LENGTH);
  const groups = ipv6Groups(text);
  if (groups === undefined) return text.slice(0, MAX_KEY_LENGTH);
  // An IPv4-mapped address (::ffff:a.b.c.d) is that IPv4 client.
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    const [high = 0, low = 0] = groups.slice(6);
    return [high >> 8, high & 255, low >> 8, low & 255].join(".");
  }
  return `${groups
    .slice(0, 4)
    .map((group) => group.toString(16))
    .join(":")}::/64`;
}

/** The eight 16-bit groups of an IPv6 address ("::" expanded, a trailing dotted IPv4 included). */
function ipv6Groups(text: string): number[] | undefined {
  let address = text.split("%")[0] ?? ""; // a zone id (fe80::1%eth0) says nothing about the client
  const dotted = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address);
  if (dotted) {
    const octets = dotted.slice(1).map(Number);
    if (octets.some((octet) => octet > 255)) return undefined;
    const [a = 0, b = 0, c = 0, d = 0] = octets;
    address = `${address.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = address.split("::");
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(":") : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  if (!groups.every((group) => /^[0-9a-f]{1,4}$/.test(group))) return undefined;
  return groups.map((group) => Number.parseInt(group, 16));
}
