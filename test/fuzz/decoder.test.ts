/**
 * Property-based tests of the frame decoders (`decode` of src/realtime/phoenix/v2.ts and v1.ts): whatever
 * arrives, they never throw, and what they make of a frame follows from the frame alone, as
 * docs/protocol.md states it. The oracle below is written from that contract, field by field, not from the
 * decoders' code:
 * - V2: text that is not JSON, or JSON that is not a 5-array: undecodable (the socket is closed);
 * - V1: text (or bytes, read as UTF-8 text) that is not JSON, JSON that is not an object, or an object
 *   without one of topic, event, payload, ref (in that order): undecodable; join_ref may be left out;
 * - then the fields: a ref and a join_ref may be any JSON value of at most 255 characters (a string's
 *   own, any other value's JSON); topic and event non-empty strings; payload an object. All right: a
 *   message carrying exactly those fields; otherwise, with a ref that is not null: invalid (answerable),
 *   naming the first wrong field; with a null ref: undecodable, naming it too. So a frame with a ref is
 *   never undecodable once it has its shape.
 * - V2 bytes: a V2 binary push (kind 0, four sizes, the fields, the data) or undecodable; never invalid.
 *
 * 8 properties × 2,500 runs = 20,000 generated frames per `npm test` (VITE_FUZZ_RUNS changes the 2,500).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { JsonValue } from "../../src/realtime/phoenix/protocol";
import type { Decoded } from "../../src/realtime/phoenix/serializer";
import { v1Json } from "../../src/realtime/phoenix/v1";
import { v2Json } from "../../src/realtime/phoenix/v2";
import { binaryPush } from "../bad-input/frames";
import { FUZZ_SEED, runsOr } from "./settings";

const decode = (raw: string | ArrayBuffer) => v2Json.decode(raw);

const RUNS = runsOr(2_500);
const options = { seed: FUZZ_SEED, numRuns: RUNS };
console.log(`decoder fuzz: seed ${FUZZ_SEED}, ${RUNS} runs per property (replay with VITE_FUZZ_SEED=${FUZZ_SEED})`);

const NOT_JSON = "frame is not valid JSON";
const NOT_A_5_ARRAY = "frame must be a JSON array [join_ref, ref, topic, event, payload]";
const V1_SHAPE = "a V1 frame is a JSON object {topic, event, payload, ref, join_ref?}";
const NOT_AN_OBJECT = `frame must be a JSON object: ${V1_SHAPE}`;

type Fields = [joinRef: JsonValue, ref: JsonValue, topic: unknown, event: unknown, payload: unknown];

/** A ref's size as the contract counts it: a string's characters, any other value's JSON. */
const refSize = (ref: JsonValue) => (typeof ref === "string" ? ref.length : JSON.stringify(ref).length);
const ofJson = (ref: JsonValue) => (typeof ref === "string" || ref === null ? "" : " of JSON");

/** The wire contract for the five fields, in the order checked: a problem, or undefined if it fits. */
const FIELD_RULES: Array<(fields: Fields) => string | undefined> = [
  ([joinRef]) => (refSize(joinRef) > 255 ? `join_ref must be at most 255 characters${ofJson(joinRef)}` : undefined),
  ([, ref]) => (refSize(ref) > 255 ? `ref must be at most 255 characters${ofJson(ref)}` : undefined),
  ([, , topic]) => (typeof topic === "string" && topic !== "" ? undefined : "topic must be a non-empty string"),
  ([, , , event]) => (typeof event === "string" && event !== "" ? undefined : "event must be a non-empty string"),
  ([, , , , payload]) =>
    typeof payload === "object" && payload !== null && !Array.isArray(payload)
      ? undefined
      : "payload must be a JSON object",
];

/** What the contract says of a frame's five fields, once the frame had its serializer's shape. */
function expectedFromFields(fields: Fields): Decoded {
  const [joinRef, ref, topic, event, payload] = fields;
  const problem = FIELD_RULES.map((rule) => rule(fields)).find((found) => found !== undefined);
  if (problem === undefined) {
    return {
      kind: "message",
      message: {
        joinRef,
        ref,
        topic: topic as string,
        event: event as string,
        payload: payload as Record<string, unknown>,
      },
    };
  }
  if (ref === null) return { kind: "undecodable", detail: problem };
  return { kind: "invalid", joinRef, ref, topic: typeof topic === "string" ? topic : "phoenix", detail: problem };
}

function expectedFromText(text: string): Decoded {
  let frame: unknown;
  try {
    frame = JSON.parse(text);
  } catch {
    return { kind: "undecodable", detail: NOT_JSON };
  }
  if (!Array.isArray(frame) || frame.length !== 5) return { kind: "undecodable", detail: NOT_A_5_ARRAY };
  return expectedFromFields(frame as Fields);
}

function expectedFromV1Text(text: string): Decoded {
  let frame: unknown;
  try {
    frame = JSON.parse(text);
  } catch {
    return { kind: "undecodable", detail: NOT_JSON };
  }
  if (typeof frame !== "object" || frame === null || Array.isArray(frame)) {
    return { kind: "undecodable", detail: NOT_AN_OBJECT };
  }
  const map = frame as Record<string, JsonValue>;
  for (const key of ["topic", "event", "payload", "ref"]) {
    if (!Object.hasOwn(map, key)) return { kind: "undecodable", detail: `frame has no "${key}": ${V1_SHAPE}` };
  }
  const joinRef = Object.hasOwn(map, "join_ref") ? (map.join_ref as JsonValue) : null;
  return expectedFromFields([joinRef, map.ref as JsonValue, map.topic, map.event, map.payload]);
}

/** What the socket layer relies on to answer every frame it can: one with its shape and a ref always is. */
function answerableWithRef(decoded: Decoded, ref: () => unknown): void {
  const shapeless = [NOT_JSON, NOT_A_5_ARRAY, NOT_AN_OBJECT];
  if (decoded.kind === "undecodable" && !shapeless.includes(decoded.detail) && !decoded.detail.includes("has no")) {
    expect(ref()).toBeNull();
  }
}

function decodesAsSpecified(text: string): void {
  const decoded = decode(text);
  expect(decoded).toEqual(expectedFromText(text));
  answerableWithRef(decoded, () => (JSON.parse(text) as unknown[])[1]);
}

function decodesAsSpecifiedInV1(text: string): void {
  const decoded = v1Json.decode(text);
  expect(decoded).toEqual(expectedFromV1Text(text));
  answerableWithRef(decoded, () => (JSON.parse(text) as Record<string, unknown>).ref);
  // A binary frame is read as the same text.
  expect(v1Json.decode(new TextEncoder().encode(text).slice().buffer)).toEqual(
    isWellFormedUtf16(text) ? decoded : expect.objectContaining({ kind: expect.any(String) }),
  );
}

/** Text without lone surrogates: its UTF-8 bytes read back as the same text. */
function isWellFormedUtf16(text: string): boolean {
  return !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text);
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

/** A frame as a V1 client would send it, then cut, spliced or corrupted at one place. */
const mangledV1Frame = fc
  .tuple(
    fc.constantFrom(
      '{"topic":"room:lobby","event":"phx_join","payload":{},"ref":"1"}',
      '{"topic":"room:lobby","event":"new_post","payload":{"message":"hi"},"ref":2,"join_ref":1}',
      '{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"9"}',
      '{"topic":"room:lobby","event":"typing","payload":{},"ref":null}',
    ),
    fc.nat(),
    fc.nat(4),
    fc.string({ unit: textUnit, maxLength: 4 }),
  )
  .map(([frame, at, cut, insert]) => {
    const position = at % (frame.length + 1);
    return frame.slice(0, position) + insert + frame.slice(position + cut);
  });

/** A V1 frame's keys, each present or not, each of its right type or anything (a ref at its bound sometimes). */
const anyRef = fc.oneof(
  maybeString,
  fc.integer(),
  // Either side of the 255-character bound: a string's characters, another value's JSON.
  fc.constantFrom<JsonValue>("r".repeat(255), "r".repeat(256), { k: "x".repeat(245) }, { k: "x".repeat(246) }),
);
const v1Object = fc.record(
  { topic: maybeTopic, event: maybeEvent, payload: maybePayload, ref: anyRef, join_ref: anyRef },
  { requiredKeys: [] },
);

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

  it("arbitrary 5-arrays with arbitrary element types: a ref that is not null is always answerable", () => {
    fc.assert(
      fc.property(fc.tuple(anyRef, anyRef, maybeTopic, maybeEvent, maybePayload), (frame) => {
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

describe("V1: decode never throws, and classifies every frame as the protocol says", () => {
  it("arbitrary strings, and V1 frames corrupted at one place, in text and binary frames", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: textUnit, maxLength: 40 }), mangledV1Frame), (text) =>
        decodesAsSpecifiedInV1(text),
      ),
      options,
    );
  });

  it("arbitrary JSON values", () => {
    fc.assert(
      fc.property(anyJson, (value) => decodesAsSpecifiedInV1(JSON.stringify(value))),
      options,
    );
  });

  it("objects with any of the keys, of arbitrary types: with its keys and a ref, always answerable", () => {
    fc.assert(
      fc.property(v1Object, (frame) => decodesAsSpecifiedInV1(JSON.stringify(frame))),
      options,
    );
  });
});
