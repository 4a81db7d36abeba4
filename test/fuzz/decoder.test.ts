/**
 * Property-based tests of the frame decoder (`decode` in src/realtime/serializer.ts): whatever arrives,
 * it never throws, and what it makes of a frame follows from the frame alone, as docs/protocol.md
 * states it. The oracle below is written from that contract, field by field, not from the decoder's code:
 * - text that is not JSON, or JSON that is not a 5-array: undecodable (the socket is closed);
 * - a 5-array with every field of the right type: a message carrying exactly those fields;
 * - otherwise, with a string ref: invalid (answerable), naming the first wrong field; without one:
 *   undecodable, naming it too. So a 5-array with a string ref is never undecodable.
 * - bytes: a V2 binary push (kind 0, four sizes, the fields, the data) or undecodable; never invalid.
 *
 * 5 properties × 2,500 runs = 12,500 generated frames per `npm test` (VITE_FUZZ_RUNS changes the 2,500).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Decoded } from "../../src/realtime/phoenix/serializer";
import { decode } from "../../src/realtime/phoenix/serializer";
import { binaryPush } from "../bad-input/frames";
import { FUZZ_SEED, runsOr } from "./settings";

const RUNS = runsOr(2_500);
const options = { seed: FUZZ_SEED, numRuns: RUNS };
console.log(`decoder fuzz: seed ${FUZZ_SEED}, ${RUNS} runs per property (replay with VITE_FUZZ_SEED=${FUZZ_SEED})`);

const NOT_JSON = "frame is not valid JSON";
const NOT_A_5_ARRAY = "frame must be a JSON array [join_ref, ref, topic, event, payload]";

/** The wire contract for the fields of `[join_ref, ref, topic, event, payload]`, in the order checked. */
const FIELD_RULES: Array<[field: number, fits: (value: unknown) => boolean, problem: string]> = [
  [0, (v) => v === null || typeof v === "string", "join_ref must be a string or null"],
  [1, (v) => v === null || typeof v === "string", "ref must be a string or null"],
  [0, (v) => typeof v !== "string" || v.length <= 255, "join_ref must be at most 255 characters"],
  [1, (v) => typeof v !== "string" || v.length <= 255, "ref must be at most 255 characters"],
  [2, (v) => typeof v === "string" && v !== "", "topic must be a non-empty string"],
  [3, (v) => typeof v === "string" && v !== "", "event must be a non-empty string"],
  [4, (v) => typeof v === "object" && v !== null && !Array.isArray(v), "payload must be a JSON object"],
];

function expectedFromText(text: string): Decoded {
  let frame: unknown;
  try {
    frame = JSON.parse(text);
  } catch {
    return { kind: "undecodable", detail: NOT_JSON };
  }
  if (!Array.isArray(frame) || frame.length !== 5) return { kind: "undecodable", detail: NOT_A_5_ARRAY };
  const fields = frame as [unknown, unknown, unknown, unknown, unknown];
  const broken = FIELD_RULES.find(([field, fits]) => !fits(fields[field]));
  const [joinRef, ref, topic, event, payload] = fields;
  if (!broken) {
    return {
      kind: "message",
      message: {
        joinRef: joinRef as string | null,
        ref: ref as string | null,
        topic: topic as string,
        event: event as string,
        payload: payload as Record<string, unknown>,
      },
    };
  }
  if (typeof ref !== "string") return { kind: "undecodable", detail: broken[2] };
  return {
    kind: "invalid",
    joinRef: typeof joinRef === "string" ? joinRef : null,
    ref,
    topic: typeof topic === "string" ? topic : "phoenix",
    detail: broken[2],
  };
}

function decodesAsSpecified(text: string): void {
  const decoded = decode(text);
  expect(decoded).toEqual(expectedFromText(text));
  // What the socket layer relies on to answer every frame it can: a 5-array with a string ref always is.
  if (decoded.kind === "undecodable" && decoded.detail !== NOT_JSON && decoded.detail !== NOT_A_5_ARRAY) {
    expect((JSON.parse(text) as unknown[])[1]).not.toBeTypeOf("string");
  }
}

/** Code units JSON text is made of, plus lone surrogates (fast-check's "binary" unit never makes them). */
const textUnit = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom("[", "]", "{", "}", '"', ",", ":", "null", "1", "-", "\\", "\\u", " ") },
  { weight: 3, arbitrary: fc.string({ unit: "binary", maxLength: 1 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((unit) => String.fromCharCode(unit)) },
  { weight: 1, arbitrary: fc.constantFrom('"phx_join"', '"room:lobby"', '"new_post"', '"1"', "{}", "[]") },
);

/** A frame as phoenix.js would send it, then cut, spliced or corrupted at one place: text that is nearly right. */
const mangledFrame = fc
  .tuple(
    fc.constantFrom(
      '["1","1","room:lobby","phx_join",{}]',
      '[null,"2","room:lobby","new_post",{"message":"hi"}]',
      '[null,"hb","phoenix","heartbeat",{}]',
      '["1",null,"room:lobby","typing",{}]',
    ),
    fc.nat(),
    fc.nat(4),
    fc.string({ unit: textUnit, maxLength: 4 }),
  )
  .map(([frame, at, cut, insert]) => {
    const position = at % (frame.length + 1);
    return frame.slice(0, position) + insert + frame.slice(position + cut);
  });

/** JSON values with keys and strings from every code point, and lone surrogates among them. */
const anyJson = fc.jsonValue({
  maxDepth: 3,
  stringUnit: fc.oneof(
    fc.string({ unit: "binary", maxLength: 1 }),
    fc.integer({ min: 0xd800, max: 0xdfff }).map((unit) => String.fromCharCode(unit)),
  ),
});

/** Each field: sometimes of its right type (so frames get past the earlier fields), sometimes anything. */
const maybeString = fc.oneof(fc.constant(null), fc.string({ maxLength: 6 }), anyJson);
const maybeTopic = fc.oneof(fc.constantFrom("room:lobby", "phoenix", ""), fc.string({ maxLength: 8 }), anyJson);
const maybeEvent = fc.oneof(fc.constantFrom("phx_join", "new_post", "heartbeat", ""), anyJson);
const maybePayload = fc.oneof(fc.dictionary(fc.string({ maxLength: 4 }), anyJson, { maxKeys: 3 }), anyJson);

/** A V2 binary push's text fields: each at most 255 bytes of UTF-8 (one header byte holds its size). */
const pushField = fc
  .string({ unit: "grapheme", maxLength: 12 })
  .filter((field) => new TextEncoder().encode(field).byteLength <= 255);

describe("decode never throws, and classifies every frame as the protocol says", () => {
  it("arbitrary strings, and frames corrupted at one place", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: textUnit, maxLength: 40 }), mangledFrame), (text) =>
        decodesAsSpecified(text),
      ),
      options,
    );
  });

  it("arbitrary JSON values", () => {
    fc.assert(
      fc.property(anyJson, (value) => decodesAsSpecified(JSON.stringify(value))),
      options,
    );
  });

  it("arbitrary 5-arrays with arbitrary element types: a string ref is always answerable", () => {
    fc.assert(
      fc.property(fc.tuple(maybeString, maybeString, maybeTopic, maybeEvent, maybePayload), (frame) => {
        decodesAsSpecified(JSON.stringify(frame));
      }),
      options,
    );
  });

  it("arbitrary byte arrays: a message or undecodable, never an answerable error", () => {
    const nearlyAPush = fc
      .tuple(fc.array(fc.nat(8), { minLength: 4, maxLength: 4 }), fc.uint8Array({ maxLength: 40 }))
      .map(([sizes, rest]) => Uint8Array.from([0, ...sizes, ...rest]));
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 48 }), nearlyAPush), (bytes) => {
        const decoded = decode(bytes.slice().buffer);
        expect(decoded.kind).not.toBe("invalid");
        if (bytes.byteLength < 5 || bytes[0] !== 0) {
          expect(decoded).toEqual({
            kind: "undecodable",
            detail: "binary frames must be Phoenix V2 binary pushes (kind 0)",
          });
        }
        if (decoded.kind === "message") {
          const sizes = [...bytes.subarray(1, 5)].reduce((sum, size) => sum + size, 0);
          expect(decoded.message.payload).toBeInstanceOf(ArrayBuffer);
          expect((decoded.message.payload as ArrayBuffer).byteLength).toBe(bytes.byteLength - 5 - sizes);
          expect(decoded.message.topic).not.toBe("");
          expect(decoded.message.event).not.toBe("");
        }
      }),
      options,
    );
  });

  it("well-formed binary pushes decode to exactly their fields, empty refs as null", () => {
    fc.assert(
      fc.property(
        pushField,
        pushField,
        pushField.filter((topic) => topic !== ""),
        pushField.filter((event) => event !== ""),
        fc.uint8Array({ maxLength: 64 }),
        (joinRef, ref, topic, event, data) => {
          const decoded = decode(binaryPush(joinRef, ref, topic, event, data));
          expect(decoded.kind).toBe("message");
          if (decoded.kind !== "message") return;
          const { payload, ...fields } = decoded.message;
          expect(fields).toEqual({ joinRef: joinRef || null, ref: ref || null, topic, event });
          expect(new Uint8Array(payload as ArrayBuffer)).toEqual(data);
        },
      ),
      options,
    );
  });
});
