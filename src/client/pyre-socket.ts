/**
 * The official phoenix `Socket` with one change: every heartbeat is the constant frame `HEARTBEAT_FRAME`
 * (ref "hb"), which each room registers with `setWebSocketAutoResponse`, so the runtime answers it without
 * waking the room and an idle member costs the room nothing. Everything else, including the heartbeat
 * timeout that closes a dead connection and the reconnect after it, is phoenix's own code.
 *
 * Free of the DOM, so the e2e tests run this very class from Node against `wrangler dev`.
 */
import { Socket } from "phoenix";
import { HEARTBEAT_REF } from "../shared/heartbeat";

// The parts of phoenix's socket.js (1.8) that the override touches, which @types/phoenix leaves out:
// `sendHeartbeat` sets `pendingHeartbeatRef` and pushes; `onConnMessage` clears the heartbeat timeout when
// a reply with `ref === pendingHeartbeatRef` arrives; `heartbeatTimeout` closes and reconnects otherwise.
declare module "phoenix" {
  interface Socket {
    pendingHeartbeatRef: string | null;
    heartbeatTimeoutTimer: ReturnType<typeof setTimeout> | null;
    heartbeatIntervalMs: number;
    sendHeartbeat(): void;
    heartbeatTimeout(): void;
  }
}

export class PyreSocket extends Socket {
  /** phoenix's `sendHeartbeat`, with the constant ref instead of a fresh one each time. */
  override sendHeartbeat(): void {
    if (this.pendingHeartbeatRef && !this.isConnected()) return;
    this.pendingHeartbeatRef = HEARTBEAT_REF;
    // The V2 serializer encodes this as [join_ref, ref, topic, event, payload]: exactly HEARTBEAT_FRAME.
    this.push({ join_ref: null, ref: HEARTBEAT_REF, topic: "phoenix", event: "heartbeat", payload: {} });
    this.heartbeatTimeoutTimer = setTimeout(() => this.heartbeatTimeout(), this.heartbeatIntervalMs);
  }
}
