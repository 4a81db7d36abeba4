/**
 * A raw Phoenix LongPoll client for tests, over real HTTP to the real worker and SocketSession: it makes
 * the requests phoenix.js's `LongPoll` makes (GET to poll, POST of ndjson to send), and lets a test make
 * ones the official client never would. It speaks V2 by default, V1 when asked (`vsn`): then a POST of one
 * frame is that frame's JSON alone, as V1 clients send it.
 */
import { exports } from "cloudflare:workers";
import type { Ref } from "../../src/realtime/phoenix/protocol";
import { encodeClientFrame, type Frame, readServerFrame, TEST_HOST, type Vsn } from "./socket";

export interface LongPollAnswer {
  status: number;
  token?: string;
  messages?: string[];
  error?: string;
}

export interface Credentials {
  /** The socket token, as `params.token` (query) or as `X-Phoenix-AuthToken` (authToken). */
  token?: string;
  viaHeader?: boolean;
  /** Send the session token as `X-Phoenix-Longpoll-Token` instead of a `token` param. */
  sessionViaHeader?: boolean;
  origin?: string;
  /** The `vsn` param of every request: 2.0.0 unless given; null leaves it out (V1, as Phoenix). */
  vsn?: string | null;
}

export interface RawAnswer {
  httpStatus: number;
  headers: Headers;
  body: LongPollAnswer;
}

export class LongPollClient {
  /** The session token, once a GET has opened a session. */
  session: string | undefined;
  readonly frames: Frame[] = [];
  /** The serializer the session speaks, as the `vsn` chose. */
  readonly vsn: Vsn;
  #ref = 0;

  constructor(readonly credentials: Credentials = {}) {
    const vsn = credentials.vsn === undefined ? "2.0.0" : credentials.vsn;
    this.vsn = vsn === null || vsn.startsWith("1.") ? "1.0.0" : "2.0.0";
  }

  /** One request as phoenix.js builds it: the socket's params, vsn, then the session token. */
  async request(
    method: "GET" | "POST",
    body?: string | ReadableStream<Uint8Array>,
    extra: Record<string, string> = {},
  ): Promise<RawAnswer> {
    const url = new URL("/socket/longpoll", TEST_HOST);
    const headers: Record<string, string> = { Accept: "application/json", ...extra };
    const { token, viaHeader, sessionViaHeader, origin } = this.credentials;
    if (token !== undefined && !viaHeader) url.searchParams.append("token", token);
    if (token !== undefined && viaHeader) headers["X-Phoenix-AuthToken"] = token;
    const { vsn } = this.credentials;
    if (vsn !== null) url.searchParams.append("vsn", vsn ?? "2.0.0");
    if (this.session !== undefined && sessionViaHeader) headers["X-Phoenix-Longpoll-Token"] = this.session;
    if (this.session !== undefined && !sessionViaHeader) url.searchParams.append("token", this.session);
    if (origin !== undefined) headers.Origin = origin;
    if (method === "POST") headers["Content-Type"] ??= "application/x-ndjson";
    const response = await exports.default.fetch(url, { method, headers, body });
    return { httpStatus: response.status, headers: response.headers, body: (await response.json()) as LongPollAnswer };
  }

  /** A GET: opens the session (410 + token) or polls it; collects the frames it brings. */
  async poll(): Promise<LongPollAnswer> {
    const { body } = await this.request("GET");
    if (body.token !== undefined) this.session = body.token;
    for (const message of body.messages ?? []) {
      const frame = readServerFrame(message, this.vsn);
      if (!frame) throw new Error(`not a ${this.vsn} frame: ${message}`);
      this.frames.push(frame);
    }
    return body;
  }

  /** One POST: ndjson lines in V2; in V1 one frame's JSON alone (several: ndjson, which pyre also takes). */
  async send(frames: Array<Frame | string>): Promise<LongPollAnswer> {
    const lines = frames.map((frame) => (typeof frame === "string" ? frame : encodeClientFrame(frame, this.vsn)));
    const contentType = this.vsn === "1.0.0" && lines.length === 1 ? "application/json" : "application/x-ndjson";
    return (await this.request("POST", lines.join("\n"), { "Content-Type": contentType })).body;
  }

  nextRef(): string {
    this.#ref += 1;
    return String(this.#ref);
  }

  /** Polls until a frame matches (phoenix.js polls back to back the same way). */
  async waitFor(match: (frame: Frame) => boolean, timeoutMs = 5_000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.find(match);
      if (found) return found;
      if (Date.now() > deadline)
        throw new Error(`no matching frame in ${timeoutMs} ms; got ${JSON.stringify(this.frames)}`);
      const answer = await this.poll();
      if (answer.status !== 200 && answer.status !== 204) throw new Error(`poll answered ${JSON.stringify(answer)}`);
    }
  }

  async push(topic: string, event: string, payload: Record<string, unknown> = {}, joinRef: Ref = null) {
    const ref = this.nextRef();
    const sent = await this.send([[joinRef, ref, topic, event, payload]]);
    if (sent.status !== 200) throw new Error(`POST answered ${JSON.stringify(sent)}`);
    const frame = await this.waitFor((f) => f[1] === ref && f[3] === "phx_reply");
    return { ...(frame[4] as { status: string; response: Record<string, unknown> }), frame };
  }

  /** Joins with join_ref == ref as phoenix.js does; in V1 with a ref alone, as V1 clients do. */
  async join(room: string, params: Record<string, unknown> = {}) {
    const ref = this.nextRef();
    const sent = await this.send([[this.vsn === "1.0.0" ? null : ref, ref, `room:${room}`, "phx_join", params]]);
    if (sent.status !== 200) throw new Error(`POST answered ${JSON.stringify(sent)}`);
    const frame = await this.waitFor((f) => f[1] === ref && f[3] === "phx_reply");
    return { ...(frame[4] as { status: string; response: Record<string, unknown> }), joinRef: ref, frame };
  }
}
