/** The small pure pieces of the HTTP layer: redirects, origins, socket credentials. */
import { describe, expect, it } from "vitest";
import { isAllowedOrigin, parseAllowedOrigins } from "../../src/http/origin";
import { safeNextPath } from "../../src/http/redirect";
import { readSocketCredentials } from "../../src/http/socket-credentials";

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
  it("allows exactly the request's own scheme, host and port", () => {
    expect(isAllowedOrigin("http://127.0.0.1:8787", url, "")).toBe(true);
    expect(isAllowedOrigin("http://127.0.0.1:8788", url, "")).toBe(false);
    expect(isAllowedOrigin("https://127.0.0.1:8787", url, "")).toBe(false);
    expect(isAllowedOrigin("http://localhost:8787", url, "")).toBe(false);
    expect(isAllowedOrigin("null", url, "")).toBe(false);
  });

  it("allows listed origins, normalised, and ignores entries that are not origins", () => {
    expect(parseAllowedOrigins(" https://a.example/ , not a url,https://B.example:8443")).toEqual([
      "https://a.example",
      "https://b.example:8443",
    ]);
    expect(isAllowedOrigin("https://b.example:8443", url, "https://B.example:8443")).toBe(true);
    expect(isAllowedOrigin("https://sub.b.example:8443", url, "https://B.example:8443")).toBe(false);
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
