/** clientAddressKey: the key per-address caps count under (http/client-address.ts). */
import { describe, expect, it } from "vitest";
import { clientAddressKey } from "../../src/http/client-address";

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
