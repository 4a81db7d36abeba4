/** readSocketCredentials: where a socket's token comes from (http/ways-in/credentials.ts). */
import { describe, expect, it } from "vitest";
import { readSocketCredentials } from "../../../src/http/ways-in/credentials";

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
