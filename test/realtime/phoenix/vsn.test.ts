/**
 * Which serializer a `vsn` selects (phoenix/vsn.ts), as Phoenix.Socket's `negotiate_serializer` does with
 * its default `[{V1, "~> 1.0.0"}, {V2, "~> 2.0.0"}]`; and which one an attachment remembers.
 */
import { describe, expect, it } from "vitest";
import { negotiateSerializer, serializerOf } from "../../../src/realtime/phoenix/vsn";

describe("negotiateSerializer", () => {
  it("selects V1 for no vsn at all, as Phoenix does (phoenix.js always sends one)", () => {
    expect(negotiateSerializer(undefined)?.vsn).toBe("1.0.0");
  });

  it.each([
    ["1.0.0", "1.0.0"],
    ["2.0.0", "2.0.0"],
    ["1.0.7", "1.0.0"],
    ["2.0.12", "2.0.0"],
    ["2.0.1-rc.1", "2.0.0"],
    ["2.0.0+build.5", "2.0.0"],
  ])("selects by ~> MAJOR.0.0: %s is %s", (vsn, selected) => {
    expect(negotiateSerializer(vsn)?.vsn).toBe(selected);
  });

  it.each(["", "2", "2.0", "2.1.0", "3.0.0", "0.0.1", "1.1.0", "02.0.0", "2.0.0-rc", "v2.0.0", " 2.0.0", "2.0.0.0"])(
    "matches no serializer with %j (the upgrade is refused)",
    (vsn) => {
      expect(negotiateSerializer(vsn)).toBeUndefined();
    },
  );
});

describe("serializerOf", () => {
  it("gives back the serializer of a remembered version; none remembered is V2, all pyre spoke before V1", () => {
    expect(serializerOf("1.0.0").vsn).toBe("1.0.0");
    expect(serializerOf("2.0.0").vsn).toBe("2.0.0");
    expect(serializerOf(undefined).vsn).toBe("2.0.0");
  });
});
