/** The small pure pieces of the HTTP layer: redirects, origins, socket credentials. */
import { describe, expect, it } from "vitest";
import { clientAddressKey } from "../../src/http/client-address";
import { isAllowedOrigin, parseAllowedOrigins } from "../../src/http/origin";
import { safeNextPath } from "../../src/http/redirect";
import { readSocketCredentials } from "../../src/http/ways-in/credentials";

describe("safeNextPath", () => {
  it.each([
    ["/rooms/lobby", "/rooms/lobby"],
    ["/rooms/lobby?x=1#end", "/rooms/lobby?x=1#end"],
    ["/", "/"],
    ["/a/../b", "/b"],
  ])("keeps the local path %j", (next, expected) => {
    expect(safeNextPath(next)).toBe(expected);
  });

  it.each([
    undefined,
    "",
    "rooms",
    "//evil.example",
    "/\\evil.example",
    "https://evil.example/",
    "javascript:alert(1)",
    "/\nLocation: https://evil.example",
    "//[",
    "/..//evil.example",
    "/.//evil.example",
    "/a/..//evil.example",
    "/%2e%2e//evil.example",
    "/..\\/evil.example",
  ])("refuses %j", (next) => {
    expect(safeNextPath(next)).toBeUndefined();
  });
});

describe("origins", () => {
  const url = "http://127.0.0.1:8787/socket/websocket";
  const none = new Set<string>();
  const listed = (value: string) => {
    const result = parseAllowedOrigins(value);
    if (!result.ok) throw new Error(result.problem);
    return result.origins;
  };

  it("allows exactly the request's own scheme, host and port", () => {
    expect(isAllowedOrigin("http://127.0.0.1:8787", url, none)).toBe(true);
    expect(isAllowedOrigin("http://127.0.0.1:8788", url, none)).toBe(false);
    expect(isAllowedOrigin("https://127.0.0.1:8787", url, none)).toBe(false);
    expect(isAllowedOrigin("http://localhost:8787", url, none)).toBe(false);
    expect(isAllowedOrigin("null", url, none)).toBe(false);
    expect(isAllowedOrigin("not an origin", url, none)).toBe(false);
  });

  it("allows listed origins, normalised", () => {
    expect([...listed(" https://a.example/ ,https://B.example:8443, , HTTPS://c.example:443")]).toEqual([
      "https://a.example",
      "https://b.example:8443",
      "https://c.example",
    ]);
    const allowed = listed("https://B.example:8443");
    expect(isAllowedOrigin("https://b.example:8443", url, allowed)).toBe(true);
    expect(isAllowedOrigin("https://sub.b.example:8443", url, allowed)).toBe(false);
    expect(isAllowedOrigin("http://b.example:8443", url, allowed)).toBe(false);
  });

  it("compares app schemes as lower-cased scheme://host[:port], and never lets `null` in", () => {
    const allowed = listed("Capacitor://LocalHost/, ionic://localhost:8100, tauri://localhost");
    expect([...allowed]).toEqual(["capacitor://localhost", "ionic://localhost:8100", "tauri://localhost"]);
    expect(isAllowedOrigin("capacitor://localhost", url, allowed)).toBe(true);
    expect(isAllowedOrigin("ionic://localhost:8100", url, allowed)).toBe(true);
    expect(isAllowedOrigin("ionic://localhost", url, allowed)).toBe(false);
    expect(isAllowedOrigin("capacitor://localhost.evil.example", url, allowed)).toBe(false);
    expect(isAllowedOrigin("null", url, allowed)).toBe(false);
    expect(isAllowedOrigin("NULL", url, allowed)).toBe(false);
  });

  it.each([
    "null",
    "not a url",
    "https://a.example/path",
    "https://a.example/?q",
    "https://a.example/#f",
    "https://user@a.example",
    "capacitor:",
    "capacitor:localhost",
    "file:///etc/passwd",
    "data:text/html;base64",
  ])("refuses the ALLOWED_ORIGINS entry %j, naming it", (entry) => {
    const result = parseAllowedOrigins(`https://fine.example, ${entry}`);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.problem).toContain(`ALLOWED_ORIGINS entry ${JSON.stringify(entry)}`);
  });

  it("treats an empty or missing value as no extra origins", () => {
    expect(parseAllowedOrigins("")).toEqual({ ok: true, origins: new Set() });
    expect(parseAllowedOrigins(undefined)).toEqual({ ok: true, origins: new Set() });
  });
});

describe("clientAddressKey", () => {
  it.each([
    ["203.0.113.9", "203.0.113.9"],
    [" 203.0.113.9 ", "203.0.113.9"],
    [undefined, "unknown"],
    ["", "unknown"],
    ["2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"],
    ["2001:0DB8:0001:0002::9", "2001:db8:1:2::/64"],
    ["2001:db8::1", "2001:db8:0:0::/64"],
    ["::1", "0:0:0:0::/64"],
    ["fe80::1%eth0", "fe80:0:0:0::/64"],
    ["::ffff:198.51.100.7", "198.51.100.7"],
    ["64:ff9b::198.51.100.7", "64:ff9b:0:0::/64"],
    ["not:an:address", "not:an:address"],
    ["1::2::3", "1::2::3"],
    ["x".repeat(100), "x".repeat(64)],
  ])("keys %j as %j", (header, key) => {
    expect(clientAddressKey(header)).toBe(key);
  });
});

describe("readSocketCredentials", () => {
  const token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig-_";
  const request = (headers: Record<string, string>, query = "") =>
    new Request(`http://127.0.0.1/socket/websocket?vsn=2.0.0${query}`, { headers });

  it("reads Phoenix's authToken subprotocol (unpadded standard base64) and notes `phoenix`", () => {
    const encoded = btoa(token).replace(/=/g, "");
    expect(
      readSocketCredentials(request({ "Sec-WebSocket-Protocol": `phoenix, base64url.bearer.phx.${encoded}` })),
    ).toEqual({
      ok: true,
      token,
      phoenixSubprotocol: true,
    });
  });

  it("also reads the url-safe alphabet", () => {
    const encoded = btoa("a?>b").replace(/=/g, "").replace(/\+/g, "-").replace(/\//g, "_");
    expect(
      readSocketCredentials(request({ "Sec-WebSocket-Protocol": `base64url.bearer.phx.${encoded}` })),
    ).toMatchObject({
      ok: true,
      token: "a?>b",
      phoenixSubprotocol: false,
    });
  });

  it("falls back to the token query parameter", () => {
    expect(readSocketCredentials(request({}, "&token=abc"))).toEqual({
      ok: true,
      token: "abc",
      phoenixSubprotocol: false,
    });
    expect(readSocketCredentials(request({}))).toEqual({ ok: true, token: undefined, phoenixSubprotocol: false });
  });

  it.each(["%%%", "", "a===="])("refuses a bearer subprotocol that is not base64 (%j)", (encoded) => {
    expect(
      readSocketCredentials(request({ "Sec-WebSocket-Protocol": `phoenix, base64url.bearer.phx.${encoded}` })),
    ).toEqual({
      ok: false,
      problem: "the bearer subprotocol is not valid base64",
    });
  });
});
