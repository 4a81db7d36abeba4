import { describe, expect, it } from "vitest";
import { mentions } from "../../src/shared/mentions";

describe("mentions(message, username)", () => {
  it.each([
    ["hi @alice", true],
    ["@alice: look", true],
    ["(@alice)", true],
    ["@ALICE shouting", true],
    ["hi @Alice, and @bob", true],
    ["hi alice", false],
    ["hi @alic", false],
    ["hi @alice_b", false],
    ["hi @alice2", false],
    ["mail bob@alice.dev", false],
    ["x@alice", false],
    ["@@alice", true],
  ])("%j → %s", (message, expected) => {
    expect(mentions(message, "alice")).toBe(expected);
  });

  it("never matches an empty username", () => {
    expect(mentions("@ hello", "")).toBe(false);
  });
});
