/**
 * Which serializer a socket speaks, chosen once when it connects by the `vsn` it asked for, as Phoenix's
 * `negotiate_serializer` chooses: `~> 1.0.0` is V1, `~> 2.0.0` is V2, and a socket without a `vsn` speaks V1
 * (phoenix.js always sends 2.0.0). Each socket's attachment remembers the choice by its version.
 */
import type { Serializer, SerializerVersion } from "./serializer";
import { v1Json } from "./v1";
import { v2Json } from "./v2";

/** What a refusal says pyre speaks. */
export const SUPPORTED_VSNS = "vsn=2.0.0 (Phoenix's V2 serializer, phoenix.js) or vsn=1.0.0 (V1 JSON)";

/**
 * A version Elixir's `Version.match?(vsn, "~> MAJOR.0.0")` accepts: `MAJOR.0.PATCH`, no leading zeros, an
 * optional pre-release (which sorts before its version, so `MAJOR.0.0-rc` does not match) and build.
 */
const VERSION = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;

/**
 * The serializer a socket connecting with `vsn` speaks; undefined when no serializer matches it (the
 * upgrade is refused). `vsn` is the last one the query holds (Plug's rule for a repeated parameter).
 */
export function negotiateSerializer(vsn: string | undefined): Serializer | undefined {
  if (vsn === undefined) return v1Json;
  const parts = VERSION.exec(vsn);
  if (parts === null) return undefined;
  const [, major, minor, patch, preRelease] = parts;
  // `~> MAJOR.0.0`: MAJOR.0.0 or later (a pre-release of it sorts before it), before MAJOR.1.0.
  if (minor !== "0" || (patch === "0" && preRelease !== undefined)) return undefined;
  if (major === "1") return v1Json;
  if (major === "2") return v2Json;
  return undefined;
}

/** The serializer of a version remembered in an attachment; none remembered is V2, all pyre spoke before V1. */
export function serializerOf(version: SerializerVersion | undefined): Serializer {
  return version === "1.0.0" ? v1Json : v2Json;
}

export function isSerializerVersion(value: unknown): value is SerializerVersion {
  return value === "1.0.0" || value === "2.0.0";
}
