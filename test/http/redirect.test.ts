/** safeNextPath: where a login may send the browser next (http/redirect.ts). */
import { describe, expect, it } from "vitest";
import { safeNextPath } from "../../src/http/redirect";

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
