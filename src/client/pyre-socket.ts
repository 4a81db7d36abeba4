/**
 * The official phoenix `Socket` with one change: every heartbeat is the constant frame `HEARTBEAT_FRAME`,
 * which the runtime answers without waking the room (src/client/README.md). Everything else, heartbeat
 * timeout and reconnect included, is phoenix's own. Free of the DOM: the e2e tests run it from Node.
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
