import { describe, expect, it } from "vitest";
import { checkMessage, MESSAGE_MAX_LENGTH } from "../../src/shared/post";
import { isRoomName, roomTopic } from "../../src/shared/rooms";
import { formatAge, formatPostTime } from "../../src/shared/time";

describe("checkMessage", () => {
  it("trims and accepts up to 2000 code points", () => {
    expect(checkMessage("  hi  ")).toEqual({ ok: true, value: "hi" });
    expect(checkMessage("é".repeat(MESSAGE_MAX_LENGTH))).toMatchObject({ ok: true });
    expect(checkMessage("👩🏽‍🚀".repeat(400))).toMatchObject({ ok: true }); // 4 code points each: 1600
  });

  it.each([
    [undefined, "can't be blank"],
    [null, "can't be blank"],
    ["", "can't be blank"],
    ["\u00a0\u2003\n", "can't be blank"],
    [12, "must be a string"],
    [["a"], "must be a string"],
    ["a".repeat(2001), "is too long (2001 characters, at most 2000)"],
  ])("refuses %j: %s", (raw, error) => {
    expect(checkMessage(raw)).toEqual({ ok: false, error });
  });
});

describe("room names", () => {
  it.each([
    ["lobby", true],
    ["a", true],
    ["A-z_0-9", true],
    ["x".repeat(64), true],
    ["x".repeat(65), false],
    ["", false],
    ["has space", false],
    ["dot.name", false],
    ["ünïcode", false],
    [42, false],
  ])("%j is valid: %s", (name, valid) => {
    expect(isRoomName(name)).toBe(valid);
  });

  it("names the topic room:NAME", () => {
    expect(roomTopic("lobby")).toBe("room:lobby");
  });
});

describe("formatPostTime", () => {
  const now = new Date("2026-11-29T15:00:00Z");
  it("shows the time alone today and the date before", () => {
    expect(formatPostTime("2026-11-29T09:05:00Z", now, "UTC")).toBe("09:05");
    expect(formatPostTime("2026-11-28T23:59:00Z", now, "UTC")).toBe("Nov 28, 23:59");
  });
});

describe("formatAge", () => {
  const now = new Date("2026-11-29T15:00:00Z");
  it.each([
    [0, "just now"],
    [59_000, "just now"],
    [5 * 60_000, "5 min ago"],
    [3 * 3600_000 + 1, "3 h ago"],
    [50 * 3600_000, "2 d ago"],
  ])("%i ms ago reads %j", (ago, text) => {
    expect(formatAge(new Date(now.getTime() - ago), now)).toBe(text);
  });
});
