import { describe, expect, it } from "vitest";
import { mentionedNames, mentions } from "../../src/shared/mentions";

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

describe("mentionedNames(message)", () => {
  it("names each whole name after an @ that does not follow a name character, lower-cased, once", () => {
    expect(mentionedNames("hi @Alice, @bob and @ALICE; mail bob@carol.dev, @alice_b (@dave) @@eve x@frank")).toEqual([
      "alice",
      "bob",
      "alice_b",
      "dave",
      "eve",
    ]);
    expect(mentionedNames("@ @_ @9 🔥@gina @héctor")).toEqual(["_", "9", "gina", "h"]);
    expect(mentionedNames("no one")).toEqual([]);
  });
});
