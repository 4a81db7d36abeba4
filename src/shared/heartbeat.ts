/**
 * pyre's own client sends every heartbeat as this one constant frame, and each room registers it with
 * `setWebSocketAutoResponse`: the runtime answers it without waking the room, so an idle member costs the
 * room nothing. The reply is exactly what the room itself would answer (a `phx_reply` ok echoing the ref),
 * so the official client, whose refs change with every heartbeat, still gets the same answer from the room.
 */
export const HEARTBEAT_REF = "hb";

export const HEARTBEAT_FRAME = `[null,"${HEARTBEAT_REF}","phoenix","heartbeat",{}]`;

export const HEARTBEAT_REPLY = `[null,"${HEARTBEAT_REF}","phoenix","phx_reply",{"status":"ok","response":{}}]`;
