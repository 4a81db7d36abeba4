/**
 * The channel fuzzer's steps and its model of one socket. Each generated step is one frame from one
 * member; the model says, from that socket's own history alone, what the room must answer, because a
 * socket's frames are handled in order and its join state is its own. (Rate limits and D1 are shared, so
 * for posts the model allows each answer the contract allows: ok, rate_limited, or unavailable when D1
 * was slower than the pool's 1 s POST_STORE_TIMEOUT_MS on a busy machine. Edits and deletions target the
 * posts the run has seen stored so far ({@link RoomKnowledge}); a deletion of the same post from another
 * socket may land first, so `not found` is allowed wherever one was sent.)
 *
 * The expectations are written from the protocol as docs/protocol.md states it, not from the room's code.
 */
import fc from "fast-check";
import type { JsonValue } from "../../src/realtime/phoenix/protocol";
import { binaryPush } from "../bad-input/frames";

/** Which join_ref a push carries: the socket's current one (null when not joined), none, or an older one. */
export type JoinRefChoice = "current" | "none" | "stale";
export type MessageCase = "valid" | "mention" | "blank" | "control" | "surrogate" | "long" | "number";
export type ClientIdCase = { kind: "none" } | { kind: "good"; value: string } | { kind: "bad"; value: unknown };
export type FatalCase =
  | "not JSON"
  | "not a 5-array"
  | "no ref, bad types"
  | "binary junk"
  | "oversized"
  | "join without ref";

export type Action =
  | { kind: "heartbeat" }
  | { kind: "constant heartbeat" }
  | { kind: "join"; params: Record<string, unknown>; joinRefNull: boolean }
  /** A page coming back: a join with `last_seen_seq` from the member's own view (filled in by the run). */
  | { kind: "rejoin"; joinRefNull: boolean }
  | {
      kind: "edit";
      joinRef: JoinRefChoice;
      /** Which post the run has seen stored (modulo how many), or `null`: an id the room never gave out. */
      target: number | null;
      message: MessageCase;
      text: string;
      mention: number;
      clientId: ClientIdCase;
      withRef: boolean;
    }
  | { kind: "delete"; joinRef: JoinRefChoice; target: number | null; withRef: boolean }
  | { kind: "bad change"; event: "edit_post" | "delete_post"; id: unknown }
  | { kind: "bad join"; params: Record<string, unknown>; errors: Record<string, string> }
  | { kind: "binary join" }
  | { kind: "foreign join"; topic: string }
  | { kind: "leave"; joinRef: JoinRefChoice }
  | {
      kind: "post";
      joinRef: JoinRefChoice;
      message: MessageCase;
      text: string;
      mention: number;
      clientId: ClientIdCase;
      withRef: boolean;
    }
  | { kind: "typing"; joinRef: JoinRefChoice; withRef: boolean }
  | { kind: "unknown event"; joinRef: JoinRefChoice; event: string }
  | { kind: "foreign push"; topic: string; event: string }
  | { kind: "malformed"; variant: number }
  | { kind: "binary post"; joinRef: JoinRefChoice }
  | { kind: "binary typing"; joinRef: JoinRefChoice }
  | { kind: "fatal"; fatal: FatalCase };

export interface Step {
  member: number;
  action: Action;
}

const joinRefChoice = fc.constantFrom<JoinRefChoice>("current", "current", "none", "stale");

/** Message text with no surrounding whitespace (so the stored text is exactly this), unicode and markup. */
const text = fc
  .string({
    unit: fc.constantFrom("a", "b", "Z", "7", " ", "\n", "\t", "é", "名", "🔥", "<", ">", "&", "'", '"', "@", ";", "-"),
    maxLength: 30,
  })
  .map((inner) => `m${inner}.`);

const clientId = fc.oneof(
  { weight: 6, arbitrary: fc.constant<ClientIdCase>({ kind: "none" }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom("c-1", "c-2", "C-3").map<ClientIdCase>((value) => ({ kind: "good", value })),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom<unknown>("", "has space", "x".repeat(65), 5, "_").map<ClientIdCase>((value) => ({
      kind: "bad",
      value,
    })),
  },
);

const unknownEvent = fc.oneof(
  fc.constantFrom(
    "delete_everything",
    "phx_reply",
    "phx_close",
    "phx_error",
    "presence_state",
    "heartbeat",
    "New_Post",
  ),
  fc
    .string({ minLength: 1, maxLength: 12 })
    .filter((event) => !["new_post", "typing", "phx_join", "phx_leave"].includes(event)),
);

/** Malformed frames with a string ref, one wrong field each (see {@link malformedFrame}). */
export const MALFORMED_VARIANTS = 9;

export function stepArbitrary(members: number): fc.Arbitrary<Step> {
  const action: fc.Arbitrary<Action> = fc.oneof(
    // First is what shrinking tends to: the most harmless frame.
    { weight: 6, arbitrary: fc.constant<Action>({ kind: "heartbeat" }) },
    { weight: 2, arbitrary: fc.constant<Action>({ kind: "constant heartbeat" }) },
    {
      weight: 16,
      arbitrary: fc
        .record({
          params: fc.oneof(
            fc.constant({}),
            fc.record({ mentions_only: fc.boolean() }),
            fc.record({ last_seen_id: fc.nat(5) }),
          ),
          joinRefNull: fc.boolean(),
        })
        .map<Action>(({ params, joinRefNull }) => ({ kind: "join", params, joinRefNull })),
    },
    {
      weight: 2,
      arbitrary: fc.constantFrom<Action>(
        { kind: "bad join", params: { mentions_only: "yes" }, errors: { mentions_only: "must be true or false" } },
        { kind: "bad join", params: { last_seen_id: -1 }, errors: { last_seen_id: "must be a non-negative integer" } },
        {
          kind: "bad join",
          params: { mentions_only: 1, last_seen_id: "7" },
          errors: { mentions_only: "must be true or false", last_seen_id: "must be a non-negative integer" },
        },
      ),
    },
    { weight: 1, arbitrary: fc.constant<Action>({ kind: "binary join" }) },
    { weight: 8, arbitrary: fc.boolean().map<Action>((joinRefNull) => ({ kind: "rejoin", joinRefNull })) },
    {
      weight: 10,
      arbitrary: fc
        .record({
          joinRef: joinRefChoice,
          target: fc.option(fc.nat(), { freq: 8 }),
          message: fc.constantFrom<MessageCase>("valid", "valid", "mention", "mention", "blank", "long", "number"),
          text,
          mention: fc.nat(),
          clientId,
          roll: fc.nat(9),
        })
        .map<Action>(({ roll, ...edit }) => ({ kind: "edit", ...edit, withRef: roll !== 0 })),
    },
    {
      weight: 5,
      arbitrary: fc
        .record({ joinRef: joinRefChoice, target: fc.option(fc.nat(), { freq: 8 }), roll: fc.nat(9) })
        .map<Action>(({ roll, ...deletion }) => ({ kind: "delete", ...deletion, withRef: roll !== 0 })),
    },
    {
      weight: 2,
      arbitrary: fc
        .record({
          event: fc.constantFrom<"edit_post" | "delete_post">("edit_post", "delete_post"),
          id: fc.constantFrom<unknown>(undefined, 0, -3, 1.5, "7", null, [1]),
        })
        .map<Action>((bad) => ({ kind: "bad change", ...bad })),
    },
    {
      weight: 2,
      arbitrary: fc
        .constantFrom("room:elsewhere", "phoenix", "room:")
        .map<Action>((topic) => ({ kind: "foreign join", topic })),
    },
    { weight: 4, arbitrary: joinRefChoice.map<Action>((joinRef) => ({ kind: "leave", joinRef })) },
    {
      weight: 30,
      arbitrary: fc
        .record({
          joinRef: joinRefChoice,
          message: fc.constantFrom<MessageCase>(
            "valid",
            "valid",
            "valid",
            "mention",
            "mention",
            "blank",
            "control",
            "surrogate",
            "long",
            "number",
          ),
          text,
          mention: fc.nat(),
          clientId,
          roll: fc.nat(9),
        })
        // One post in ten asks for no reply (ref null): it is handled all the same, and answered never.
        .map<Action>(({ roll, ...post }) => ({ kind: "post", ...post, withRef: roll !== 0 })),
    },
    {
      weight: 8,
      arbitrary: fc
        .record({ joinRef: joinRefChoice, roll: fc.nat(7) })
        .map<Action>(({ joinRef, roll }) => ({ kind: "typing", joinRef, withRef: roll !== 0 })),
    },
    {
      weight: 5,
      arbitrary: fc
        .record({ joinRef: joinRefChoice, event: unknownEvent })
        .map<Action>(({ joinRef, event }) => ({ kind: "unknown event", joinRef, event })),
    },
    {
      weight: 4,
      arbitrary: fc
        .record({
          topic: fc.constantFrom("room:elsewhere", "phoenix", "room:", "ROOM"),
          event: fc.constantFrom("new_post", "typing", "delete_everything"),
        })
        .map<Action>(({ topic, event }) => ({ kind: "foreign push", topic, event })),
    },
    {
      weight: 6,
      arbitrary: fc.nat(MALFORMED_VARIANTS - 1).map<Action>((variant) => ({ kind: "malformed", variant })),
    },
    { weight: 3, arbitrary: joinRefChoice.map<Action>((joinRef) => ({ kind: "binary post", joinRef })) },
    { weight: 1, arbitrary: joinRefChoice.map<Action>((joinRef) => ({ kind: "binary typing", joinRef })) },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom<FatalCase>(
          "not JSON",
          "not a 5-array",
          "no ref, bad types",
          "binary junk",
          "oversized",
          "join without ref",
        )
        .map<Action>((fatal) => ({ kind: "fatal", fatal })),
    },
  );
  return fc.record({ member: fc.nat(members - 1), action });
}

/** What a frame with a ref must be answered with: the reply's join_ref, topic, and a check of its payload. */
export interface Expectation {
  what: string;
  joinRef: JsonValue;
  topic: string;
  /** Undefined when the reply is right, otherwise what is wrong with it. */
  check(status: string, response: Record<string, unknown>): string | undefined;
}

export interface Outgoing {
  data: string | ArrayBuffer;
  ref: string | null;
  expectation?: Expectation;
  /** Set when the frame must close the socket (and nothing else). */
  close?: { code: number; reason: string };
  /** A successful post's client_id, so the fuzzer can check retries answer with the original post. */
  clientId?: string;
}

/**
 * What the run knows of the room when a step is played: the posts it has seen stored so far (from the
 * replies and broadcasts its sockets received), who owns the room, and the edits and deletions sent.
 */
export interface RoomKnowledge {
  /** The room's owner: the one member (user) who may delete anyone's post. */
  readonly ownerId: number;
  /** A post seen stored, picked by `target` (modulo how many there are); undefined when there is none. */
  post(target: number): { id: number; userId: number } | undefined;
  /** Notes a deletion of `id` sent by someone the room lets delete it. */
  deletionSent(id: number): void;
  /** Whether such a deletion was sent at any time in the run (checked once every answer is in). */
  mayBeDeleted(id: number): boolean;
  /** Notes an edit of `id` by `userId` with `clientId`; true when the same was sent before (a retry). */
  editSent(userId: number, id: number, clientId: string): boolean;
}

/** An id no post of a fuzz run ever has: the room never gave it out. */
export const UNKNOWN_POST_ID = 900_000;

/** The model of one socket: what the room must believe about it. */
export class SocketModel {
  joinRef: string | null = null;
  mentionsOnly = false;
  readonly pastJoinRefs: string[] = [];
  #refs = 0;

  constructor(
    readonly label: string,
    readonly topic: string,
    readonly userId: number,
  ) {}

  nextRef(): string {
    this.#refs += 1;
    return `${this.label}.${this.#refs}`;
  }

  /** Builds the frame for `action` and moves the model to the state the room must be in after it. */
  frameFor(action: Action, usernames: readonly string[], room?: RoomKnowledge): Outgoing {
    switch (action.kind) {
      case "rejoin":
        throw new Error("a rejoin is played by the run, as a join with the member's own last_seen_seq");
      case "edit":
      case "delete":
        if (!room) throw new Error("edits and deletions need the run's knowledge of the room");
        return action.kind === "edit" ? this.#edit(action, usernames, room) : this.#delete(action, room);
      case "bad change": {
        const ref = this.nextRef();
        const payload = action.event === "edit_post" ? { id: action.id, message: "x" } : { id: action.id };
        return {
          data: JSON.stringify([this.joinRef, ref, this.topic, action.event, payload]),
          ref,
          expectation: this.#routed(`bad change ${action.event}`, this.joinRef, () => [
            "error",
            { reason: "invalid", errors: { id: "must be a post id (a positive integer)" } },
          ]),
        };
      }
      case "heartbeat": {
        const ref = this.nextRef();
        return {
          data: JSON.stringify([null, ref, "phoenix", "heartbeat", {}]),
          ref,
          expectation: exactly("heartbeat", null, "phoenix", "ok", {}),
        };
      }
      case "constant heartbeat":
        // Answered by the runtime itself; counted separately, since its ref is always "hb".
        return { data: '[null,"hb","phoenix","heartbeat",{}]', ref: "hb" };
      case "join": {
        const ref = this.nextRef();
        this.#endJoin();
        this.joinRef = ref;
        this.mentionsOnly = action.params.mentions_only === true;
        const sentJoinRef = action.joinRefNull ? null : ref;
        return {
          data: JSON.stringify([sentJoinRef, ref, this.topic, "phx_join", action.params]),
          ref,
          expectation: {
            what: "join",
            joinRef: sentJoinRef,
            topic: this.topic,
            check: (status, response) =>
              status === "ok" &&
              Array.isArray(response.posts) &&
              typeof response.has_more === "boolean" &&
              typeof response.seq === "number" &&
              Array.isArray(response.changes)
                ? undefined
                : "a join answers ok {posts, has_more, seq, changes}",
          },
        };
      }
      case "bad join": {
        const ref = this.nextRef();
        this.#endJoin(); // a join ends the current one first, as in Phoenix, whatever becomes of the new one
        return {
          data: JSON.stringify([ref, ref, this.topic, "phx_join", action.params]),
          ref,
          expectation: exactly("bad join", ref, this.topic, "error", { reason: "invalid", errors: action.errors }),
        };
      }
      case "binary join": {
        const ref = this.nextRef();
        this.#endJoin();
        return {
          data: binaryPush(ref, ref, this.topic, "phx_join", new TextEncoder().encode("{}")),
          ref,
          expectation: exactly("binary join", ref, this.topic, "error", {
            reason: "invalid",
            errors: { params: "must be a JSON object, not binary" },
          }),
        };
      }
      case "foreign join": {
        const ref = this.nextRef();
        return {
          data: JSON.stringify([ref, ref, action.topic, "phx_join", {}]),
          ref,
          expectation: exactly("foreign join", null, action.topic, "error", { reason: "unmatched topic" }),
        };
      }
      case "leave": {
        const ref = this.nextRef();
        const sent = this.#joinRefFor(action.joinRef);
        if (this.joinRef !== null && (sent ?? this.joinRef) === this.joinRef) this.#endJoin();
        return {
          data: JSON.stringify([sent, ref, this.topic, "phx_leave", {}]),
          ref,
          expectation: exactly("leave", sent, this.topic, "ok", {}),
        };
      }
      case "post":
        return this.#post(action, usernames);
      case "typing": {
        const ref = action.withRef ? this.nextRef() : null;
        const sent = this.#joinRefFor(action.joinRef);
        return {
          data: JSON.stringify([sent, ref, this.topic, "typing", {}]),
          ref,
          expectation: this.#routed("typing", sent, () => ["ok", {}]),
        };
      }
      case "unknown event": {
        const ref = this.nextRef();
        const sent = this.#joinRefFor(action.joinRef);
        return {
          data: JSON.stringify([sent, ref, this.topic, action.event, {}]),
          ref,
          expectation: this.#routed(`unknown event ${action.event}`, sent, () => [
            "error",
            { reason: "unknown event", event: action.event },
          ]),
        };
      }
      case "foreign push": {
        const ref = this.nextRef();
        const topic = action.topic === "ROOM" ? this.topic.toUpperCase() : action.topic;
        return {
          data: JSON.stringify([this.joinRef, ref, topic, action.event, { message: "elsewhere" }]),
          ref,
          expectation: exactly("foreign push", null, topic, "error", { reason: "unmatched topic" }),
        };
      }
      case "malformed":
        return this.#malformed(action.variant);
      case "binary post": {
        const ref = this.nextRef();
        const sent = this.#joinRefFor(action.joinRef);
        const body = new TextEncoder().encode('{"message":"hi"}');
        return {
          data: binaryPush(sent ?? "", ref, this.topic, "new_post", body),
          ref,
          expectation: this.#routed("binary post", sent, () => [
            "error",
            { reason: "invalid", errors: { message: "must be text, not binary" } },
          ]),
        };
      }
      case "binary typing": {
        const ref = this.nextRef();
        const sent = this.#joinRefFor(action.joinRef);
        return {
          data: binaryPush(sent ?? "", ref, this.topic, "typing", new Uint8Array([1, 2])),
          ref,
          expectation: this.#routed("binary typing", sent, () => ["ok", {}]),
        };
      }
      case "fatal":
        return this.#fatal(action.fatal);
    }
  }

  #post(action: Extract<Action, { kind: "post" }>, usernames: readonly string[]): Outgoing {
    const ref = action.withRef ? this.nextRef() : null;
    const sent = this.#joinRefFor(action.joinRef);
    const mentioned = usernames[action.mention % usernames.length] ?? "nobody";
    const message = messageFor(action.message, action.text, mentioned);
    const payload: Record<string, unknown> = { message };
    if (action.clientId.kind !== "none") payload.client_id = action.clientId.value;
    const errors: Record<string, string> = {};
    const messageError = MESSAGE_ERRORS[action.message];
    if (messageError) errors.message = messageError;
    if (action.clientId.kind === "bad") errors.client_id = "must be 1 to 64 of A-Z, a-z, 0-9 and -";
    const userId = this.userId;
    const retried = action.clientId.kind === "good";
    return {
      data: JSON.stringify([sent, ref, this.topic, "new_post", payload]),
      ref,
      ...(action.clientId.kind === "good" ? { clientId: action.clientId.value } : {}),
      expectation: this.#routed(`post ${action.message}`, sent, () =>
        Object.keys(errors).length > 0
          ? ["error", { reason: "invalid", errors }]
          : postAnswer(message, userId, retried),
      ),
    };
  }

  #edit(action: Extract<Action, { kind: "edit" }>, usernames: readonly string[], room: RoomKnowledge): Outgoing {
    const ref = action.withRef ? this.nextRef() : null;
    const sent = this.#joinRefFor(action.joinRef);
    const target = action.target === null ? undefined : room.post(action.target);
    const id = target?.id ?? UNKNOWN_POST_ID;
    const mentioned = usernames[action.mention % usernames.length] ?? "nobody";
    const message = messageFor(action.message, action.text, mentioned);
    const payload: Record<string, unknown> = { id, message };
    if (action.clientId.kind !== "none") payload.client_id = action.clientId.value;
    const errors: Record<string, string> = {};
    const messageError = MESSAGE_ERRORS[action.message];
    if (messageError) errors.message = messageError;
    if (action.clientId.kind === "bad") errors.client_id = "must be 1 to 64 of A-Z, a-z, 0-9 and -";
    const valid = Object.keys(errors).length === 0;
    // Only an edit the room would take counts as sent: one it refuses leaves no key behind.
    const retried =
      valid && action.clientId.kind === "good" && this.joinRef !== null && (sent === null || sent === this.joinRef)
        ? room.editSent(this.userId, id, action.clientId.value)
        : false;
    const author = target?.userId === this.userId;
    return {
      data: JSON.stringify([sent, ref, this.topic, "edit_post", payload]),
      ref,
      expectation: this.#routed(`edit ${action.message}`, sent, () =>
        !valid ? ["error", { reason: "invalid", errors }] : changeAnswer("edit", id, author, message, retried, room),
      ),
    };
  }

  #delete(action: Extract<Action, { kind: "delete" }>, room: RoomKnowledge): Outgoing {
    const ref = action.withRef ? this.nextRef() : null;
    const sent = this.#joinRefFor(action.joinRef);
    const target = action.target === null ? undefined : room.post(action.target);
    const id = target?.id ?? UNKNOWN_POST_ID;
    const author = target?.userId === this.userId;
    const allowed = author || this.userId === room.ownerId;
    if (target && allowed && this.joinRef !== null && (sent === null || sent === this.joinRef)) room.deletionSent(id);
    return {
      data: JSON.stringify([sent, ref, this.topic, "delete_post", { id }]),
      ref,
      expectation: this.#routed("delete", sent, () =>
        changeAnswer("delete", id, author, undefined, false, room, allowed ? (author ? "author" : "moderator") : null),
      ),
    };
  }

  /** The answers to malformed frames: each has one wrong field, and a ref, so it is answerable. */
  #malformed(variant: number): Outgoing {
    const ref = this.nextRef();
    const topic = this.topic;
    const joinRef = this.joinRef;
    const cases: Array<[unknown[], JsonValue, string, string]> = [
      [[joinRef, ref, topic, 7, {}], joinRef, topic, "event must be a non-empty string"],
      [[joinRef, ref, topic, "", {}], joinRef, topic, "event must be a non-empty string"],
      [[joinRef, ref, "", "new_post", {}], joinRef, "", "topic must be a non-empty string"],
      [[joinRef, ref, 12, "new_post", {}], joinRef, "phoenix", "topic must be a non-empty string"],
      [[joinRef, ref, topic, "new_post", []], joinRef, topic, "payload must be a JSON object"],
      [[joinRef, ref, topic, "new_post", null], joinRef, topic, "payload must be a JSON object"],
      [[joinRef, ref, topic, "new_post", "message"], joinRef, topic, "payload must be a JSON object"],
      // A join_ref of any JSON type is read as it came, and echoed so in the reply.
      [[5, ref, topic, "new_post", []], 5, topic, "payload must be a JSON object"],
      [[{ ref: joinRef }, ref, topic, 7, {}], { ref: joinRef }, topic, "event must be a non-empty string"],
    ];
    const [frame, replyJoinRef, replyTopic, detail] = cases[variant % cases.length] as (typeof cases)[number];
    return {
      data: JSON.stringify(frame),
      ref,
      expectation: exactly(`malformed ${detail}`, replyJoinRef, replyTopic, "error", {
        reason: "malformed frame",
        detail,
      }),
    };
  }

  #fatal(fatal: FatalCase): Outgoing {
    this.#endJoin();
    switch (fatal) {
      case "not JSON":
        return { data: "[not json", ref: null, close: { code: 1007, reason: "frame is not valid JSON" } };
      case "not a 5-array":
        return {
          data: `["1","x","${this.topic}"]`,
          ref: null,
          close: { code: 1007, reason: "frame must be a JSON array [join_ref, ref, topic, event, payload]" },
        };
      case "no ref, bad types":
        return {
          data: JSON.stringify([null, null, this.topic, 1, 2]),
          ref: null,
          close: { code: 1007, reason: "event must be a non-empty string" },
        };
      case "binary junk":
        return {
          data: new Uint8Array([2, 0, 0, 0, 0]).buffer,
          ref: null,
          close: { code: 1007, reason: "binary frames must be Phoenix V2 binary pushes (kind 0)" },
        };
      case "oversized":
        return {
          data: JSON.stringify([null, "big", this.topic, "new_post", { message: "x".repeat(64 * 1024) }]),
          ref: null, // it has one, but a frame this big is never read
          close: { code: 1009, reason: "frame exceeds 65536 bytes" },
        };
      case "join without ref":
        return {
          data: JSON.stringify([null, null, this.topic, "phx_join", {}]),
          ref: null,
          close: { code: 1007, reason: "phx_join must carry a join_ref or ref" },
        };
    }
  }

  /** A push to this room's topic: unmatched unless joined, stale under another join's ref, else `answer`. */
  #routed(
    what: string,
    sent: string | null,
    answer: () => [string, Record<string, unknown>] | Expectation["check"],
  ): Expectation {
    if (this.joinRef === null) return exactly(what, null, this.topic, "error", { reason: "unmatched topic" });
    if (sent !== null && sent !== this.joinRef) {
      return exactly(what, sent, this.topic, "error", { reason: "stale join_ref" });
    }
    const expected = answer();
    if (typeof expected === "function") return { what, joinRef: sent, topic: this.topic, check: expected };
    return exactly(what, sent, this.topic, expected[0], expected[1]);
  }

  #joinRefFor(choice: JoinRefChoice): string | null {
    switch (choice) {
      case "current":
        return this.joinRef;
      case "none":
        return null;
      case "stale":
        return this.pastJoinRefs.at(-1) ?? `${this.label}.never`;
    }
  }

  #endJoin(): void {
    if (this.joinRef !== null) this.pastJoinRefs.push(this.joinRef);
    this.joinRef = null;
    this.mentionsOnly = false;
  }
}

const MESSAGE_ERRORS: Record<MessageCase, string | undefined> = {
  valid: undefined,
  mention: undefined,
  blank: "can't be blank",
  control: "must not contain control characters or unpaired surrogates",
  surrogate: "must not contain control characters or unpaired surrogates",
  long: "is too long (2001 characters, at most 2000)",
  number: "must be a string",
};

function messageFor(kind: MessageCase, text: string, mentioned: string): unknown {
  switch (kind) {
    case "valid":
      return text;
    case "mention":
      return `${text} @${mentioned} hi`;
    case "blank":
      return text.length % 2 === 0 ? "" : " \n\t ";
    case "control":
      return `${text}\u0007`;
    case "surrogate":
      return `${text}\ud800`;
    case "long":
      return "x".repeat(2001);
    case "number":
      return 42;
  }
}

/**
 * A valid post is stored (ok, the post exactly as sent, by this user), refused for the rate limit, or
 * (only under load) unavailable. A retried client_id answers with the original post, whose text may be
 * another one's.
 */
function postAnswer(message: unknown, userId: number, retried: boolean): Expectation["check"] {
  return (status, response) => {
    if (status === "ok") {
      const user = response.user as { id?: unknown } | undefined;
      if (typeof response.id !== "number" || user?.id !== userId) return "ok must carry the post, by its author";
      if (!retried && response.message !== message) return "ok must carry the message exactly as sent";
      return undefined;
    }
    if (response.reason === "rate_limited") {
      const wait = response.retry_after_ms;
      const keys = Object.keys(response).sort().join();
      return typeof wait === "number" && wait > 0 && keys === "reason,retry_after_ms"
        ? undefined
        : "rate_limited must say retry_after_ms and nothing else";
    }
    if (response.reason === "unavailable" && Object.keys(response).length === 1) return undefined;
    return `a valid post answers ok, rate_limited or unavailable, not ${JSON.stringify(response)}`;
  };
}

/**
 * An edit or deletion of post `id` (UNKNOWN_POST_ID: none): ok with the changed post (the author's edit;
 * a deletion by its author or the owner, `deletedBy`), `forbidden` (anyone else), `not found` (an unknown
 * id, or a post a deletion was sent of, which may have landed first), and for an edit `rate_limited`
 * (edits spend the post bucket); `unavailable` when D1 was slower than the pool's timeout. A retried edit
 * is answered with the post as it now is, whatever its text.
 */
function changeAnswer(
  kind: "edit" | "delete",
  id: number,
  author: boolean,
  message: unknown,
  retried: boolean,
  room: RoomKnowledge,
  deletedBy?: "author" | "moderator" | null,
): Expectation["check"] {
  return (status, response) => {
    const gone = id === UNKNOWN_POST_ID || room.mayBeDeleted(id);
    if (status === "ok") {
      if (typeof response.seq !== "number" || response.id !== id)
        return "ok must carry the post's id and the change's seq";
      if (kind === "edit") {
        if (!author && !retried) return "only the author may edit a post";
        if (!retried && (response.message !== message || typeof response.edited_at !== "string"))
          return "an edit's ok is the post with the text as sent and edited_at";
        return undefined;
      }
      if (!deletedBy || response.deleted_by !== deletedBy || typeof response.deleted_at !== "string")
        return `a deletion's ok says who deleted it (${deletedBy})`;
      return undefined;
    }
    const reason = response.reason;
    if (reason === "not found" && gone) return undefined;
    if (reason === "forbidden" && id !== UNKNOWN_POST_ID && (kind === "edit" ? !author : !deletedBy)) return undefined;
    if (reason === "rate_limited" && kind === "edit" && typeof response.retry_after_ms === "number") return undefined;
    if (reason === "unavailable" && (kind === "edit" ? author : !!deletedBy)) return undefined;
    return `not an answer this ${kind} may get: ${JSON.stringify(response)}`;
  };
}

function exactly(
  what: string,
  joinRef: JsonValue,
  topic: string,
  status: string,
  response: Record<string, unknown>,
): Expectation {
  const want = JSON.stringify({ status, response });
  return {
    what,
    joinRef,
    topic,
    check: (gotStatus, gotResponse) => {
      const got = JSON.stringify({ status: gotStatus, response: sortKeys(gotResponse) });
      return got === JSON.stringify({ status, response: sortKeys(response) }) ? undefined : `expected ${want}`;
    },
  };
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([key, inner]) => [key, sortKeys(inner)]),
  );
}
